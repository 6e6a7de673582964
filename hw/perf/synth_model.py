"""The resource model calibrated by synthesis: per-engine fits to Yosys results.

`CALIBRATION_POINTS` are the parameter points `benchmarks/synth.py --calibrate`
synthesises (Yosys, `hw.synth`); their counts are committed in `synth_calibration.json`
beside this file, with the Yosys version, the script and a hash of the RTL. Each engine's
LUT, FF, DSP, BRAM36 and URAM is a least-squares fit, linear in a few structural features
of its parameters (below); one point per engine is held out and tests check the fit
predicts it within `HELD_OUT_TOLERANCE`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from hw.config import DesignConfig

CALIBRATION_FILE = Path(__file__).with_name("synth_calibration.json")
# the layer top's LayerNorm and GELU units, one Yosys run each (benchmarks/synth.py --units)
UNITS_FILE = Path(__file__).with_name("synth_units.json")
UNITS = ("layernorm", "gelu")
RESOURCES = ("lut", "ff", "dsp", "bram", "uram")
HELD_OUT_TOLERANCE = 0.15
# UltraScale+ block RAM aspect ratios (depth, width) in simple dual-port mode (UG573).
RAMB36_SHAPES = ((512, 72), (1024, 36), (2048, 18), (4096, 9), (8192, 4), (16384, 2),
                 (32768, 1))
RAMB18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))
LUTRAM_MAX_DEPTH = 64  # shallower memories map to LUT-RAM (RAM64M8/RAM32M16)
URAM_SHAPE = (4096, 72)  # URAM288 (UG573), as Yosys's urams.txt declares it
RAMB36_COST, URAM_COST = 257, 1024  # memory_libmap's costs: brams_xc4v.txt, urams.txt


class CalibrationError(ValueError):
    """The calibration data file is missing or does not cover an engine."""


def memory_bram36(depth: int, width: int) -> float:
    """BRAM36 equivalents of one depth x width memory, the cheapest aspect ratio."""
    if depth <= LUTRAM_MAX_DEPTH:
        return 0.0
    best = min(math.ceil(depth / d) * math.ceil(width / w) for d, w in RAMB36_SHAPES)
    best18 = min(math.ceil(depth / d) * math.ceil(width / w) for d, w in RAMB18_SHAPES) / 2
    return float(min(best, best18))


def memory_uram(depth: int, width: int) -> int:
    """URAM288s of one depth x width memory (4096 x 72 each, simple dual-port)."""
    return math.ceil(depth / URAM_SHAPE[0]) * math.ceil(width / URAM_SHAPE[1])


def memory_blocks(depth: int, width: int) -> tuple[float, int]:
    """(BRAM36, URAM288) one memory takes: `synth_xilinx -uram` (memory_libmap) puts it in
    URAM where that costs less than block RAM by the libraries' costs (brams_xc4v.txt,
    urams.txt), so deep and wide memories (hp_spmm's weights) go to URAM."""
    bram = memory_bram36(depth, width)
    uram = memory_uram(depth, width)
    if bram and uram * URAM_COST < bram * RAMB36_COST:
        return 0.0, uram
    return bram, 0


def memories_bram36(mems: list[tuple[int, int]]) -> float:
    return sum(memory_blocks(d, w)[0] for d, w in mems)


def memories_uram(mems: list[tuple[int, int]]) -> int:
    return sum(memory_blocks(d, w)[1] for d, w in mems)


def _clog2(n: int) -> int:
    return max(1, (n - 1).bit_length())


def spmm_weight_memories(p: dict[str, int]) -> list[tuple[int, int]]:
    """(depth, width) of hp_spmm's per-kept-block memories: values, in-block indices and
    block columns (wval_mem, widx_mem, wcol_mem)."""
    bo, bi, m = p["BO"], p["BI"], p["M"]
    nbc, nnzb = p["MAX_NBC"], p["MAX_NNZB"]
    return [(nnzb, bo * m * 8), (nnzb, bo * m * _clog2(bi)), (nnzb, _clog2(nbc + 1))]


def spmm_tile_memory(p: dict[str, int]) -> tuple[int, int]:
    """(depth, width) of hp_spmm's ping-pong activation tile (act_mem)."""
    return 2 ** _clog2(2 * p["T"] * p["MAX_NBC"]), p["BI"] * 8


def spmm_memories(p: dict[str, int]) -> list[tuple[int, int]]:
    """(depth, width) of hp_spmm's memories (hw/rtl/hp_spmm.sv): its weights, the row
    memories (count, bias, mult, shift) and the activation tile."""
    bo, nbr, nbc = p["BO"], p["MAX_NBR"], p["MAX_NBC"]
    return spmm_weight_memories(p) + [
        (nbr, _clog2(nbc + 1) + 2), (nbr, bo * 32), (nbr, bo * 15), (nbr, bo * 6),
        spmm_tile_memory(p)]


def attention_memories(p: dict[str, int]) -> list[tuple[int, int]]:
    """(depth, width) of sparse_attention's K and V memories as synthesised: K twice (its
    two registered read ports, the estimator's and the exact unit's, each get a copy)."""
    return [(p["MAX_LEN"], p["D"] * 8)] * 3


def _spmm_features(p: dict[str, int]) -> dict[str, dict[str, float]]:
    """Per PE (BO): its requantization lane (7 stages) and control; per MAC lane (BO*M):
    the Bi:1 activation select and the pipelined product and sum; per accumulator (BO*T)."""
    bo, bi, m, t = p["BO"], p["BI"], p["M"], p["T"]
    mems = spmm_memories(p)
    return {
        "lut": {"1": 1.0, "BO": bo, "BO*M*BI": bo * m * bi, "BO*T": bo * t},
        "ff": {"1": 1.0, "BO": bo, "BO*M": bo * m, "BO*T": bo * t},
        "dsp": {"BO*M": bo * m, "BO": bo},
        "bram": {"memories": memories_bram36(mems)},
        "uram": {"memories": memories_uram(mems)},
    }


def _attention_features(p: dict[str, int]) -> dict[str, dict[str, float]]:
    """K and V are read through registers: deep ones are block RAM, shallow ones LUT-RAM
    (their bits a LUT feature)."""
    d, k = p["D"], p["MAX_K"]
    mems = attention_memories(p)
    lutram_bits = sum(dd * w for dd, w in mems if memory_bram36(dd, w) == 0)
    return {
        "lut": {"1": 1.0, "D": d, "MAX_K": k, "lutram_bits": lutram_bits},
        "ff": {"1": 1.0, "D": d, "MAX_K": k},
        "dsp": {"1": 1.0, "D": d},
        "bram": {"memories": memories_bram36(mems)},
        "uram": {"memories": memories_uram(mems)},
    }


FEATURES: dict[str, Callable[[dict[str, int]], dict[str, dict[str, float]]]] = {
    "spmm": _spmm_features,
    "attention": _attention_features,
}

# Points synthesised for the fit: design-config overrides (spmm, sized by
# SpmmParams.from_config) or AttentionParams fields. `held_out` points are not fitted.
# Chosen so that every feature varies on its own (spmm: T/M is not always 2; attention:
# D, MAX_K and MAX_LEN each move alone, MAX_LEN on both sides of the LUT-RAM/block RAM
# boundary); the default design's engines are fitted points, since the estimate must
# agree with synthesis there.
CALIBRATION_POINTS: dict[str, list[dict[str, Any]]] = {
    "spmm": [
        {"bo": 16, "bi": 16, "m": 4, "tile_tokens": 8},  # the default design
        {"bo": 4, "bi": 16, "m": 4, "tile_tokens": 8},
        {"bo": 8, "bi": 16, "m": 4, "tile_tokens": 8},
        {"bo": 8, "bi": 8, "m": 2, "tile_tokens": 4},
        {"bo": 8, "bi": 8, "m": 2, "tile_tokens": 8},
        {"bo": 16, "bi": 16, "m": 2, "tile_tokens": 8},
        {"bo": 16, "bi": 16, "m": 4, "tile_tokens": 4},
        {"bo": 8, "bi": 16, "m": 2, "tile_tokens": 8, "held_out": True},
    ],
    "attention": [
        {"d": 32, "max_len": 128, "max_k": 16},  # the default design
        {"d": 8, "max_len": 16, "max_k": 4},
        {"d": 16, "max_len": 32, "max_k": 4},
        {"d": 8, "max_len": 64, "max_k": 8},
        {"d": 8, "max_len": 32, "max_k": 16},
        {"d": 8, "max_len": 128, "max_k": 8},
        {"d": 16, "max_len": 64, "max_k": 16},
        {"d": 16, "max_len": 128, "max_k": 8, "held_out": True},
    ],
}


def point_parameters(engine: str, point: dict[str, Any],
                     base: DesignConfig | None = None) -> dict[str, int]:
    """The SV parameters of one calibration point."""
    fields = {k: v for k, v in point.items() if k != "held_out"}
    if engine == "spmm":
        from sim.rtl.spmm_case import SpmmParams
        return SpmmParams.from_config((base or DesignConfig()).replace(**fields)).hdl_parameters()
    if engine == "attention":
        from sim.rtl.attention_case import AttentionParams
        return AttentionParams(**fields).hdl_parameters()
    raise CalibrationError(f"engine: no calibration points for {engine!r}")


MEASURED_KEY = {"lut": "lut_total", "ff": "ff", "dsp": "dsp", "bram": "bram36", "uram": "uram"}


@dataclass(frozen=True)
class EngineFit:
    """One engine's fitted coefficients per resource, and where they came from."""

    engine: str
    coefficients: dict[str, dict[str, float]]  # resource -> feature -> coefficient
    points: int
    yosys: str

    def predict(self, parameters: dict[str, int]) -> dict[str, float]:
        feats = FEATURES[self.engine](parameters)
        return {r: max(0.0, sum(c * feats[r].get(f, 0.0)
                                for f, c in self.coefficients.get(r, {}).items()))
                for r in RESOURCES}


def load_calibration(path: Path | None = None) -> dict[str, Any]:
    """The calibration data (parsed once per file version: the clock asks often)."""
    path = path or CALIBRATION_FILE
    if not path.is_file():
        raise CalibrationError(f"{path}: no calibration data; make it with "
                               "`python benchmarks/synth.py --calibrate`")
    return _parse(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _parse(path: str, mtime_ns: int) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def measured(row: dict[str, Any]) -> dict[str, float]:
    """A calibration row's Yosys counts under the model's resource names."""
    return {r: float(row["counts"][k]) for r, k in MEASURED_KEY.items()}


def fit_engine(engine: str, rows: list[dict[str, Any]], yosys: str = "") -> EngineFit:
    """Least squares per resource over the rows (held-out rows excluded by the caller)."""
    if not rows:
        raise CalibrationError(f"{engine}: no calibration points")
    feats = [FEATURES[engine](row["parameters"]) for row in rows]
    coefs: dict[str, dict[str, float]] = {}
    for r in RESOURCES:
        names = list(feats[0][r])
        if not names:
            continue
        x = np.array([[f[r][n] for n in names] for f in feats], dtype=float)
        y = np.array([measured(row)[r] for row in rows])
        sol, *_ = np.linalg.lstsq(x, y, rcond=None)
        coefs[r] = {n: float(v) for n, v in zip(names, sol, strict=True)}
    return EngineFit(engine, coefs, len(rows), yosys)


def engine_fit(engine: str, path: Path | None = None) -> EngineFit:
    """The committed fit for one engine (fitted on its non-held-out points)."""
    path = path or CALIBRATION_FILE
    load_calibration(path)  # the error when it is missing
    return _fit(engine, str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=16)
def _fit(engine: str, path: str, mtime_ns: int) -> EngineFit:
    data = _parse(path, mtime_ns)
    rows = [row for row in data.get("points", {}).get(engine, []) if not row.get("held_out")]
    if not rows:
        raise CalibrationError(f"{path}: no calibration points for {engine}")
    return fit_engine(engine, rows, data.get("yosys", ""))


def calibrated(engine: str, parameters: dict[str, int]) -> dict[str, float] | None:
    """Yosys-calibrated resources of one engine, or None without calibration data."""
    try:
        return engine_fit(engine).predict(parameters)
    except CalibrationError:
        return None


def _engine_parameters(engine: str, cfg: DesignConfig) -> dict[str, int]:
    if engine == "spmm":
        from sim.rtl.spmm_case import SpmmParams
        return SpmmParams.from_config(cfg).hdl_parameters()
    from sim.rtl.attention_case import AttentionParams
    return AttentionParams.from_config(cfg).hdl_parameters()


@lru_cache(maxsize=8)
def current_rtl_sha(engine: str) -> str:
    """Hash of the engine's RTL in this work tree (hw.synth.sources_hash), '' if unknown."""
    try:
        from hw.synth import SYNTH_ENGINES, sources_hash

        return sources_hash(SYNTH_ENGINES[engine])
    except (ImportError, KeyError, OSError):
        return ""


def unit_rows(path: Path | None = None) -> dict[str, Any]:
    """The units' synthesis rows (hw/perf/synth_units.json), {} without the file."""
    path = path or UNITS_FILE
    if not path.is_file():
        return {}
    return _read_units(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _read_units(path: Path, stamp: int) -> dict[str, Any]:
    del stamp  # the cache key: a rewritten file is read again
    return json.loads(path.read_text())["units"]


def _unit_clocks(cfg: DesignConfig) -> dict[str, Any]:
    """The LayerNorm and GELU units' supported clocks: they run beside the engines in the
    layer top, so their depth bounds its clock too."""
    from hw.synth import engine_parameters

    out: dict[str, Any] = {}
    for unit, row in unit_rows().items():
        if unit not in UNITS or not row.get("timing"):
            continue
        try:
            same = row["parameters"] == engine_parameters(unit, cfg)
        except ValueError:  # a config the layer top cannot run: the default design's row
            same = False
        source = ("measured depth at these parameters" if same else
                  "measured depth at the default design's parameters (hw/perf/synth_units.json)")
        out[unit] = _depth_clock(unit, row, source, "it was synthesised",
                                 "benchmarks/synth.py --units")
    return out


def _depth_clock(name: str, row: dict[str, Any], source: str, when: str,
                 rerun: str) -> dict[str, Any]:
    """One engine's or unit's supported clock from a synthesis row; a row of older RTL is
    marked stale (it no longer caps the clock) and says what reruns it."""
    stale = row.get("rtl_sha") != current_rtl_sha(name)
    if stale:
        source += (f"; STALE: the RTL changed since {when}, so it does not cap the clock "
                   f"until `{rerun}` reruns")
    t = row["timing"]
    return {"fmax_mhz": t["fmax_mhz"], "levels": t["levels"], "delay_ns": t["delay_ns"],
            "source": source, "stale": stale}


def supported_clock(cfg: DesignConfig, path: Path | None = None) -> dict[str, Any] | None:
    """The clock each RTL engine and layer unit supports (from its measured logic depth,
    hw.synth_timing) and the slowest one; None without calibration data.

    An engine synthesised at exactly this config's parameters gives its own figure;
    otherwise the slowest of its calibration points stands in (said in `source`). The
    LayerNorm and GELU units come from their one run each (hw/perf/synth_units.json).
    """
    try:
        data = load_calibration(path)
    except CalibrationError:
        return None
    engines: dict[str, Any] = {}
    for engine, rows in data.get("points", {}).items():
        timed = [r for r in rows if r.get("timing")]
        if not timed or engine not in FEATURES:
            continue
        params = _engine_parameters(engine, cfg)
        same = [r for r in timed if r["parameters"] == params]
        if same:
            row, source = same[0], "measured depth at these parameters"
        else:
            row = min(timed, key=lambda r: r["timing"]["fmax_mhz"])
            source = "slowest calibration point (these parameters were not synthesised)"
        commit = data.get("rtl_commit", {}).get(engine, "?")[:9]
        engines[engine] = _depth_clock(engine, row, source,
                                       f"it was calibrated (commit {commit})",
                                       "benchmarks/synth.py --calibrate")
    engines.update(_unit_clocks(cfg))
    if not engines:
        return None
    current = {e: v for e, v in engines.items() if not v["stale"]}
    slowest = min(current, key=lambda e: engines[e]["fmax_mhz"]) if current else None
    return {"engines": engines, "slowest_engine": slowest,
            "supported_mhz": engines[slowest]["fmax_mhz"] if slowest else None,
            "yosys": data.get("yosys", "")}
