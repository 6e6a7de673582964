"""`sbf boards list` and `sbf boards show NAME`."""

from __future__ import annotations

import argparse
from typing import Any

from boards.loader import DEFAULT_BOARD, BoardError, list_boards, load_board
from host.cli import Cli, CliError

# The columns of `sbf boards list`: enough to choose a device at a glance.
SUMMARY_KEYS = ("name", "part", "clock_mhz", "dsp", "kernel_dsp", "bram36", "uram", "lut",
                "memory_bandwidth_gbs", "power_w", "cost")


def register(cli: Cli) -> None:
    cli.group("boards", help="FPGA boards the project can target")
    cli.subcommand("boards", "list", _list, help="list the known boards with their main figures")
    p = cli.subcommand("boards", "show", _show, help="every figure of one board")
    p.add_argument("name", help=f"board name (e.g. {DEFAULT_BOARD}) or path to a board YAML")


def _list(args: argparse.Namespace) -> dict[str, Any] | None:
    try:
        rows = [{k: v for k, v in load_board(n).to_dict().items() if k in SUMMARY_KEYS}
                for n in list_boards()]
    except BoardError as e:
        raise CliError(str(e)) from None
    if args.json:
        return {"default": DEFAULT_BOARD, "boards": rows}
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in SUMMARY_KEYS}
    print("  ".join(k.ljust(widths[k]) for k in SUMMARY_KEYS))
    for r in rows:
        print("  ".join(str(r[k]).ljust(widths[k]) for k in SUMMARY_KEYS))
    return None


def _show(args: argparse.Namespace) -> dict[str, Any]:
    try:
        return load_board(args.name).to_dict()
    except BoardError as e:
        raise CliError(str(e)) from None
