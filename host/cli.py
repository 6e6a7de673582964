"""The `sbf` command line.

Each part of the project contributes its own subcommands through a `register(cli)`
function in the module listed in `COMMAND_MODULES`, so that no part edits another's
parser. Handlers return a JSON-able dict, or `(dict, exit_status)` when a check can fail;
`emit` prints it as JSON (`--json`) or as aligned text, so every command that reports
numbers has `--json` for free.

Exit codes, one rule for every command: 0 success; 1 the command ran and a check failed
(not bit-exact, a selection without a winner); 2 a user error, printed as ONE line on
stderr that names the input, the problem and the fix (argparse errors included); 3 a
tool the command needs is missing (Vitis); 70 an internal error (a bug: the one line
says to rerun with `--debug`, which shows the traceback). JSON output is strict
(RFC 8259): NaN and infinities are written as null, through `to_json`, the one writer.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # sysexits.h EX_SOFTWARE
EXIT_INTERRUPTED = 130
DEBUG_ENV = "SBF_DEBUG"  # SBF_DEBUG=1 is `--debug` for every command
PACKAGE = "sparse-bert-fpga"
# Exception types whose messages are written for users (they name the field, file or
# value): raised past a handler they still end as one line and exit 2, not a traceback.
# (module, class); looked up only in modules already imported, so this costs nothing.
USER_ERRORS = (
    ("hw.config", "ConfigError"),
    ("boards.loader", "BoardError"),
    ("algo.glue", "GlueError"),
    ("algo.models", "ModelError"),
    ("algo.hp.artifact", "ArtifactError"),
    ("algo.hp.format", "HPFormatError"),
    ("hw.render", "RenderError"),
    ("sim.rtl.simulators", "SimulatorMissing"),
    ("algo.train", "CheckpointError"),
)

# One line per part; each module defines `register(cli: Cli) -> None`.
COMMAND_MODULES = [
    "boards.cli",
    "algo.data_cli",
    "algo.hp.cli",
    "algo.buckets_cli",
    "algo.prune_cli",
    "hw.perf_cli",
    "hw.hls_cli",
    "hw.synth_cli",
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


class Parser(argparse.ArgumentParser):
    """argparse with the project's error rule: one line (no usage block), exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {one_line(message)} "
                         f"(see {self.prog} --help)\n")
        sys.exit(EXIT_USAGE)

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # `--opt=--` reaches here as ["--"], which argparse drops, passing an empty list
        # on as the value (no type check); refuse it as the missing value it is.
        if action.option_strings and arg_strings == ["--"]:
            self.error(f"argument {'/'.join(action.option_strings)}: expected a value, "
                       f"got '--'")
        return super()._get_values(action, arg_strings)


def one_line(message: object) -> str:
    """A message on one line: errors go to logs and terminals one per line."""
    return " ".join(str(message).split())


def error_line(message: object) -> str:
    """An error's one line: its first line, and how to see the rest (a log tail, say)."""
    first, *rest = str(message).strip().splitlines() or [""]
    more = f" [{len(rest)} more lines: rerun with --debug]" if rest else ""
    return one_line(first) + more


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (counts, lengths, sizes)."""
    value = _number(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = _number(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def finite_float(text: str) -> float:
    """argparse type: a float that is neither NaN nor infinite."""
    value = _number(text, float, "a number")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def fraction(text: str) -> float:
    """argparse type: a float in (0, 1] (densities, shares)."""
    value = finite_float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def _number(text: str, kind: type, what: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def existing_file(option: str, path: str | os.PathLike | None) -> Path | None:
    """`path` as a Path when it is a readable file; CliError naming `option` otherwise."""
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        what = "is a directory, expected a file" if p.is_dir() else "no such file"
        raise CliError(f"{option}: {p} {what}")
    return p


def show_progress(args: argparse.Namespace | None = None) -> bool:
    """Progress bars go to stderr, so they show whenever stderr is a terminal, --json or
    not (stdout stays clean JSON); `--no-progress`, where a command has it, turns them off."""
    if args is not None and getattr(args, "no_progress", False):
        return False
    return sys.stderr.isatty()


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
        sys.stdout.write(to_json(result, indent=2) + "\n")
        return
    if isinstance(result, dict):
        width = max((len(str(k)) for k in result), default=0)
        for k, v in result.items():
            if isinstance(v, dict | list):
                v = to_json(v)
            print(f"{str(k).ljust(width)}  {v}")
    else:
        print(result)


def to_json(obj: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    """Strict JSON (RFC 8259), the one writer of every --json output and JSON result file:
    NaN and +-infinity become null (JSON has no such numbers; Python's default writes a
    bare NaN that strict parsers reject), NumPy scalars and arrays become numbers and
    lists, Paths and other objects their string."""
    return json.dumps(json_safe(obj), indent=indent, sort_keys=sort_keys, allow_nan=False)


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2,
               sort_keys: bool = False) -> Path:
    """`to_json` into a file (parents created), with the trailing newline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_json(obj, indent=indent, sort_keys=sort_keys) + "\n")
    return path


def json_safe(obj: Any) -> Any:
    """`obj` with only JSON types left and non-finite floats as None (see `to_json`)."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str | int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k if isinstance(k, str | int | float | bool) or k is None else str(k):
                json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [json_safe(v) for v in obj]
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, np.integer):
            return int(obj)
        if isinstance(obj, np.floating):
            return json_safe(float(obj))
        if isinstance(obj, np.ndarray):
            return json_safe(obj.tolist())
    return str(obj)


def package_version() -> str:
    """The installed distribution's version (pyproject.toml in a plain checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        return tomllib.loads(pyproject.read_text())["project"]["version"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sbf", description="Sparse BERT on FPGAs: prune, quantize, generate, simulate, run.",
        epilog="Exit status: 0 ok, 1 a check failed, 2 a usage error (one line on stderr), "
               f"3 a missing tool, {EXIT_INTERNAL} an internal error (rerun with --debug).")
    parser.add_argument("--version", action="version", version=f"sbf {package_version()}")
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of an error (also ${DEBUG_ENV}=1)")
    cli = Cli(parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(cli)
    return parser


def _user_error(e: BaseException) -> bool:
    """Whether `e` is one of the USER_ERRORS (its message is meant for the user)."""
    for module, name in USER_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(e, cls):
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version (0) and Parser.error (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        result = args.handler(args)
    except KeyboardInterrupt:
        print("sbf: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        if debug:
            traceback.print_exc()
        if isinstance(e, CliError) or _user_error(e):
            if not debug:
                print(f"sbf: error: {error_line(e)}", file=sys.stderr)
            return EXIT_USAGE
        if not debug:
            print(f"sbf: internal error: {type(e).__name__}: {error_line(e)} (a bug; rerun "
                  f"with `sbf --debug ...` for the traceback and report it)", file=sys.stderr)
        return EXIT_INTERNAL
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
