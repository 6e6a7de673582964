"""The exact cycle counts of the RTL engines, for the performance model (hw/perf).

Measured as the RTL testbench does: from the cycle of the first accepted activation beat
to the cycle of the last accepted output beat, both counted, with the activations offered
every cycle and the output never back-pressured. The RTL tests check this formula against
simulation cycle for cycle; docs/rtl.md derives it.

With T_k the tokens of tile k (T, the last one partial), nbc = in_features / Bi block
columns and W = sum over block-rows of max(kept blocks, 1) (an empty block-row costs one
null block so that its bias-only outputs still drain):
  load of tile k      nbc * T_k beats, one per cycle, into the free half of the ping-pong
  compute of tile k   T_k * W cycles, one (block, token) step per cycle
  tile k starts       when it is loaded and tile k-1 is issued; tile k+2 may load once
                      tile k is issued
  last tile           one stall of max(0, T - first block-row's steps) cycles when it is
                      partial (the drain of the previous block-row still runs)
  tail                ISSUE_TO_OUTPUT + T_last cycles: operand read, PE, accumulate, the
                      requantization lane's REQUANT_LATENCY stages, then one output beat
                      per token
REQUANT_LATENCY is read from hw/rtl/requant.sv (requant_pkg::LATENCY), the one place that
says how deep the lane is, so that the RTL and these formulas cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from hw.config import DesignConfig
from sim.golden.nonlinear import SOFTMAX_RECIP_BITS
from sim.golden.sparse_attention import topk_count

RTL_DIR = Path(__file__).resolve().parents[2] / "hw" / "rtl"


def rtl_localparam(file: str, name: str) -> int:
    """The value of `localparam int <name> = <integer>;` in hw/rtl/<file>."""
    text = (RTL_DIR / file).read_text()
    found = re.findall(rf"localparam\s+int\s+{name}\s*=\s*(\d+)\s*;", text)
    if len(found) != 1:
        raise RuntimeError(f"hw/rtl/{file}: expected one 'localparam int {name} = <n>;', "
                           f"found {len(found)}; restore it or update sim/rtl/cycles.py")
    return int(found[0])


REQUANT_LATENCY = rtl_localparam("requant.sv", "LATENCY")  # requant_pkg::LATENCY
# edges from the last step's issue to its block-row's first output beat: operand read, PE,
# accumulate/capture, then the requantization lane
ISSUE_TO_OUTPUT = 3 + REQUANT_LATENCY


def tile_sizes(length: int, tile: int) -> list[int]:
    """Tokens per tile: full tiles of `tile`, the last one partial."""
    return [min(tile, length - base) for base in range(0, length, tile)]


def spmm_cycles(length: int, nnzb_per_blockrow: Sequence[int], cfg: DesignConfig,
                in_features: int | None = None) -> int:
    """Cycles of one hp_spmm run of `length` tokens (0 for an empty sequence).

    `nnzb_per_blockrow`: kept blocks of each block-row (len = out_features / Bo);
    `in_features` defaults to the config's hidden size (pass the FFN width for FFN2).
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if length == 0:
        return 0
    in_f = cfg.model.hidden if in_features is None else in_features
    if in_f % cfg.bi:
        raise ValueError(f"in_features={in_f} is not a multiple of bi={cfg.bi}")
    nbc = in_f // cfg.bi
    counts = [max(int(n), 1) for n in nnzb_per_blockrow]
    if not counts:
        raise ValueError("nnzb_per_blockrow must name at least one block-row")
    work = sum(counts)
    tiles = tile_sizes(length, cfg.tile_tokens)
    load_end: list[int] = []
    issue_start: list[int] = []
    issue_end: list[int] = []
    for k, tk in enumerate(tiles):
        start = 0 if k == 0 else load_end[k - 1] + 1
        if k >= 2:
            start = max(start, issue_end[k - 2] + 1)
        load_end.append(start + nbc * tk - 1)
        begin = load_end[k] + 1 if k == 0 else max(load_end[k] + 1, issue_end[k - 1] + 1)
        issue_start.append(begin)
        issue_end.append(begin + tk * work - 1)
    last = len(tiles) - 1
    stall = 0
    if last >= 1:
        first_row_end = issue_start[last] + tiles[last] * counts[0] - 1
        stall = max(0, issue_end[last - 1] + tiles[last - 1] - first_row_end)
    return issue_end[last] + stall + ISSUE_TO_OUTPUT + tiles[last]


def spmm_macs(length: int, nnzb_total: int, cfg: DesignConfig) -> int:
    """Useful multiply-accumulates: every stored weight (Bo*m per kept block) per token."""
    return length * nnzb_total * cfg.bo * cfg.m


def spmm_utilization(length: int, nnzb_per_blockrow: Sequence[int], cfg: DesignConfig,
                     in_features: int | None = None) -> float:
    """Useful MACs / (Bo PEs x m MACs x cycles), as the benchmark reports it."""
    cycles = spmm_cycles(length, nnzb_per_blockrow, cfg, in_features)
    return spmm_macs(length, sum(nnzb_per_blockrow), cfg) / (cfg.bo * cfg.m * cycles)


# hw/rtl/sparse_attention.sv, per query: accept Q (1), EST (L + 1: one key per cycle plus
# the insertion stage), EXACT (k + SCORE_LATENCY), EXP (k), DIV (SOFTMAX_RECIP_BITS + 1
# restoring steps), PV (k), OUT (OUT_LATENCY + 1), send (1).
SCORE_LATENCY = 1 + REQUANT_LATENCY  # dot register + the requantization lane
OUT_LATENCY = REQUANT_LATENCY
QUERY_ACCEPT = 1
ESTIMATE_DRAIN = 1
SEND = 1
ATTN_FIXED = (SCORE_LATENCY + SOFTMAX_RECIP_BITS + 1 + OUT_LATENCY + 1 + SEND)


def attention_estimate_cycles(length: int) -> int:
    """Cycles the engine spends estimating and selecting (its EST state), all queries."""
    return length * (length + ESTIMATE_DRAIN)


def attention_exact_cycles(length: int, k: int) -> int:
    """Cycles of the exact part (scores, softmax, V), all queries: linear in L for fixed k."""
    return length * (3 * topk_count(length, k=k) + ATTN_FIXED)


def attention_cycles(length: int, k: int) -> int:
    """Cycles of one sparse_attention run (one head), counted like spmm_cycles: from the
    first accepted K beat to the last output beat, ideal streams. K and V load in L cycles
    (in parallel), then each query costs QUERY_ACCEPT + estimate + exact part."""
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    return (length + length * QUERY_ACCEPT + attention_estimate_cycles(length)
            + attention_exact_cycles(length, k))
