"""Per-engine cycle and resource estimators, in the manner of FINN.

Every engine answers `cycles(...)`, `dsp()`, `bram()`, `uram()` and `lut()`. The unit of
hardware is the PE group: Bo PEs with m MACs each (the HP sparse matmul engine), plus the
extras that let the same group run attention (a 4-bit pre-pass array of Bi LUT products,
a top-k insertion sorter) and a Bo-lane vector unit (LayerNorm, i-GELU, i-exp). Resource
constants are analytical guesses, not calibrated against synthesis; the cycle formulas
follow the microarchitecture in DESIGN.md and are checked against RTL simulation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hw.config import DesignConfig
from sim.golden.sparse_attention import topk_count
from sim.rtl.cycles import ISSUE_TO_OUTPUT

# Xilinx WP486/WP487: a DSP48E2 does two int8 MACs per cycle when the products share an
# operand (the broadcast activation), see ../shared/research/boards.md.
MACS_PER_DSP_INT8 = 2
BRAM36_BYTES = 36 * 1024 // 8
URAM_BYTES = 288 * 1024 // 8
INT8_BITS = 8

# HP sparse matmul engine: the RTL's pipeline depth from the last issued step to its
# block-row's first output beat (one place: sim/rtl/cycles.py, derived in docs/rtl.md).
SPMM_ISSUE_TO_OUTPUT = ISSUE_TO_OUTPUT
# Attention on a PE group: pre-pass lanes are Bi 4-bit LUT products per cycle.
ATTN_PIPE_FILL = 8
EXACT_MATMULS = 2  # exact scores Q K^T and the weighted sum P V, over k keys each
# Vector unit (Bo lanes): LayerNorm makes two passes (statistics, then normalise).
LN_PASSES = 2
VECTOR_PIPE_FILL = 6
GELU_PIPE_FILL = 6  # i-GELU is fused on the FFN1 output stream; only its depth shows

# LUT costs (analytical). A LUT6 holds a 4:1 mux of one bit.
MUX_INPUTS_PER_LUT = 4
LUT_PER_MAC_ADD = 20  # accumulate a product into an int32 accumulator
LUT_PER_4BIT_PRODUCT = 16  # one entry of the 256-entry 4x4-bit product table
LUT_PER_TOPK_ENTRY = 40  # score compare + shift of one sorter slot
LUT_PER_VECTOR_LANE = 150  # i-exp / i-GELU polynomial and LayerNorm datapath glue
LUT_GROUP_CONTROL = 1500  # FSMs, AXI-Stream handshakes, address counters
DSP_PER_VECTOR_LANE = 1  # polynomial and variance multiplies


def tiles(length: int, tile_tokens: int) -> np.ndarray:
    """Token counts of the tiles of a sequence: full tiles of T, the last one partial."""
    if length < 1:
        raise ValueError(f"length: must be >= 1, got {length}")
    full, rest = divmod(length, tile_tokens)
    return np.array([tile_tokens] * full + ([rest] if rest else []), dtype=np.int64)


def split_cycles(item_cycles: np.ndarray, groups: int) -> int:
    """Cycles of the busiest group when work items are dealt round-robin to `groups` groups.

    Round-robin is what a static hardware assignment does (item i to group i mod g).
    """
    if groups < 1:
        raise ValueError(f"groups: must be >= 1, got {groups}")
    flat = np.asarray(item_cycles, dtype=np.int64).ravel()
    if flat.size == 0:
        return 0
    return int(np.bincount(np.arange(flat.size) % groups, weights=flat,
                           minlength=groups).max())


def spmm_run_cycles(length: int, steps: int, n_block_cols: int, tile_tokens: int) -> int:
    """Cycles of one HP matmul engine run, first activation beat to last output beat.

    `steps` = sum over its block-rows of max(kept blocks, 1) (an empty block-row costs one
    null block). Tile 0 loads (nbc * T_0 beats); then tile k computes T_k * steps cycles
    while tile k+1 loads (ping-pong), so each tile costs the longer of the two; the tail
    is the pipeline depth plus one output beat per token of the last tile. A closed form:
    it leaves out the rare drain stall of a short last tile (sim/rtl/cycles.py has it).
    """
    t = tiles(length, tile_tokens)
    compute = t * steps
    load_next = np.append(t[1:] * n_block_cols, 0)
    body = int(np.maximum(compute, load_next).sum())
    return int(t[0]) * n_block_cols + body - 1 + SPMM_ISSUE_TO_OUTPUT + int(t[-1])


@dataclass(frozen=True)
class SpmmEngine:
    """The HP sparse matmul engine (one PE group): one (kept block, token) step per cycle.

    Bi activations are broadcast to Bo PEs; PE p reads m values and m in-block indices
    from its own bank; block-rows run one after another, tile by tile. On g groups the
    block-rows are dealt round-robin (row r to group r mod g), each group holding its
    rows' weights and receiving the same broadcast activation tiles.
    `row_nnzb[r]` is the number of kept blocks in block-row r.
    """

    cfg: DesignConfig
    row_nnzb: tuple[int, ...]
    in_features: int

    @property
    def n_block_cols(self) -> int:
        return self.in_features // self.cfg.bi

    def group_steps(self, groups: int) -> np.ndarray:
        """Steps per token of each group that holds at least one block-row."""
        if groups < 1:
            raise ValueError(f"groups: must be >= 1, got {groups}")
        steps = np.maximum(np.asarray(self.row_nnzb, dtype=np.int64), 1)
        per = np.bincount(np.arange(steps.size) % groups, weights=steps, minlength=groups)
        return per[per > 0].astype(np.int64)

    def cycles(self, length: int, groups: int = 1) -> int:
        """Cycles for a sequence of `length` tokens on `groups` PE groups (the slowest)."""
        busiest = int(self.group_steps(groups).max())
        return spmm_run_cycles(length, busiest, self.n_block_cols, self.cfg.tile_tokens)

    def macs(self, length: int) -> int:
        """Useful multiply-accumulates: every stored weight times every token."""
        return int(sum(self.row_nnzb)) * self.cfg.bo * self.cfg.m * length

    def dsp(self) -> int:
        return math.ceil(self.cfg.bo * self.cfg.m / MACS_PER_DSP_INT8)

    def lut(self) -> int:
        mux = self.cfg.m * INT8_BITS * math.ceil(self.cfg.bi / MUX_INPUTS_PER_LUT)
        return self.cfg.bo * (mux + self.cfg.m * LUT_PER_MAC_ADD)

    def bram(self) -> int:
        """The ping-pong activation tile: 2 x T tokens x the widest input, Bi bytes a word."""
        widest = max(self.cfg.model.hidden, self.cfg.model.ffn)
        return math.ceil(2 * self.cfg.tile_tokens * widest / BRAM36_BYTES)

    def uram(self) -> int:
        return 0  # weights live in the model-level weight store (see hw.perf.model)


@dataclass(frozen=True)
class AttentionEngine:
    """Top-k sparse attention on one PE group, one query at a time.

    Per query: the 4-bit pre-pass scores all L keys (d products each, Bi per cycle),
    the sorter keeps k (it takes one candidate per cycle, hidden behind the pre-pass),
    exact int8 scores and the weighted sum of V cost k*d MACs each on the Bo*m MAC array,
    and i-exp over the k scores runs on the Bo vector lanes.
    """

    cfg: DesignConfig

    def query_cycles(self, length: int) -> int:
        c, d = self.cfg, self.cfg.model.head_dim
        k = topk_count(length, c.attn_k)
        prepass = math.ceil(length * d / c.bi)
        exact = EXACT_MATMULS * math.ceil(k * d / (c.bo * c.m))
        softmax = math.ceil(k / c.bo)
        return prepass + exact + softmax

    def cycles(self, length: int, groups: int = 1) -> int:
        """Cycles for all heads of one layer on `groups` PE groups (queries dealt out)."""
        queries = np.full(self.cfg.model.heads * length, self.query_cycles(length))
        return split_cycles(queries, groups) + ATTN_PIPE_FILL

    def macs(self, length: int) -> int:
        """Exact-part MACs, as algo.attention.cost counts them (not imported: it pulls torch)."""
        d = self.cfg.model
        return EXACT_MATMULS * d.heads * length * topk_count(length, self.cfg.attn_k) * d.head_dim

    def dsp(self) -> int:
        return 0  # exact products reuse the group's MAC array

    def lut(self) -> int:
        return self.cfg.bi * LUT_PER_4BIT_PRODUCT + self.cfg.attn_k * LUT_PER_TOPK_ENTRY

    def bram(self) -> int:
        return 0

    def uram(self) -> int:
        return 0


@dataclass(frozen=True)
class LayerNormEngine:
    """Integer LayerNorm on the Bo vector lanes: two passes over each token's features."""

    cfg: DesignConfig

    def cycles(self, length: int, groups: int = 1) -> int:
        per_token = LN_PASSES * math.ceil(self.cfg.model.hidden / self.cfg.bo)
        return split_cycles(np.full(length, per_token), groups) + VECTOR_PIPE_FILL

    def dsp(self) -> int:
        return self.cfg.bo * DSP_PER_VECTOR_LANE

    def lut(self) -> int:
        return self.cfg.bo * LUT_PER_VECTOR_LANE

    def bram(self) -> int:
        return 0

    def uram(self) -> int:
        return 0


@dataclass(frozen=True)
class GeluEngine:
    """i-GELU fused on the FFN1 output stream: it shares the vector lanes of LayerNorm."""

    cfg: DesignConfig

    def cycles(self, length: int, groups: int = 1) -> int:
        return GELU_PIPE_FILL

    def dsp(self) -> int:
        return 0

    def lut(self) -> int:
        return 0

    def bram(self) -> int:
        return 0

    def uram(self) -> int:
        return 0


@dataclass(frozen=True)
class GroupResources:
    """What one PE group costs: the sum of its engines."""

    dsp: int
    lut: int
    bram: int
    uram: int


def group_resources(cfg: DesignConfig) -> GroupResources:
    """Resources of one PE group (spmm MAC array + attention extras + vector lanes)."""
    engines = (SpmmEngine(cfg, (), cfg.model.hidden), AttentionEngine(cfg),
               LayerNormEngine(cfg), GeluEngine(cfg))
    return GroupResources(
        dsp=sum(e.dsp() for e in engines), lut=sum(e.lut() for e in engines) + LUT_GROUP_CONTROL,
        bram=sum(e.bram() for e in engines), uram=sum(e.uram() for e in engines))
