"""Board descriptions: typed, validated views of `boards/<name>.yaml`.

The resource model, the design-space search and the host read device totals and the
share the shell leaves to kernels from here and nowhere else. Every error names the file
and the key, so a typo in a board file never turns into a silently wrong estimate.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

BOARD_DIR = Path(__file__).resolve().parent
DEFAULT_BOARD = "u200"
BOARD_SUFFIX = ".yaml"
# Bank bandwidths must add up to the stated total within this relative tolerance.
BANDWIDTH_REL_TOL = 1e-3
# Device totals and the kernel share each one bounds.
KERNEL_SHARES = {"kernel_lut": "lut", "kernel_dsp": "dsp", "kernel_bram36": "bram36",
                 "kernel_uram": "uram"}


class BoardError(ValueError):
    """An invalid or unknown board; the message names the file and the key."""


@dataclass(frozen=True)
class MemoryBank:
    """`count` identical banks (HBM pseudo-channels come as one entry with a count)."""

    name: str
    kind: str
    count: int
    size_gb: float
    bandwidth_gbs: float  # per bank
    slr: int


@dataclass(frozen=True)
class SlrShare:
    """What the shell leaves to kernels in one SLR (super logic region) of the device."""

    slr: int
    lut: int
    ff: int
    dsp: int
    bram36: int
    uram: int


# SlrShare fields and the Board kernel_* total each one is part of.
SLR_TOTALS = {"lut": "kernel_lut", "dsp": "kernel_dsp", "bram36": "kernel_bram36",
              "uram": "kernel_uram"}


@dataclass(frozen=True)
class Pcie:
    """The host link; edge boards have none."""

    gen: int
    lanes: int
    gbs_per_direction: float


@dataclass(frozen=True)
class Board:
    """One board's resources. `kernel_*` is what the shell leaves to our kernels."""

    name: str
    description: str
    family: str
    part: str
    platform: str
    clock_mhz: float
    slrs: int
    lut: int
    ff: int
    dsp: int
    bram36: int
    uram: int
    kernel_lut: int
    kernel_dsp: int
    kernel_bram36: int
    kernel_uram: int
    memory: tuple[MemoryBank, ...]
    memory_bandwidth_gbs: float
    pcie: Pcie | None
    power_w: float
    cost: int  # relative rank, 1 = cheapest
    static_power_w: float = 0.0  # the card idle with a kernel loaded; 0 = unknown
    assumed: tuple[str, ...] = ()  # keys whose figures are assumptions, not sourced
    # Kernel share per SLR; empty: the kernel_* totals split evenly (see slr_shares).
    slr_kernel: tuple[SlrShare, ...] = ()
    source: str = ""  # the file it was read from

    def slr_shares(self) -> tuple[SlrShare, ...]:
        """The kernel share of every SLR: as listed, or the totals split evenly."""
        if self.slr_kernel:
            return self.slr_kernel
        n = self.slrs
        return tuple(SlrShare(i, self.kernel_lut // n, self.ff // n, self.kernel_dsp // n,
                              self.kernel_bram36 // n, self.kernel_uram // n)
                     for i in range(n))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["memory"] = [dataclasses.asdict(b) for b in self.memory]
        d["assumed"] = list(self.assumed)
        d["slr_kernel"] = [dataclasses.asdict(s) for s in self.slr_kernel]
        return d


def _check_type(value: Any, hint: Any, where: str) -> Any:
    """`value` as `hint` (an int is a valid float), else a BoardError naming `where`."""
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BoardError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise BoardError(f"{where}: must be a non-negative number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BoardError(f"{where}: expected an integer, got {value!r}")
        if value < 0:
            raise BoardError(f"{where}: must not be negative, got {value}")
        return value
    if not isinstance(value, str) or not value:
        raise BoardError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _build(cls: type, data: Any, file: str, key: str,
           skip: frozenset[str] = frozenset()) -> Any:
    """A dataclass from a mapping at `key` of `file`: unknown, missing, mistyped keys named."""
    at = f"{file}: {key}" if key else file
    if not isinstance(data, dict):
        raise BoardError(f"{at}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise BoardError(f"{file}: {key}{'.' if key else ''}{unknown[0]}: unknown key "
                         f"(known: {', '.join(sorted(fields))})")
    values = {}
    for name, f in fields.items():
        sub = f"{key}.{name}" if key else name
        if name not in data:
            if f.default is dataclasses.MISSING:
                raise BoardError(f"{file}: {sub}: missing")
            continue
        values[name] = _convert(data[name], hints[name], file, sub)
    return cls(**values)


def _convert(value: Any, hint: Any, file: str, key: str) -> Any:
    if hint == (Pcie | None):
        return None if value is None else _build(Pcie, value, file, key)
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, list):
            raise BoardError(f"{file}: {key}: expected a list, got {value!r}")
        if item in (MemoryBank, SlrShare):
            return tuple(_build(item, v, file, f"{key}[{i}]") for i, v in enumerate(value))
        return tuple(_check_type(v, item, f"{file}: {key}[{i}]") for i, v in enumerate(value))
    return _check_type(value, hint, f"{file}: {key}")


def _validate(board: Board, file: str) -> None:
    """Cross-field rules: kernel shares within the device, banks add up, SLRs exist."""
    for share, total in KERNEL_SHARES.items():
        if getattr(board, share) > getattr(board, total):
            raise BoardError(f"{file}: {share}: {getattr(board, share)} exceeds the device "
                             f"total {total}={getattr(board, total)}")
    for key in ("clock_mhz", "slrs"):
        if getattr(board, key) <= 0:
            raise BoardError(f"{file}: {key}: must be positive, got {getattr(board, key)}")
    if not board.memory:
        raise BoardError(f"{file}: memory: at least one bank is needed")
    for i, bank in enumerate(board.memory):
        if bank.slr >= board.slrs:
            raise BoardError(f"{file}: memory[{i}].slr: {bank.slr} but the board has "
                             f"{board.slrs} SLRs")
        if bank.count < 1:
            raise BoardError(f"{file}: memory[{i}].count: must be at least 1")
    total = sum(b.count * b.bandwidth_gbs for b in board.memory)
    if not math.isclose(total, board.memory_bandwidth_gbs, rel_tol=BANDWIDTH_REL_TOL):
        raise BoardError(f"{file}: memory_bandwidth_gbs: {board.memory_bandwidth_gbs} but the "
                         f"banks add up to {total:g}")
    if board.slr_kernel:
        if sorted(s.slr for s in board.slr_kernel) != list(range(board.slrs)):
            raise BoardError(f"{file}: slr_kernel: needs one entry per SLR 0..{board.slrs - 1}")
        for field, total in SLR_TOTALS.items():
            got = sum(getattr(s, field) for s in board.slr_kernel)
            if got > getattr(board, total):
                raise BoardError(f"{file}: slr_kernel: the {field} of the SLRs add up to {got}, "
                                 f"more than {total}={getattr(board, total)}")
    names = {f.name for f in dataclasses.fields(Board)}
    for key in board.assumed:
        if key not in names:
            raise BoardError(f"{file}: assumed: {key!r} is not a board key")


def board_path(name_or_path: str | os.PathLike) -> Path:
    """The YAML file for a board name (`u200`) or an explicit path."""
    p = Path(name_or_path)
    if p.suffix in (BOARD_SUFFIX, ".yml") or p.exists():
        if not p.is_file():
            raise BoardError(f"{p}: no such board file")
        return p
    p = BOARD_DIR / f"{name_or_path}{BOARD_SUFFIX}"
    if not p.is_file():
        raise BoardError(f"unknown board {str(name_or_path)!r} (known: {', '.join(list_boards())})")
    return p


def load_board(name_or_path: str | os.PathLike = DEFAULT_BOARD) -> Board:
    """Read and validate one board file; errors read `<file>: <key>: <problem>`."""
    path = board_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise BoardError(f"{path}: not valid YAML ({e})") from None
    except UnicodeDecodeError:
        raise BoardError(f"{path}: not a text file (a board YAML is UTF-8 text); pass a "
                         "board name or a board YAML") from None
    board = _build(Board, data, str(path), "", skip=frozenset({"source"}))
    _validate(board, str(path))
    return dataclasses.replace(board, source=str(path))


def list_boards() -> list[str]:
    """Names of the boards shipped in this package, sorted."""
    return sorted(p.stem for p in BOARD_DIR.glob(f"*{BOARD_SUFFIX}"))
