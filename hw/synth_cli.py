"""`sbf hw synth`: Yosys synthesis of the RTL engines, counts, depth and supported clock."""

from __future__ import annotations

import argparse
from typing import Any

from host.cli import Cli, CliError
from hw.config import ConfigError, DesignConfig


def register(cli: Cli) -> None:
    from hw.synth import SYNTH_ENGINES

    p = cli.subcommand("hw", "synth", _synth,
                       "Yosys synthesis of the RTL engines: LUT/FF/DSP/BRAM/URAM counts, "
                       "logic depth and the clock it supports")
    p.add_argument("--engine", default="all", choices=[*SYNTH_ENGINES, "all"],
                   help="engine to synthesise (default all)")
    p.add_argument("--config", help="design config YAML (default hw/configs/minilm-u200.yaml)")
    p.add_argument("--small", action="store_true",
                   help="a small parameter set of each engine (seconds, not minutes: CI)")


def _synth(args: argparse.Namespace) -> dict[str, Any]:
    from hw.synth import SYNTH_ENGINES, SynthError, engine_parameters, synthesize
    from hw.synth_timing import TimingError

    try:
        cfg = DesignConfig.from_yaml(args.config)
    except ConfigError as e:
        raise CliError(str(e)) from None
    names = ([n for n, e in SYNTH_ENGINES.items() if e.in_all] if args.engine == "all"
             else [args.engine])
    out: dict[str, Any] = {}
    try:
        for name in names:
            out[name] = synthesize(name, engine_parameters(name, cfg, args.small))
    except (SynthError, TimingError, ValueError) as e:
        raise CliError(str(e)) from None
    slowest = min(out.values(), key=lambda r: r["fmax_mhz"])
    out["clock"] = {"config_mhz": cfg.clock_mhz, "slowest_engine": slowest["engine"],
                    "supported_mhz": slowest["fmax_mhz"],
                    "design_mhz": min(cfg.clock_mhz, slowest["fmax_mhz"])}
    return out
