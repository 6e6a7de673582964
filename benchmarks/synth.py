"""Full-size Yosys synthesis of the RTL engines, and the calibration of the resource model.

    python benchmarks/synth.py               # -> benchmarks/results/synth.json
    python benchmarks/synth.py --calibrate   # -> hw/perf/synth_calibration.json
    python benchmarks/synth.py --units       # -> hw/perf/synth_units.json

The first synthesises each engine at the default design's parameters and sets the
measured counts (Yosys) beside what the calibrated model (`hw.perf`) predicts; the
second synthesises `hw.perf.synth_model.CALIBRATION_POINTS` on the RTL as committed at
HEAD (others may be editing the work tree) and writes the points the model is fitted to.
Results are cached (`SBF_CACHE_DIR`), so a rerun costs only what changed.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from host.cli import write_json  # noqa: E402
from hw.config import DesignConfig  # noqa: E402
from hw.perf.synth_model import (  # noqa: E402
    CALIBRATION_FILE,
    CALIBRATION_POINTS,
    MEASURED_KEY,
    fit_engine,
    load_calibration,
    measured,
    point_parameters,
)
from hw.synth import SYNTH_COMMAND, snapshot_rtl, synthesize, yosys_version  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "synth.json"


def _row(res: dict[str, Any], point: dict[str, Any] | None = None) -> dict[str, Any]:
    row = {k: res[k] for k in ("engine", "top", "parameters", "counts", "timing", "rtl_sha",
                               "yosys_seconds")}
    for k in ("mac_lanes", "dsp_per_mac", "lut_per_mac"):
        if k in res:
            row[k] = res[k]
    if point is not None:
        row["point"] = {k: v for k, v in point.items() if k != "held_out"}
        row["held_out"] = bool(point.get("held_out"))
    return row


def calibrate(engines: list[str], rev: str, engine_revs: dict[str, str]) -> dict[str, Any]:
    """Synthesise every point of `engines`; `engine_revs` pins an engine to another commit's
    RTL. The other engines' points stay as the last calibration left them (`runs` says
    which command, machine and Yosys made each engine's points)."""
    from host.machine import machine_info

    old = load_calibration() if CALIBRATION_FILE.is_file() else {}
    points = {e: rows for e, rows in old.get("points", {}).items() if e not in engines}
    commits = {e: c for e, c in old.get("rtl_commit", {}).items() if e in points}
    runs = {e: r for e, r in old.get("runs", {}).items() if e in points}
    run = {"benchmark_command": shlex.join([sys.executable, *sys.argv]),
           "machine": machine_info(torch_details=False), "yosys": yosys_version()}
    for engine in engines:
        rtl_dir, commits[engine] = snapshot_rtl(engine_revs.get(engine, rev))
        points[engine] = []
        for point in CALIBRATION_POINTS[engine]:
            params = point_parameters(engine, point)
            print(f"[calibrate] {engine} {params}", file=sys.stderr, flush=True)
            points[engine].append(_row(synthesize(engine, params, rtl_dir=rtl_dir), point))
        runs[engine] = run
    doc = {"what": "Yosys synthesis points the hw.perf resource model is fitted to",
           "figures": "measured (Yosys cell counts); timing modeled from the netlist depth",
           "yosys": run["yosys"], "command": SYNTH_COMMAND, "rtl_commit": commits,
           "benchmark_command": run["benchmark_command"], "machine": run["machine"],
           "runs": runs, "points": points}
    write_json(CALIBRATION_FILE, doc)
    return doc


def units(config: str | None, rev: str) -> dict[str, Any]:
    """The layer top's LayerNorm and GELU units, one run each at the config's parameters:
    their counts feed the layer top's resources, their depth its clock."""
    from datetime import date

    from hw.perf.synth_model import UNITS, UNITS_FILE
    from hw.synth import engine_parameters

    cfg = DesignConfig.from_yaml(config)
    rtl_dir, commit = snapshot_rtl(rev)
    rows = {}
    for unit in UNITS:
        res = synthesize(unit, engine_parameters(unit, cfg), rtl_dir=rtl_dir)
        rows[unit] = _row(res) | {"yosys": res["yosys"], "script": res["script"]}
    doc = {"what": "Yosys synthesis of the layer top's LayerNorm and GELU units at the "
                   "parameters of `config`: one point each, scaled by lanes in "
                   "hw.perf.layer.unit_logic",
           "figures": "measured (Yosys cell counts); timing modeled from the netlist depth",
           "command": shlex.join([sys.executable, *sys.argv]),
           "config": config or "hw/configs/minilm-u200.yaml", "rtl_commit": commit,
           "date": date.today().isoformat(), "units": rows}
    write_json(UNITS_FILE, doc)
    return doc


def full_size(engines: list[str], config: str | None, rev: str,
              engine_revs: dict[str, str], out: Path = RESULTS) -> dict[str, Any]:
    from hw.synth import SynthError, engine_parameters

    cfg = DesignConfig.from_yaml(config)
    rows = []
    for engine in engines:
        rtl_dir, commit = snapshot_rtl(engine_revs.get(engine, rev))
        params = engine_parameters(engine, cfg)
        try:
            res = synthesize(engine, params, rtl_dir=rtl_dir)
        except SynthError as e:  # recorded, not hidden: the next engine still runs
            rows.append({"engine": engine, "parameters": params, "rtl_commit": commit,
                         "error": str(e)})
            continue
        row = _row(res)
        row["rtl_commit"] = commit
        row["figures"] = "measured (Yosys); fmax modeled from the measured depth"
        if engine in CALIBRATION_POINTS:
            from hw.perf.synth_model import engine_fit

            pred = engine_fit(engine).predict(res["parameters"])
            meas = measured(res)
            row["model"] = {
                "figures": "modeled (hw.perf.synth_model fit to hw/perf/synth_calibration.json)",
                "predicted": {k: round(v, 1) for k, v in pred.items()},
                "relative_error": {k: (pred[k] - meas[k]) / meas[k] if meas[k] else None
                                   for k in MEASURED_KEY}}
        rows.append(row)
    from host.machine import machine_info

    doc = {"command": shlex.join([sys.executable, *sys.argv]),
           "machine": machine_info(torch_details=False), "yosys": yosys_version(),
           "synth_command": SYNTH_COMMAND, "config": config or "hw/configs/minilm-u200.yaml",
           "design": _design_summary(cfg), "rows": rows}
    write_json(out, doc)
    return doc


def _design_summary(cfg: DesignConfig) -> dict[str, Any]:
    """What the calibrated model makes of the design: groups that fit per SLR, the clock
    and the latency at each bucket edge (modeled)."""
    from boards.loader import load_board
    from hw.perf.model import build_design, estimate
    from hw.perf.ops import uniform_weights, with_density

    density = 0.2
    dcfg = with_density(cfg, density)
    design = build_design(dcfg, load_board(cfg.board), uniform_weights(dcfg, density))
    est = estimate(design, list(cfg.bucket_edges))
    return {"figures": f"modeled ({est['model']}), uniform HP density {density}",
            "board": est["board"], "pe_groups_that_fit": est["pe_groups"],
            "attention_engines": est["attention_engines"], "clock": est["clock"],
            "resource_model": est["resource_model"],
            "floorplan": [{k: s[k] for k in ("slr", "pe_groups", "attention_engines", "used",
                                             "kernel_share")} for s in est["floorplan"]],
            "latency_ms": {r["length"]: r["latency_ms"] for r in est["per_length"]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibrate", action="store_true",
                    help="synthesise the calibration points instead")
    ap.add_argument("--units", action="store_true",
                    help="synthesise the LayerNorm and GELU units -> hw/perf/synth_units.json")
    ap.add_argument("--engines", nargs="+", default=None,
                    help="engines (default: spmm attention; calibration: all with points)")
    ap.add_argument("--rev", default="HEAD", help="commit whose RTL is synthesised (HEAD)")
    ap.add_argument("--engine-rev", action="append", default=[], metavar="ENGINE=REV",
                    help="synthesise ENGINE on the RTL of commit REV instead")
    ap.add_argument("--config", help="design config of the full-size run")
    ap.add_argument("--out", type=Path, default=RESULTS, help=f"results file ({RESULTS.name})")
    args = ap.parse_args()
    revs = dict(item.split("=", 1) for item in args.engine_rev)
    if args.units:
        for unit, r in units(args.config, args.rev)["units"].items():
            print(unit, r["counts"], r["timing"]["fmax_mhz"], "MHz")
    elif args.calibrate:
        doc = calibrate(args.engines or list(CALIBRATION_POINTS), args.rev, revs)
        for engine, rows in doc["points"].items():
            fit = fit_engine(engine, [r for r in rows if not r["held_out"]])
            for r in rows:
                pred = fit.predict(r["parameters"])
                print(engine, r["point"], "held out" if r["held_out"] else "",
                      {k: f"{measured(r)[k]:.0f}/{pred[k]:.0f}" for k in MEASURED_KEY})
    else:
        doc = full_size(args.engines or ["spmm", "attention"], args.config, args.rev, revs,
                        args.out)
        for r in doc["rows"]:
            print(r["engine"], r.get("error") or (r["counts"], r["timing"]["fmax_mhz"], "MHz"))


if __name__ == "__main__":
    main()
