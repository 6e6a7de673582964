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
from sim.golden.nonlinear import EXP_MAX_SHIFT, SOFTMAX_RECIP_BITS
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
PE_LATENCY = rtl_localparam("hp_spmm_pe.sv", "LATENCY")  # hp_spmm_pe_pkg::LATENCY
# edges from the last step's issue to its block-row's first output beat: operand read, the
# PE's stages, accumulate/capture, then the requantization lane
ISSUE_TO_OUTPUT = 2 + PE_LATENCY + REQUANT_LATENCY


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


# hw/rtl/sparse_attention.sv: an estimator and a five-stage exact unit on consecutive
# queries. The estimator issues one key per cycle, queries back to back; each key passes a
# pipeline of ATTN_EST_DEPTH stages (K row read, abs, three quantize4 stages, table read,
# adder tree) to the insertion network. The exact unit's stages (DOT, EXP, DIV, PV, OUT)
# each work on their own query and hand it on when the next stage is free; the estimator
# stalls only when it would hand over a query while DOT has not taken the previous one. The
# stage counts below are the RTL's localparams (Q_CODE, E_EST, SC_LAT, EX_LAT, PV_LAT, NDIG,
# MUL_LAT).
QUANT4_STAGES = rtl_localparam("sparse_attention.sv", "Q4_STAGES")  # attn_q4_row
EXP_INT_BITS = rtl_localparam("sparse_attention.sv", "E_W")  # the i-exp outputs
MUL_A_CHUNK = rtl_localparam("sparse_attention.sv", "MUL_A_CHUNK")  # attn_mul partial
MUL_B_CHUNK = rtl_localparam("sparse_attention.sv", "MUL_B_CHUNK")  # products, a DSP each
EXP_MAX_SHIFT_BITS = EXP_MAX_SHIFT.bit_length()  # Z_W: restoring steps of (max - x) / q_ln2
RECIP_DIGITS = (SOFTMAX_RECIP_BITS + 2) // 2  # NDIG: radix-4 digits of 2^RECIP_BITS / sum


def field_bits(n: int) -> int:
    """$clog2(n), at least 1: the SV field width that indexes n values."""
    return max(1, (n - 1).bit_length())


def tree_latency(n: int) -> int:
    """attn_pkg::tree_latency: registered levels of an adder or max tree over n inputs."""
    return max(0, (n - 1).bit_length())


def _mul_latency(a_bits: int, b_bits: int) -> int:
    """attn_pkg::mul_latency: the partial products, then their adder tree."""
    parts = -(-a_bits // MUL_A_CHUNK) * -(-b_bits // MUL_B_CHUNK)
    return 1 + tree_latency(parts)


def attention_pipeline(head_dim: int) -> dict[str, int]:
    """The engine's pipeline depths for head dimension `head_dim` (the RTL's localparams)."""
    if head_dim < 1:
        raise ValueError(f"head_dim must be >= 1, got {head_dim}")
    tree = tree_latency(head_dim)
    mul = _mul_latency(EXP_INT_BITS, 2 * RECIP_DIGITS)
    return {
        "q_code": 2 + tree + QUANT4_STAGES,      # Q accept, abs, max tree, thresholds, q4
        "est_depth": 2 + QUANT4_STAGES + 1 + tree,  # key read, abs, q4, table read, tree
        "score": 2 + tree + REQUANT_LATENCY,     # K read, products, tree, requant
        "exp": 6 + EXP_MAX_SHIFT_BITS,           # sub, clamp, division steps, t, t^2, + q_c, >>
        "div": 1 + RECIP_DIGITS,                 # 3 x sum, then one radix-4 digit per cycle
        "pv": mul + 3,                           # e * recip, round, clip (V read), p * v
        "out": REQUANT_LATENCY,
    }


EXACT_STAGES = ("dot", "exp", "div", "pv", "out")


def attention_stage_cycles(length: int, k: int, head_dim: int) -> dict[str, int]:
    """Cycles each exact-unit stage holds a query in its run state (from the cycle after
    its take to its full flag): DOT, EXP and PV issue one kept key per cycle and wait one
    cycle past their pipeline; DIV forms 3 x sum, then one digit per cycle; OUT waits for
    the requant lanes."""
    p = attention_pipeline(head_dim)
    kept = topk_count(length, k=k)
    return {"dot": kept + 1 + p["score"], "exp": kept + 1 + p["exp"], "div": p["div"],
            "pv": kept + 1 + p["pv"], "out": p["out"]}


def attention_query_cycles(length: int, k: int, head_dim: int) -> int:
    """The exact unit's steady-state cycles per query: its longest stage, plus the cycle in
    which the stage's full flag is seen and the one in which it is free again (OUT: the
    send, then free)."""
    return max(attention_stage_cycles(length, k, head_dim).values()) + 2


def _attention_schedule(length: int, k: int, head_dim: int) -> list[tuple[int, int]]:
    """(DOT take, send) cycle of every query, by the RTL's hand-over rules, ideal streams:
        a[0] = 2L + 1 + q_code + est_depth      query 0's last key reaches the network
        a[i] = max(a[i-1] + L, take_dot[i-1] + 1)  the estimator waits for DOT's take
        take_0[i] = max(a[i] + 1, take_1[i-1] + 1)
        take_s[i] = max(take_{s-1}[i] + 1 + n_{s-1}, take_{s+1}[i-1] + 1)
        send[i] = take_out[i] + 1 + n_out,  and OUT is free again at send[i] + 1
    with n_s = attention_stage_cycles: a stage is full the cycle after its run, the next
    stage takes it when it sees itself free (the cycle after its own take by the stage
    after it)."""
    p = attention_pipeline(head_dim)
    n = [attention_stage_cycles(length, k, head_dim)[s] for s in EXACT_STAGES]
    last = len(n) - 1
    arrive = 2 * length + 1 + p["q_code"] + p["est_depth"]
    prev: list[int] | None = None  # the previous query's take cycles
    prev_send = 0
    out: list[tuple[int, int]] = []
    for _ in range(length):
        if prev is not None:
            arrive = max(arrive + length, prev[0] + 1)
        take: list[int] = []
        for s in range(len(n)):
            ready = arrive + 1 if s == 0 else take[s - 1] + 1 + n[s - 1]
            free = 0 if prev is None else (prev[s + 1] + 1 if s < last else prev_send + 1)
            take.append(max(ready, free))
        prev, prev_send = take, take[last] + 1 + n[last]
        out.append((take[0], prev_send))
    return out


def attention_estimate_cycles(length: int) -> int:
    """Keys the estimator issues, all queries (its perf counter): L per query."""
    return length * length


def attention_exact_cycles(length: int, k: int, head_dim: int) -> int:
    """Cycles in which some query is in the exact unit (its perf counter): from the cycle
    after DOT takes a query to the cycle its output is sent, over all queries."""
    busy, end = 0, -1
    for take, send in _attention_schedule(length, k, head_dim):
        busy += send - max(take, end)
        end = send
    return busy


def attention_cycles(length: int, k: int, head_dim: int) -> int:
    """Cycles of one sparse_attention run (one head), counted like spmm_cycles: from the
    first accepted K beat to the last output beat, ideal streams (`_attention_schedule`).

    K and V load in L cycles (side by side), the first query's estimate takes L more, and
    then every query costs the larger of the estimate (L) and the exact unit's longest
    stage (`attention_query_cycles`); the last one also drains the exact unit.
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if length == 0:
        return 0
    return _attention_schedule(length, k, head_dim)[-1][1] + 1
