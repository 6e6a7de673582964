"""Per-engine cycle and resource estimators, in the manner of FINN.

Every engine answers `cycles(...)`, `dsp()`, `bram()`, `uram()` and `lut()`. A design has
G PE groups and A = attn_heads_parallel attention engines. A PE group is one HP sparse
matmul engine (hw/rtl/hp_spmm.sv: Bo PEs with m MACs each) plus a Bo-lane vector unit
(LayerNorm, i-GELU); an attention engine is hw/rtl/sparse_attention.sv (one head per run,
head_dim lanes). The cycle formulas follow the RTL and are checked against its simulation.
Resources of the two RTL engines come from the fit to Yosys synthesis
(`hw.perf.synth_model`, data in `hw/perf/synth_calibration.json`); `resource_source()`
says which figure is Yosys-calibrated and which is still an analytical guess (the vector
lanes, and every engine when the calibration data is absent).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from hw.config import DesignConfig
from sim.golden.nonlinear import SOFTMAX_RECIP_BITS
from sim.golden.sparse_attention import topk_count
from sim.rtl.cycles import ISSUE_TO_OUTPUT, attention_cycles, tile_sizes

# Xilinx WP486/WP487: a DSP48E2 can do two int8 MACs per cycle when the products share an
# operand (see ../shared/research/boards.md): the board's int8 peak. The RTL has no such
# packing (Yosys maps each int8 product of hp_spmm_pe.sv to its own DSP48E2), so the
# engines' analytical fallback counts one MAC per DSP.
MACS_PER_DSP_INT8 = 2
RTL_MACS_PER_DSP = 1
REQUANT_DSP_PER_LANE = 2  # requant.sv: two 16x15 products per lane
CALIBRATED = "yosys-calibrated"
ANALYTICAL = "analytical"
BRAM36_BYTES = 36 * 1024 // 8
URAM_BYTES = 288 * 1024 // 8
INT8_BITS = 8

# The RTL's pipeline constants (ISSUE_TO_OUTPUT of the HP matmul; the attention engine's
# per-query fixed states) and the tiling come from sim/rtl/cycles.py, derived in
# docs/rtl.md: one place for what the RTL does.
EXACT_MATMULS = 2  # exact scores Q K^T and the weighted sum P V, over k keys each
ATTN_PER_KEY_STATES = 3  # EXACT, EXP and PV each take one cycle per kept key
# Vector unit (Bo lanes): LayerNorm makes two passes (statistics, then normalise).
LN_PASSES = 2
VECTOR_PIPE_FILL = 6
GELU_PIPE_FILL = 6  # i-GELU is fused on the FFN1 output stream; only its depth shows

# LUT costs (analytical). A LUT6 holds a 4:1 mux of one bit.
MUX_INPUTS_PER_LUT = 4
LUT_PER_MAC_ADD = 20  # accumulate a product into an int32 accumulator
LUT_PER_4BIT_PRODUCT = 16  # one read port of the 256-entry 4x4-bit product table
LUT_PER_TOPK_ENTRY = 40  # score compare + shift of one insertion-network slot
LUT_PER_RECIP_BIT = 3  # one restoring-division step of the softmax reciprocal
LUT_ATTN_CONTROL = 2000  # state machine, i-exp, requantization lanes
LUT_PER_VECTOR_LANE = 150  # i-exp / i-GELU polynomial and LayerNorm datapath glue
LUT_GROUP_CONTROL = 1500  # FSMs, AXI-Stream handshakes, address counters
DSP_PER_VECTOR_LANE = 1  # polynomial and variance multiplies


def tiles(length: int, tile_tokens: int) -> np.ndarray:
    """Token counts of the tiles of a sequence: full tiles of T, the last one partial."""
    if length < 1:
        raise ValueError(f"length: must be >= 1, got {length}")
    return np.asarray(tile_sizes(length, tile_tokens), dtype=np.int64)


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


def spmm_run_cycles(length: int, steps: int, n_block_cols: int, tile_tokens: int,
                    first_row_steps: int | None = None) -> int:
    """Cycles of one HP matmul engine run, first activation beat to last output beat.

    `steps` = sum over its block-rows of max(kept blocks, 1) (an empty block-row costs one
    null block). Tile 0 loads (nbc * T_0 beats); then tile k computes T_k * steps cycles
    while tile k+1 loads (ping-pong), so each tile costs the longer of the two; a short
    last tile stalls until the previous block-row has drained (T cycles, one output beat a
    token) if its first block-row (`first_row_steps`) finishes sooner; the tail is the
    pipeline depth plus one output beat per token of the last tile. A closed form: where
    loads are the bottleneck it is approximate (sim/rtl/cycles.py is exact).
    """
    t = tiles(length, tile_tokens)
    compute = t * steps
    load_next = np.append(t[1:] * n_block_cols, 0)
    body = int(np.maximum(compute, load_next).sum())
    stall = 0
    if t.size > 1:
        first = steps if first_row_steps is None else first_row_steps
        waited = max(0, int(load_next[-2] - compute[-2]))  # the drain ran while it loaded
        stall = max(0, int(t[-2]) - int(t[-1]) * first - waited)
    return int(t[0]) * n_block_cols + body + stall - 1 + ISSUE_TO_OUTPUT + int(t[-1])


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
        """Cycles for a sequence of `length` tokens on `groups` PE groups (the slowest).

        Group j's first block-row is row j (round-robin), which sets its drain stall.
        """
        per = self.group_steps(groups)
        first = np.maximum(np.asarray(self.row_nnzb[: per.size], dtype=np.int64), 1)
        return max(spmm_run_cycles(length, int(s), self.n_block_cols, self.cfg.tile_tokens,
                                   int(f)) for s, f in set(zip(per, first, strict=True)))

    def macs(self, length: int) -> int:
        """Useful multiply-accumulates: every stored weight times every token."""
        return int(sum(self.row_nnzb)) * self.cfg.bo * self.cfg.m * length

    def calibrated(self) -> dict[str, float] | None:
        """The Yosys fit at this config's hp_spmm parameters (None without its data)."""
        from hw.perf.synth_model import calibrated
        from sim.rtl.spmm_case import SpmmParams

        return calibrated("spmm", SpmmParams.from_config(self.cfg).hdl_parameters())

    def resource_source(self) -> str:
        return CALIBRATED if self.calibrated() else ANALYTICAL

    def dsp(self) -> int:
        fit = self.calibrated()
        if fit:
            return math.ceil(fit["dsp"])
        return (math.ceil(self.cfg.bo * self.cfg.m / RTL_MACS_PER_DSP)
                + self.cfg.bo * REQUANT_DSP_PER_LANE)

    def lut(self) -> int:
        fit = self.calibrated()
        if fit:
            return math.ceil(fit["lut"])
        mux = self.cfg.m * INT8_BITS * math.ceil(self.cfg.bi / MUX_INPUTS_PER_LUT)
        return self.cfg.bo * (mux + self.cfg.m * LUT_PER_MAC_ADD)

    def ff(self) -> int:
        fit = self.calibrated()
        return math.ceil(fit["ff"]) if fit else 0

    def bram(self) -> int:
        """The engine's weight, row and ping-pong activation memories (hp_spmm.sv holds a
        layer's weights itself: MAX_NNZB kept blocks)."""
        fit = self.calibrated()
        if fit:
            return math.ceil(fit["bram"])
        widest = max(self.cfg.model.hidden, self.cfg.model.ffn)
        return math.ceil(2 * self.cfg.tile_tokens * widest / BRAM36_BYTES)

    def uram(self) -> int:
        fit = self.calibrated()
        return math.ceil(fit["uram"]) if fit else 0


@dataclass(frozen=True)
class AttentionEngine:
    """The top-k sparse attention engine (hw/rtl/sparse_attention.sv): one head per run.

    K and V load in L cycles (side by side); then per query: accept Q, estimate every key
    with head_dim 4-bit products (one key per cycle, an insertion network keeps the top
    k), and the exact part in five stages that each work on their own query (k scores,
    k i-exps, the reciprocal, k V rows, requantize and send). Heads are dealt to the A
    engines of a design round-robin.
    """

    cfg: DesignConfig

    def kept(self, length: int) -> int:
        return topk_count(length, self.cfg.attn_k)

    def head_cycles(self, length: int) -> int:
        """One run: load K and V, then every query, max(estimate, longest exact stage)."""
        return attention_cycles(length, self.cfg.attn_k, self.cfg.model.head_dim)

    def cycles(self, length: int, engines: int | None = None) -> int:
        """All heads of one layer on `engines` engines (default: the config's A)."""
        engines = engines or self.cfg.attn_heads_parallel
        return math.ceil(self.cfg.model.heads / engines) * self.head_cycles(length)

    def macs(self, length: int) -> int:
        """Exact-part MACs, as algo.attention.cost counts them (not imported: it pulls torch)."""
        d = self.cfg.model
        return EXACT_MATMULS * d.heads * length * self.kept(length) * d.head_dim

    def calibrated(self) -> dict[str, float] | None:
        """The Yosys fit at this config's sparse_attention parameters (None without data)."""
        from hw.perf.synth_model import calibrated
        from sim.rtl.attention_case import AttentionParams

        return calibrated("attention", AttentionParams.from_config(self.cfg).hdl_parameters())

    def resource_source(self) -> str:
        return CALIBRATED if self.calibrated() else ANALYTICAL

    def dsp(self) -> int:
        """Analytical fallback: one DSP per q.k lane and per p x V lane (no packing)."""
        fit = self.calibrated()
        if fit:
            return math.ceil(fit["dsp"])
        return 2 * self.cfg.model.head_dim // RTL_MACS_PER_DSP

    def lut(self) -> int:
        fit = self.calibrated()
        if fit:
            return math.ceil(fit["lut"])
        return (self.cfg.model.head_dim * LUT_PER_4BIT_PRODUCT
                + self.cfg.attn_k * LUT_PER_TOPK_ENTRY
                + SOFTMAX_RECIP_BITS * LUT_PER_RECIP_BIT + LUT_ATTN_CONTROL)

    def ff(self) -> int:
        fit = self.calibrated()
        return math.ceil(fit["ff"]) if fit else 0

    def bram(self) -> int:
        """K (twice: two registered read ports) and V of the longest sequence: block RAM
        when deeper than LUT-RAM takes (hw.perf.synth_model.attention_memories)."""
        fit = self.calibrated()
        if fit:
            return math.ceil(fit["bram"])
        return math.ceil(2 * self.cfg.max_length * self.cfg.model.head_dim / BRAM36_BYTES)

    def uram(self) -> int:
        fit = self.calibrated()
        return math.ceil(fit["uram"]) if fit else 0


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

    def ff(self) -> int:
        return 0

    def bram(self) -> int:
        return 0

    def uram(self) -> int:
        return 0

    def resource_source(self) -> str:
        return ANALYTICAL  # no RTL yet: nothing to synthesise


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

    def ff(self) -> int:
        return 0

    def bram(self) -> int:
        return 0

    def uram(self) -> int:
        return 0

    def resource_source(self) -> str:
        return ANALYTICAL


@dataclass(frozen=True)
class Resources:
    """DSP48E2, LUT (logic plus LUT-RAM), BRAM36, URAM blocks and flip-flops."""

    dsp: int
    lut: int
    bram: int
    uram: int
    ff: int = 0

    def __mul__(self, n: int) -> Resources:
        return Resources(self.dsp * n, self.lut * n, self.bram * n, self.uram * n, self.ff * n)

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.dsp + other.dsp, self.lut + other.lut, self.bram + other.bram,
                         self.uram + other.uram, self.ff + other.ff)


def _sum(engines: tuple, extra_lut: int = 0) -> Resources:
    return Resources(dsp=sum(e.dsp() for e in engines),
                     lut=sum(e.lut() for e in engines) + extra_lut,
                     bram=sum(e.bram() for e in engines), uram=sum(e.uram() for e in engines),
                     ff=sum(e.ff() for e in engines))


def group_resources(cfg: DesignConfig, own_stores: bool = True) -> Resources:
    """One PE group: the HP matmul engine and its vector lanes (LayerNorm, i-GELU).

    The Yosys-calibrated hp_spmm figure already holds its control; the analytical
    fallback adds LUT_GROUP_CONTROL for it. `own_stores=False` leaves out hp_spmm's
    weight memories and activation tile (`synth_model.spmm_weight_memories`,
    `spmm_tile_memory`, in BRAM or URAM as `memory_blocks` maps them), for a machine that
    keeps weights and activations in stores of its own (the analytical machine's
    placement).
    """
    spmm = SpmmEngine(cfg, (), cfg.model.hidden)
    extra = 0 if spmm.resource_source() == CALIBRATED else LUT_GROUP_CONTROL
    group = _sum((spmm, LayerNormEngine(cfg), GeluEngine(cfg)), extra)
    if own_stores:
        return group
    from hw.perf.synth_model import (
        memories_bram36,
        memories_uram,
        spmm_tile_memory,
        spmm_weight_memories,
    )
    from sim.rtl.spmm_case import SpmmParams

    p = SpmmParams.from_config(cfg).hdl_parameters()
    stores = [*spmm_weight_memories(p), spmm_tile_memory(p)]
    return dataclasses.replace(
        group, bram=max(0, group.bram - math.floor(memories_bram36(stores))),
        uram=max(0, group.uram - memories_uram(stores)))


def attention_resources(cfg: DesignConfig) -> Resources:
    """All A = attn_heads_parallel attention engines."""
    return _sum((AttentionEngine(cfg),)) * cfg.attn_heads_parallel


def resource_sources(cfg: DesignConfig) -> dict[str, str]:
    """Per engine: whether its resource figures are Yosys-calibrated or analytical."""
    return {"spmm": SpmmEngine(cfg, (), cfg.model.hidden).resource_source(),
            "attention": AttentionEngine(cfg).resource_source(),
            "layernorm": LayerNormEngine(cfg).resource_source(),
            "gelu": GeluEngine(cfg).resource_source(),
            "group_control": CALIBRATED if SpmmEngine(cfg, (), cfg.model.hidden)
            .resource_source() == CALIBRATED else ANALYTICAL,
            "stores": ANALYTICAL + " (bytes / BRAM36 or URAM capacity)",
            "calibrated_rtl": _calibrated_rtl()}


def _calibrated_rtl() -> dict[str, dict[str, object]]:
    """Per calibrated engine: the commit whose RTL was synthesised, and whether the RTL of
    this work tree is still that one (else the fit describes an older RTL)."""
    from hw.perf.synth_model import CalibrationError, current_rtl_sha, load_calibration

    try:
        data = load_calibration()
    except CalibrationError:
        return {}
    return {e: {"commit": data.get("rtl_commit", {}).get(e, ""),
                "current": bool(rows) and rows[0].get("rtl_sha") == current_rtl_sha(e)}
            for e, rows in data.get("points", {}).items()}


def engine_costs(cfg: DesignConfig) -> dict[str, dict]:
    """One spmm and one attention engine: resources, their source, and per-MAC costs (MAC
    lanes: bo * m PEs' products; the attention engine's head_dim lanes, which run the
    score and then the value products of each kept key)."""
    out: dict[str, dict] = {}
    engines = {"spmm": (SpmmEngine(cfg, (), cfg.model.hidden), cfg.bo * cfg.m),
               "attention": (AttentionEngine(cfg), cfg.model.head_dim)}
    for name, (eng, lanes) in engines.items():
        res = {k: getattr(eng, k)() for k in ("lut", "ff", "dsp", "bram", "uram")}
        out[name] = {**res, "source": eng.resource_source(), "mac_lanes": lanes,
                     "dsp_per_mac": round(res["dsp"] / lanes, 3),
                     "lut_per_mac": round(res["lut"] / lanes, 1)}
    return out
