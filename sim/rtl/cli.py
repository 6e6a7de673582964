"""`sbf sim run`: simulate an RTL engine with cocotb and check it against the golden model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from host.cli import Cli, CliError

ENGINES = ("spmm",)
DEFAULT_LENGTHS = "1,8,32"
DEFAULT_DENSITY = 0.2


def register(cli: Cli) -> None:
    p = cli.subcommand("sim", "run", run,
                       "simulate an RTL engine (cocotb) on real MiniLM and random cases; "
                       "check every output against the golden model; report cycles")
    p.add_argument("--engine", choices=ENGINES, required=True)
    p.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    p.add_argument("--config", default=None,
                   help="design config YAML (default hw/configs/minilm-u200.yaml)")
    p.add_argument("--lengths", default=DEFAULT_LENGTHS,
                   help=f"comma-separated sequence lengths (default {DEFAULT_LENGTHS})")
    p.add_argument("--seed", type=int, default=0, help="random cases and stream gaps")
    p.add_argument("--density", type=float, default=DEFAULT_DENSITY,
                   help=f"HP weight density of the cases (default {DEFAULT_DENSITY})")
    p.add_argument("--stress", action="store_true",
                   help="random input gaps and output backpressure (cycles then exceed "
                        "the cycle formula)")
    p.add_argument("--waves", action="store_true", help="dump waveforms (VCD/FST)")
    p.add_argument("--build-dir", type=Path, default=None,
                   help="where builds are kept (default out/rtl_build)")


def _lengths(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise CliError(f"--lengths: {text!r} is not a comma-separated list of integers") from None
    if not values:
        raise CliError("--lengths: give at least one length")
    return values


def run(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    from hw.config import ConfigError, DesignConfig
    from sim.rtl.runner import RtlSimError
    from sim.rtl.simulators import SimulatorMissing, find_simulator
    from sim.rtl.spmm_case import SpmmParams, suite
    from sim.rtl.spmm_sim import simulate_spmm
    from sim.rtl.stimulus import StimulusOptions

    try:
        cfg = DesignConfig.from_yaml(args.config)
        sim = find_simulator(args.simulator)
        params = SpmmParams.from_config(cfg)
        cases = suite(params, _lengths(args.lengths), args.density, args.seed)
    except (ConfigError, SimulatorMissing, ValueError) as e:
        raise CliError(str(e)) from None
    options = StimulusOptions(input_gaps=args.stress, output_backpressure=args.stress,
                              seed=args.seed)
    try:
        rows = simulate_spmm(cases, params, sim, options, args.build_dir, args.waves)
    except RtlSimError as e:
        raise CliError(str(e)) from None
    ok = all(r["bit_exact"] for r in rows)
    result = {
        "engine": args.engine,
        "simulator": sim.name,
        "simulator_version": sim.version,
        "config": str(args.config or "hw/configs/minilm-u200.yaml"),
        "parameters": params.hdl_parameters(),
        "stimulus": "random gaps and backpressure" if args.stress else "ideal streams",
        "bit_exact": ok,
        "cases": rows,
        "cycles": {r["name"]: r["cycles"] for r in rows},
        "macs": {r["name"]: r["macs"] for r in rows},
        "utilization": {r["name"]: r["utilization"] for r in rows},
    }
    return result, 0 if ok else 1
