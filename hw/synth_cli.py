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
    if getattr(args, "json", False):
        return out
    _print_table(out)
    return None


COLUMNS = ("lut_total", "lut", "ff", "carry", "dsp", "ramb36", "ramb18", "uram",
           "lutram", "srl")


def _print_table(out: dict[str, Any]) -> None:
    """People get a table: counts (measured), then depth and clock (modeled)."""
    engines = [v for k, v in out.items() if k != "clock"]
    print(f"{'engine':10}" + "".join(f"{c:>10}" for c in COLUMNS)
          + f"{'levels':>8}{'carry':>6}{'ns':>7}{'MHz':>7}")
    for r in engines:
        c, t = r["counts"], r["timing"]
        print(f"{r['engine']:10}" + "".join(f"{c[k]:>10}" for k in COLUMNS)
              + f"{t['levels']:>8}{t['carry_cells']:>6}{t['delay_ns']:>7.2f}"
              f"{r['fmax_mhz']:>7.1f}")
    for r in engines:
        if "mac_lanes" in r:
            print(f"{r['engine']}: {r['mac_lanes']} MAC lanes, {r['dsp_per_mac']} DSP/MAC, "
                  f"{r['lut_per_mac']} LUT/MAC")
    clk = out["clock"]
    print(f"clock: config {clk['config_mhz']} MHz, slowest engine {clk['slowest_engine']} "
          f"supports {clk['supported_mhz']} MHz -> design {clk['design_mhz']} MHz "
          "(counts measured by Yosys; depth-to-clock modeled, hw/synth_timing.py)")
