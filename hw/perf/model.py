"""Whole-model estimates on a board: resources, floorplan, DDR traffic, latency, roofline.

Two machines (docs/performance.md). The RTL layer top (hw/rtl/encoder_layer.sv) when it
takes the config and fits: G PE groups each holding its share of the HP weights, A
attention engines, one LayerNorm and GELU unit and its buffers; resources from
`hw.perf.layer.layer_resources`, cycles from `hw.perf.layer`. Otherwise the analytical
machine (the HLS kernel's structure: one activation buffer per sequence in flight, the
weights in a separate store when they fit, else streamed from DDR; costs from
`hw.perf.ops`). G, unless given, is the most groups that fit the board's kernel share
under the utilisation targets, checked per SLR (`floorplan`: every engine whole inside
one SLR's kernel share). The clock is the config's, capped at what the slowest RTL
engine's measured logic depth supports. Every figure is modeled, never measured.
"""

from __future__ import annotations

import dataclasses
import functools
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
    resource_sources,
)
from hw.perf.layer import layer_report
from hw.perf.ops import CostModel, OffChip

# Share of each kernel resource a design may fill before placement and timing fail.
UTIL_TARGET = {"dsp": 0.9, "lut": 0.7, "bram": 0.9, "uram": 0.9}
DEFAULT_IN_FLIGHT = 8  # sequences with an activation buffer on chip
MODEL_NAME = "hw.perf model (RTL engine resources and clock fitted to Yosys synthesis)"
RTL_LATENCY_MODEL = ("hw.perf.layer: the RTL layer top's cycles per operator (the engines' "
                     "exact formulas plus glue fitted to Verilator, benchmarks/rtl_layer.py; "
                     "operators one after another, as the RTL runs them)")
ANALYTICAL_LATENCY_MODEL = ("hw.perf.ops CostModel: analytical operator costs (the "
                            "scheduler's model)")
RESOURCE_KEYS = ("dsp", "lut", "bram", "uram")
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


@dataclass
class SlrFit:
    """One SLR of the floorplan: the engines placed in it and what they use of its share."""

    slr: int
    share: dict[str, int]
    groups: int = 0
    attention_engines: int = 0
    used: dict[str, float] = dataclasses.field(default_factory=dict)

    def cap(self, key: str) -> float:
        return self.share[key] * UTIL_TARGET[key]

    def fits(self, need: Resources) -> bool:
        return all(self.used[k] + getattr(need, k) <= self.cap(k) for k in RESOURCE_KEYS)

    def headroom(self, need: Resources) -> float:
        """The smallest fraction of any resource left after adding `need`."""
        return min((self.cap(k) - self.used[k] - getattr(need, k)) / self.cap(k)
                   for k in RESOURCE_KEYS if self.cap(k) > 0)

    def add(self, need: Resources) -> None:
        for k in RESOURCE_KEYS:
            self.used[k] += getattr(need, k)

    def to_dict(self) -> dict[str, Any]:
        return {"slr": self.slr, "pe_groups": self.groups,
                "attention_engines": self.attention_engines,
                "used": {k: math.ceil(self.used[k]) for k in RESOURCE_KEYS},
                "kernel_share": dict(self.share),
                "fraction": {k: self.used[k] / self.share[k] if self.share[k] else 0.0
                             for k in RESOURCE_KEYS}}


def slr_shares(board: Any) -> list[dict[str, int]]:
    """Each SLR's kernel share (boards/*.yaml `slr_kernel`, or the totals split evenly)."""
    return [{"dsp": s.dsp, "lut": s.lut, "bram": s.bram36, "uram": s.uram}
            for s in board.slr_shares()]


@dataclass(frozen=True)
class Parts:
    """What a design is built of: one PE group, one attention engine, and what it holds
    once (stores, shared units), which the floorplan spreads over the SLRs."""

    group: Resources
    engine: Resources
    shared: Resources


def hls_parts(cfg: DesignConfig, placement: Placement) -> Parts:
    """The analytical machine: groups with their own vector lanes, separate on-chip stores
    (its weights and activations sit in the placement's stores, not in hp_spmm's own)."""
    return Parts(group_resources(cfg, own_stores=False), _sum_one_attention(cfg),
                 Resources(0, 0, placement.act_bram + placement.weight_bram,
                           placement.act_uram + placement.weight_uram))


def rtl_layer(cfg: DesignConfig, weights: dict[str, HPMatrix], groups: int) -> dict[str, Any]:
    """The RTL layer top on `groups` groups: the weights' dealt plan (`image`, what the
    cycle model runs) and its resources (hw.perf.layer.layer_resources)."""
    from hw.perf.layer import layer_resources, weight_plan

    image = weight_plan(cfg, weights, groups)
    return {**layer_resources(cfg, image), "image": image}


def _rtl_parts_of(layer: dict[str, Any]) -> Parts:
    return Parts(layer["group"], layer["attention_engine"], layer["shared"])


def rtl_parts(cfg: DesignConfig, weights: dict[str, HPMatrix], groups: int) -> Parts:
    """The RTL layer top's parts on `groups` groups (each group's hp_spmm holds its share
    of the weights)."""
    return _rtl_parts_of(rtl_layer(cfg, weights, groups))


def floorplan(cfg: DesignConfig, board: Any, parts: Parts,
              groups: int | None = None) -> list[SlrFit]:
    """Engines packed into SLRs, each whole inside one SLR under the utilisation targets.

    What the design holds once (`parts.shared`) is spread over the SLRs in proportion to
    their share of each resource; the attention engines go first, one at a time to the
    SLR with the most headroom, then PE groups the same way, up to `groups` (or as many
    as fit). Engines that fit no SLR are left out: the caller compares counts.
    """
    slrs = [SlrFit(i, share, used=dict.fromkeys(RESOURCE_KEYS, 0.0))
            for i, share in enumerate(slr_shares(board))]
    for key in RESOURCE_KEYS:
        amount = getattr(parts.shared, key)
        total = sum(s.share[key] for s in slrs)
        for s in slrs:
            s.used[key] += amount * s.share[key] / total if total else 0.0

    def place_one(need: Resources) -> SlrFit | None:
        fitting = [s for s in slrs if s.fits(need)]
        if not fitting:
            return None
        best = max(fitting, key=lambda s: (s.headroom(need), -s.slr))
        best.add(need)
        return best

    for _ in range(cfg.attn_heads_parallel):
        s = place_one(parts.engine)
        if s is None:
            break
        s.attention_engines += 1
    per = parts.group
    limit = groups if groups is not None else 1 << 30
    placed = 0
    while placed < limit:
        s = place_one(per)
        if s is None:
            break
        s.groups += 1
        placed += 1
    return slrs


def _sum_one_attention(cfg: DesignConfig) -> Resources:
    return attention_resources(cfg.replace(attn_heads_parallel=1))


def max_groups(cfg: DesignConfig, board: Any, placement: Placement) -> int:
    """The most PE groups that fit, per SLR, after the stores and the attention engines
    (0 when the attention engines themselves do not all fit)."""
    plan = floorplan(cfg, board, hls_parts(cfg, placement))
    if sum(s.attention_engines for s in plan) < cfg.attn_heads_parallel:
        return 0
    return sum(s.groups for s in plan)


def _rtl_fits(cfg: DesignConfig, board: Any, parts: Parts, groups: int) -> bool:
    plan = floorplan(cfg, board, parts, groups)
    return (sum(s.groups for s in plan), sum(s.attention_engines for s in plan)) == \
        (groups, cfg.attn_heads_parallel)


def rtl_max_groups(cfg: DesignConfig, board: Any, weights: dict[str, HPMatrix]) -> int:
    """The most PE groups of the RTL layer top that fit per SLR (0: none). A group's
    memories shrink as groups are added, so every count up to the LUT bound is tried."""
    lut_cap = sum(s["lut"] for s in slr_shares(board)) * UTIL_TARGET["lut"]
    bound = max(1, math.floor(lut_cap / max(1, rtl_parts(cfg, weights, 1).group.lut)))
    return max((g for g in range(1, bound + 1)
                if _rtl_fits(cfg, board, rtl_parts(cfg, weights, g), g)), default=0)


def design_clock(cfg: DesignConfig) -> dict[str, Any]:
    """The clock latency figures use: the config's, capped by the slowest RTL engine's or
    layer unit's supported clock (hw.perf.synth_model); says which bound it is."""
    from hw.perf.synth_model import CALIBRATION_FILE, UNITS_FILE

    stamp = tuple(f.stat().st_mtime_ns if f.is_file() else 0
                  for f in (CALIBRATION_FILE, UNITS_FILE))
    return dict(_design_clock(cfg, stamp))


@functools.lru_cache(maxsize=64)
def _design_clock(cfg: DesignConfig, stamp: tuple[int, int]) -> dict[str, Any]:
    from hw.perf.synth_model import supported_clock

    sup = supported_clock(cfg)
    if sup is None:
        return {"mhz": float(cfg.clock_mhz), "config_mhz": cfg.clock_mhz,
                "bound": "config (no synthesis calibration data)"}
    if sup["supported_mhz"] is None:
        # a stale depth still bounds the clock better than none: cap with it, say so
        stale = ", ".join(e for e, v in sup["engines"].items() if v.get("stale"))
        slowest = min(sup["engines"], key=lambda e: sup["engines"][e]["fmax_mhz"])
        mhz = min(float(cfg.clock_mhz), float(sup["engines"][slowest]["fmax_mhz"]))
        return {"mhz": mhz, "config_mhz": cfg.clock_mhz,
                "bound": f"slowest engine ({slowest}: {mhz:g} MHz) from a STALE calibration: "
                         f"the RTL of {stale} changed since it was synthesised (rerun "
                         "benchmarks/synth.py --calibrate)", **sup}
    mhz = min(float(cfg.clock_mhz), float(sup["supported_mhz"]))
    bound = ("config" if mhz == cfg.clock_mhz else
             f"slowest engine ({sup['slowest_engine']}: {sup['supported_mhz']} MHz from its "
             "Yosys logic depth)")
    return {"mhz": mhz, "config_mhz": cfg.clock_mhz, "bound": bound, **sup}


def resources(cfg: DesignConfig, groups: int, parts: Parts) -> dict[str, int]:
    """Groups, attention engines and what the design holds once, per resource."""
    total = parts.group * groups + parts.engine * cfg.attn_heads_parallel + parts.shared
    return {"dsp": total.dsp, "lut": total.lut, "bram": total.bram, "uram": total.uram}


def check_fits(cfg: DesignConfig, board: Any, groups: int = 1,
               in_flight: int = DEFAULT_IN_FLIGHT) -> dict[str, int]:
    """Raise ConfigError naming the resource when `groups` PE groups (plus the attention
    engines and activation buffers) exceed the kernel share.

    The hook for DesignConfig validation against a board; returns the resources used.
    """
    placement = place(cfg, board, {}, in_flight)  # compute and buffers; weights may stream
    parts = hls_parts(cfg, placement)
    used = resources(cfg, groups, parts)
    for key, have in kernel_share(board).items():
        if used[key] > have:
            raise ConfigError(f"bo/bi/m: {groups} PE group(s) of bo={cfg.bo} m={cfg.m} and "
                              f"{cfg.attn_heads_parallel} attention engine(s) need "
                              f"{used[key]} {key.upper()}, board {board.name} leaves {have} "
                              f"to kernels")
    plan = floorplan(cfg, board, parts, groups)
    placed = sum(s.groups for s in plan), sum(s.attention_engines for s in plan)
    if placed != (groups, cfg.attn_heads_parallel):
        raise ConfigError(f"bo/bi/m: {groups} PE group(s) and {cfg.attn_heads_parallel} "
                          f"attention engine(s) fit board {board.name} as a whole but not "
                          f"per SLR (each engine inside one SLR: {placed[0]} group(s) and "
                          f"{placed[1]} engine(s) fit); use fewer groups or engines")
    return used


@dataclass
class Design:
    """A config on a board with a PE-group count and a weight placement.

    `layer` is set when the design is the RTL layer top (hw/rtl/encoder_layer.sv: each
    group holds its share of the weights, operators one after another; `rtl_layer`'s
    plan and resources, cycles from hw.perf.layer); otherwise `rtl_note` says why the
    design is the analytical machine instead (separate weight store or DDR streaming,
    costs from hw.perf.ops).
    """

    cfg: DesignConfig
    board: Any
    weights: dict[str, HPMatrix]
    groups: int
    placement: Placement
    in_flight: int
    cost: CostModel
    parts: Parts
    rtl_note: str | None = None
    layer: dict[str, Any] | None = None

    @property
    def clock(self) -> dict[str, Any]:
        return design_clock(self.cfg)

    @property
    def clock_hz(self) -> float:
        """min(config clock, the slowest engine's supported clock)."""
        return self.clock["mhz"] * 1e6

    @property
    def ddr_bytes_per_cycle(self) -> float:
        return self.board.memory_bandwidth_gbs * BYTES_PER_GB / self.clock_hz

    def weight_reload_cycles(self) -> int:
        """Streaming every weight from DDR once: the cost of re-dealing block-rows to groups."""
        return math.ceil(self.placement.weight_bytes / self.ddr_bytes_per_cycle)


def _rtl_buildable(cfg: DesignConfig) -> str | None:
    """None when the layer top takes this config, else why not."""
    from sim.rtl.layer_case import LayerParams

    try:
        LayerParams.from_config(cfg, 1)
    except ValueError as e:
        return f"the RTL layer top cannot be built for this config ({e})"
    return None


def _rtl_design(cfg: DesignConfig, board: Any, weights: dict[str, HPMatrix],
                groups: int | None) -> Design | str:
    """The RTL layer top sized for the board, or why it cannot be (then the caller builds
    the analytical machine)."""
    why = _rtl_buildable(cfg)
    if why is not None:
        return why
    fit = rtl_max_groups(cfg, board, weights)
    if fit < 1:
        need = rtl_parts(cfg, weights, 1)
        fix = ("weight_capacity: model (groups built for this model's weights, not dense "
               "ones), " if cfg.weight_capacity == "dense" else "")
        return (f"the RTL layer top does not fit board {board.name} per SLR at any group "
                f"count (one group holding all {cfg.weight_capacity}-capacity weights needs "
                f"{need.group.bram} BRAM36 and {need.group.uram} URAM, "
                f"{cfg.attn_heads_parallel} attention engines "
                f"{need.engine.lut * cfg.attn_heads_parallel} LUT): use {fix}fewer attention "
                "engines, a larger board or a smaller model")
    if groups is not None and groups > fit:
        raise ConfigError(f"pe_groups: {groups} exceed the {fit} groups of the RTL layer top "
                          f"that fit board {board.name}")
    g = fit if groups is None else groups
    layer = rtl_layer(cfg, weights, g)
    parts = _rtl_parts_of(layer)
    if not _rtl_fits(cfg, board, parts, g):  # fit is not monotonic in G: check this one
        raise ConfigError(f"pe_groups: {g} groups of the RTL layer top do not fit board "
                          f"{board.name} per SLR (each holds 1/{g} of the weights); "
                          f"{fit} do")
    placement = Placement(True, weight_bytes(weights), parts.shared.bram, 0,
                          parts.group.bram * g, 0)
    return Design(cfg, board, weights, g, placement, 1, CostModel(cfg, weights), parts,
                  layer=layer)


MACHINES = ("auto", "rtl", "analytical")


def build_design(cfg: DesignConfig, board: Any, weights: dict[str, HPMatrix],
                 groups: int | None = None, in_flight: int = DEFAULT_IN_FLIGHT,
                 machine: str = "auto") -> Design:
    """The RTL layer top when it can run the config and fits the board (G: the most
    groups that fit unless given); otherwise the analytical machine, with the reason.
    `machine`: "rtl" insists on the layer top (ConfigError naming why it cannot be),
    "analytical" asks for the analytical machine (the HLS kernel's structure)."""
    if machine not in MACHINES:
        raise ValueError(f"machine: {machine!r}, choose one of {', '.join(MACHINES)}")
    if machine == "analytical":
        rtl: Design | str = "the analytical machine was asked for"
    else:
        rtl = _rtl_design(cfg, board, weights, groups)
        if isinstance(rtl, Design):
            return rtl
        if machine == "rtl":
            raise ConfigError(rtl)
    placement = place(cfg, board, weights, in_flight)
    parts = hls_parts(cfg, placement)
    fit = max_groups(cfg, board, placement)
    if groups is None:
        groups = fit
    if groups < 1:
        plan = floorplan(cfg, board, parts, 0)
        placed = sum(s.attention_engines for s in plan)
        if placed < cfg.attn_heads_parallel:
            raise ConfigError(f"attn_heads_parallel: only {placed} of the "
                              f"{cfg.attn_heads_parallel} attention engines fit board "
                              f"{board.name} (per SLR, next to its buffers); use fewer")
        raise ConfigError(f"bo/m: not even one PE group of bo={cfg.bo} m={cfg.m} fits "
                          f"board {board.name} next to its buffers")
    if groups > fit:
        raise ConfigError(f"pe_groups: {groups} exceed the {fit} that fit board {board.name}")
    design = Design(cfg, board, weights, groups, placement, in_flight, CostModel(cfg, weights),
                    parts, rtl)
    if not placement.weights_on_chip:
        design.cost = CostModel(cfg, weights, OffChip(design.ddr_bytes_per_cycle, groups))
    return design


def estimate(design: Design, lengths: list[int]) -> dict[str, Any]:
    """Latency, throughput, resources, DDR traffic and roofline at the given lengths.

    Latency is one sequence with all G groups on it, operators one after another; the
    pipelined throughput over a length trace is what `hw.sched` reports.
    """
    cfg, board, placement = design.cfg, design.board, design.placement
    over = [n for n in lengths if n > cfg.max_length]
    if over:
        raise ValueError(f"{over} exceed the design's max_length {cfg.max_length} (its "
                         "buffers hold no longer sequence); give lengths up to it")
    share = kernel_share(board)
    clock = design.clock
    used = resources(cfg, design.groups, design.parts)
    peak_board = board.kernel_dsp * MACS_PER_DSP_INT8 * design.clock_hz
    lanes = design.groups * cfg.bo * cfg.m + cfg.attn_heads_parallel * cfg.model.head_dim
    peak_design = lanes * design.clock_hz
    image = design.layer["image"] if design.layer else None
    per_length = []
    for length in lengths:
        analytical = design.cost.sequence_cycles(length, design.groups)
        extra: dict[str, Any] = {"analytical_cycles": analytical}
        if image is not None:
            rtl = layer_report(image, length, cfg.attn_k)
            cycles, macs = rtl["cycles"], rtl["macs"]
            extra.update(per_op=rtl["per_op"], lane_utilization=rtl["utilization"])
        else:
            cycles, macs = analytical, design.cost.sequence_macs(length)
        seconds = cycles / design.clock_hz
        io = 2 * length * cfg.model.hidden  # int8 activations in and out
        ddr = io + (0 if placement.weights_on_chip else placement.weight_bytes)
        rate = macs / seconds
        per_length.append({
            "length": length, "cycles": cycles, **extra, "latency_ms": seconds * MS_PER_S,
            "throughput_seq_s": 1.0 / seconds, "macs": macs, "ddr_bytes": ddr,
            "effective_gmac_s": rate / 1e9,
            "roofline_fraction_of_board_peak": rate / peak_board,
            "roofline_fraction_of_design_peak": rate / peak_design,
            "operational_intensity_mac_per_byte": macs / ddr,
        })
    ridge = peak_board / (board.memory_bandwidth_gbs * BYTES_PER_GB)
    return {
        "board": board.name, "model": MODEL_NAME, "figures": "modeled",
        "latency_model": RTL_LATENCY_MODEL if image is not None else
        f"{ANALYTICAL_LATENCY_MODEL}; not the RTL's, because {design.rtl_note}",
        "pe_groups": design.groups, "attention_engines": cfg.attn_heads_parallel,
        "clock_mhz": clock["mhz"], "clock": clock,
        "resource_model": resource_sources(cfg),
        "machine": "RTL layer top (hw/rtl/encoder_layer.sv)" if design.layer
        else "analytical machine", "parts": {k: vars(getattr(design.parts, k))
                                             for k in ("group", "engine", "shared")},
        **({"group_capacity": design.layer["group_capacity"],
            "parts_source": design.layer["source"]} if design.layer else {}),
        "floorplan": [s.to_dict() for s in floorplan(cfg, board, design.parts,
                                                     design.groups)],
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


def best_design(cfg: DesignConfig, board: Any, density: float, lengths: list[int],
                weights: dict[str, HPMatrix] | None = None
                ) -> tuple[Design, list[dict[str, Any]]]:
    """The design that fits `board` with the lowest mean latency over `lengths`, over every
    attention-engine count the layer top takes (divisors of the head count), each with
    the most PE groups that fit beside it; and what each count gave. RTL layer tops
    first: the analytical machine wins only when no RTL top fits. ConfigError when
    nothing fits. `weights`: an artifact's HP layers (their density is then `density`);
    without them a uniform skeleton at `density`."""
    from hw.perf.ops import uniform_weights, with_density

    cfg = cfg if weights is not None else with_density(cfg, density)
    clipped = [min(n, cfg.max_length) for n in lengths]
    tried: list[dict[str, Any]] = []
    best: tuple[bool, float, Design] | None = None
    heads = cfg.model.heads
    for engines in (a for a in range(1, heads + 1) if heads % a == 0):
        c = cfg.replace(attn_heads_parallel=engines)
        try:
            design = build_design(c, board, weights if weights is not None
                                  else uniform_weights(c, density))
        except ConfigError as e:
            tried.append({"attention_engines": engines, "fits": False, "why": str(e)})
            continue
        per = {p["length"]: p["latency_ms"]
               for p in estimate(design, sorted(set(clipped)))["per_length"]}
        mean_ms = sum(per[n] for n in clipped) / len(clipped)
        tried.append({"attention_engines": engines, "fits": True, "pe_groups": design.groups,
                      "machine": "rtl" if design.layer else "analytical",
                      "mean_latency_ms": mean_ms})
        key = (design.layer is None, mean_ms, design)
        if best is None or key[:2] < best[:2]:
            best = key
    if best is None:
        raise ConfigError(f"no design of model {cfg.model} at density {density} fits board "
                          f"{board.name}: " + "; ".join(t["why"] for t in tried))
    return best[2], tried
