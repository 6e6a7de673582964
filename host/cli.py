"""The `sbf` command line.

Each part of the project contributes its own subcommands through a `register(cli)`
function in the module listed in `COMMAND_MODULES`, so that no part edits another's
parser. Handlers return a JSON-able dict, or `(dict, exit_status)` when a check can fail;
`emit` prints it as JSON (`--json`) or as aligned text, so every command that reports
numbers has `--json` for free.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from typing import Any

# One line per part; each module defines `register(cli: Cli) -> None`.
COMMAND_MODULES = [
    "boards.cli",
    "algo.data_cli",
    "algo.hp.cli",
    "algo.buckets_cli",
    "algo.prune_cli",
    "hw.perf_cli",
    "hw.hls_cli",
    "sim.rtl.cli",
    "host.run_cli",
    "host.demo",
    "sim.golden.cli",
]


# Descriptions of the command groups that several parts add subcommands to.
GROUP_HELP = {
    "hw": "hardware: render and C-simulate HLS, build with Vitis, estimate, schedule, explore",
    "sim": "RTL simulation of the engines with cocotb, checked against the golden model",
    "golden": "the integer golden model: fidelity against the float model",
    "prune": "prune a model into HP form",
}


class CliError(Exception):
    """A user-facing error: printed as `sbf: error: ...` with exit status 2, no traceback."""


class Cli:
    """Hands out parsers: top-level commands and named groups (`sbf hw render`)."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._top = parser.add_subparsers(dest="command", metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def command(
        self, name: str, handler: Callable[[argparse.Namespace], Any], help: str
    ) -> argparse.ArgumentParser:
        p = self._top.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        add_json_flag(p)
        return p

    def group(self, name: str, help: str = "") -> argparse._SubParsersAction:
        if name not in self._groups:
            help = help or GROUP_HELP.get(name, "")
            g = self._top.add_parser(name, help=help, description=help)
            g.set_defaults(handler=lambda _a, g=g: g.print_help() or 2)
            self._groups[name] = g.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
        return self._groups[name]

    def subcommand(
        self, group: str, name: str, handler: Callable[[argparse.Namespace], Any], help: str
    ) -> argparse.ArgumentParser:
        p = self.group(group).add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        add_json_flag(p)
        return p


def add_json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def emit(result: Any, as_json: bool) -> None:
    """Print a command's result: JSON for machines, `key: value` lines for people."""
    if result is None:
        return
    if as_json:
        json.dump(result, sys.stdout, indent=2, sort_keys=False, default=_json_default)
        sys.stdout.write("\n")
        return
    if isinstance(result, dict):
        width = max((len(str(k)) for k in result), default=0)
        for k, v in result.items():
            if isinstance(v, dict | list):
                v = json.dumps(v, default=_json_default)
            print(f"{str(k).ljust(width)}  {v}")
    else:
        print(result)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sbf", description="Sparse BERT on FPGAs: prune, quantize, generate, simulate, run."
    )
    cli = Cli(parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(cli)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        result = args.handler(args)
    except CliError as e:
        print(f"sbf: error: {e}", file=sys.stderr)
        return 2
    code = 0
    if isinstance(result, int):
        return result
    if isinstance(result, tuple):  # (result, exit status): checks that fail still report
        result, code = result
    emit(result, getattr(args, "json", False))
    return code


if __name__ == "__main__":
    # Run as `python -m host.cli`, this file is `__main__`; call the imported module's main
    # so that the CliError raised by the parts is the class caught there.
    from host.cli import main as _main

    sys.exit(_main())
