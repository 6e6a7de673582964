"""Whole-model estimates on a board: resources, weight placement, DDR traffic, latency, roofline.

The accelerator is `G` PE groups (see `hw.perf.engines`) plus on-chip stores: one
activation buffer per sequence in flight, and the HP weights when they fit too (each in
URAM first, then BRAM). Without room on chip the weights stream from DDR for every
sequence. G, unless given, is the most groups the board's kernel share holds under the
utilisation targets.
Every figure is modeled (this analytical model), never measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from algo.hp.format import HPMatrix
from hw.config import ConfigError, DesignConfig
from hw.perf.engines import (
    BRAM36_BYTES,
    MACS_PER_DSP_INT8,
    URAM_BYTES,
    Resources,
    attention_resources,
    group_resources,
)
from hw.perf.ops import CostModel, OffChip

# Share of each kernel resource a design may fill before placement and timing fail.
UTIL_TARGET = {"dsp": 0.9, "lut": 0.7, "bram": 0.9, "uram": 0.9}
DEFAULT_IN_FLIGHT = 8  # sequences with an activation buffer on chip
MODEL_NAME = "hw.perf analytical model"
BYTES_PER_GB = 1e9
MS_PER_S = 1e3


def kernel_share(board: Any) -> dict[str, int]:
    """What the board's shell leaves to kernels."""
    return {"dsp": board.kernel_dsp, "lut": board.kernel_lut, "bram": board.kernel_bram36,
            "uram": board.kernel_uram}


def activation_bytes(cfg: DesignConfig) -> int:
    """One in-flight sequence: the residual plus the widest intermediate (QKV or FFN1)."""
    d = cfg.model
    return cfg.max_length * (d.hidden + max(3 * d.hidden, d.ffn))


def weight_bytes(weights: dict[str, HPMatrix]) -> int:
    return sum(hp.storage_bytes() for hp in weights.values())


@dataclass(frozen=True)
class Placement:
    """Where activations and weights live, in BRAM36 and URAM blocks."""

    weights_on_chip: bool
    weight_bytes: int
    act_bram: int
    act_uram: int
    weight_bram: int
    weight_uram: int


def _fill(nbytes: int, uram_free: int, bram_free: int) -> tuple[int, int]:
    """URAM blocks first (deep buffers suit it), the rest in BRAM36."""
    uram = min(uram_free, math.ceil(nbytes / URAM_BYTES))
    bram = math.ceil(max(0, nbytes - uram * URAM_BYTES) / BRAM36_BYTES)
    return uram, bram


def place(cfg: DesignConfig, board: Any, weights: dict[str, HPMatrix],
          in_flight: int = DEFAULT_IN_FLIGHT) -> Placement:
    """Activation buffers first, then the weights if they fit too (else they stay in DDR)."""
    share = kernel_share(board)
    uram_cap = math.floor(share["uram"] * UTIL_TARGET["uram"])
    bram_cap = math.floor(share["bram"] * UTIL_TARGET["bram"])
    act_uram, act_bram = _fill(in_flight * activation_bytes(cfg), uram_cap, bram_cap)
    if act_bram > bram_cap:
        raise ConfigError(f"max_length: {in_flight} in-flight activation buffers of "
                          f"{activation_bytes(cfg)} B do not fit the on-chip memory board "
                          f"{board.name} leaves to kernels")
    wbytes = weight_bytes(weights)
    w_uram, w_bram = _fill(wbytes, uram_cap - act_uram, bram_cap - act_bram)
    if w_bram <= bram_cap - act_bram:
        return Placement(True, wbytes, act_bram, act_uram, w_bram, w_uram)
    return Placement(False, wbytes, act_bram, act_uram, 0, 0)


def max_groups(cfg: DesignConfig, board: Any, placement: Placement) -> int:
    """The most PE groups the kernel share holds, after the stores and attention engines."""
    per, attn = group_resources(cfg), attention_resources(cfg)
    share = kernel_share(board)
    free = {
        "dsp": share["dsp"] * UTIL_TARGET["dsp"] - attn.dsp,
        "lut": share["lut"] * UTIL_TARGET["lut"] - attn.lut,
        "bram": share["bram"] * UTIL_TARGET["bram"] - placement.act_bram
        - placement.weight_bram - attn.bram,
    }
    need = {"dsp": per.dsp, "lut": per.lut, "bram": per.bram}
    return max(0, min(math.floor(free[k] / need[k]) for k in need if need[k]))


def resources(cfg: DesignConfig, groups: int, placement: Placement) -> dict[str, int]:
    """Groups, attention engines and the on-chip stores, per resource."""
    stores = Resources(0, 0, placement.act_bram + placement.weight_bram,
                       placement.act_uram + placement.weight_uram)
    total = group_resources(cfg) * groups + attention_resources(cfg) + stores
    return {"dsp": total.dsp, "lut": total.lut, "bram": total.bram, "uram": total.uram}


def check_fits(cfg: DesignConfig, board: Any, groups: int = 1,
               in_flight: int = DEFAULT_IN_FLIGHT) -> dict[str, int]:
    """Raise ConfigError naming the resource when `groups` PE groups (plus the attention
    engines and activation buffers) exceed the kernel share.

    The hook for DesignConfig validation against a board; returns the resources used.
    """
    placement = place(cfg, board, {}, in_flight)  # compute and buffers; weights may stream
    used = resources(cfg, groups, placement)
    for key, have in kernel_share(board).items():
        if used[key] > have:
            raise ConfigError(f"bo/bi/m: {groups} PE group(s) of bo={cfg.bo} m={cfg.m} and "
                              f"{cfg.attn_heads_parallel} attention engine(s) need "
                              f"{used[key]} {key.upper()}, board {board.name} leaves {have} "
                              f"to kernels")
    return used


@dataclass
class Design:
    """A config on a board with a PE-group count and a weight placement."""

    cfg: DesignConfig
    board: Any
    weights: dict[str, HPMatrix]
    groups: int
    placement: Placement
    in_flight: int
    cost: CostModel

    @property
    def clock_hz(self) -> float:
        return self.cfg.clock_mhz * 1e6

    @property
    def ddr_bytes_per_cycle(self) -> float:
        return self.board.memory_bandwidth_gbs * BYTES_PER_GB / self.clock_hz

    def weight_reload_cycles(self) -> int:
        """Streaming every weight from DDR once: the cost of re-dealing block-rows to groups."""
        return math.ceil(self.placement.weight_bytes / self.ddr_bytes_per_cycle)


def build_design(cfg: DesignConfig, board: Any, weights: dict[str, HPMatrix],
                 groups: int | None = None, in_flight: int = DEFAULT_IN_FLIGHT) -> Design:
    """Place the weights, size G (the most that fit unless given) and make the cost model."""
    placement = place(cfg, board, weights, in_flight)
    fit = max_groups(cfg, board, placement)
    if groups is None:
        groups = fit
    if groups < 1:
        raise ConfigError(f"bo/m: not even one PE group of bo={cfg.bo} m={cfg.m} fits "
                          f"board {board.name} next to its buffers")
    if groups > fit:
        raise ConfigError(f"pe_groups: {groups} exceed the {fit} that fit board {board.name}")
    design = Design(cfg, board, weights, groups, placement, in_flight, CostModel(cfg, weights))
    if not placement.weights_on_chip:
        design.cost = CostModel(cfg, weights, OffChip(design.ddr_bytes_per_cycle, groups))
    return design


def estimate(design: Design, lengths: list[int]) -> dict[str, Any]:
    """Latency, throughput, resources, DDR traffic and roofline at the given lengths.

    Latency is one sequence with all G groups on it, operators one after another; the
    pipelined throughput over a length trace is what `hw.sched` reports.
    """
    cfg, board, placement = design.cfg, design.board, design.placement
    share = kernel_share(board)
    used = resources(cfg, design.groups, placement)
    peak_board = board.kernel_dsp * MACS_PER_DSP_INT8 * design.clock_hz
    lanes = design.groups * cfg.bo * cfg.m + cfg.attn_heads_parallel * cfg.model.head_dim
    peak_design = lanes * design.clock_hz
    per_length = []
    for length in lengths:
        cycles = design.cost.sequence_cycles(length, design.groups)
        seconds = cycles / design.clock_hz
        macs = design.cost.sequence_macs(length)
        io = 2 * length * cfg.model.hidden  # int8 activations in and out
        ddr = io + (0 if placement.weights_on_chip else placement.weight_bytes)
        rate = macs / seconds
        per_length.append({
            "length": length, "cycles": cycles, "latency_ms": seconds * MS_PER_S,
            "throughput_seq_s": 1.0 / seconds, "macs": macs, "ddr_bytes": ddr,
            "effective_gmac_s": rate / 1e9,
            "roofline_fraction_of_board_peak": rate / peak_board,
            "roofline_fraction_of_design_peak": rate / peak_design,
            "operational_intensity_mac_per_byte": macs / ddr,
        })
    ridge = peak_board / (board.memory_bandwidth_gbs * BYTES_PER_GB)
    return {
        "board": board.name, "model": MODEL_NAME, "figures": "modeled",
        "pe_groups": design.groups, "attention_engines": cfg.attn_heads_parallel,
        "clock_mhz": cfg.clock_mhz,
        "resources": {k: {"used": used[k], "kernel_share": share[k],
                          "fraction": used[k] / share[k] if share[k] else 0.0} for k in used},
        "weights": {"bytes": placement.weight_bytes, "on_chip": placement.weights_on_chip,
                    "uram": placement.weight_uram, "bram": placement.weight_bram},
        "activations": {"bram": placement.act_bram, "uram": placement.act_uram,
                        "in_flight": design.in_flight},
        "peak_gmac_s": {"board_int8": peak_board / 1e9, "design": peak_design / 1e9},
        "ridge_mac_per_byte": ridge,
        "per_length": per_length,
    }
