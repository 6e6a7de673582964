"""What every backend offers the accelerator: buffers allocated once, syncs, one kernel call.

The accelerator speaks only this protocol, so the board (PYNQ or pyxrt) and the emulation
backend receive the same buffers, filled the same way, and the same kernel arguments in
the same order. A backend owns the device-side objects; `close` releases all of them.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

BANK_INDEX = re.compile(r"\w*\[(\d+)\]")  # the index in a board file's bank name, DDR[1]
SHELL_BANK_TAG = "bank{}"  # how U200/U250 shells tag DDR bank i in their memory topology


class BackendError(RuntimeError):
    """A backend cannot run: the message names what is missing and how to get it."""


class Direction(Enum):
    """How a buffer moves: weights go up once, inputs up per batch, outputs down per batch."""

    CONST = "const"
    IN = "in"
    OUT = "out"


@dataclass(frozen=True)
class BufferSpec:
    """One device buffer: a kernel argument with a fixed shape, dtype and memory bank."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    direction: Direction
    bank: str  # the memory (e.g. "DDR[1]") the `v++` connectivity maps this argument to
    bank_index: int | None = None  # its position among the board file's memory banks

    @property
    def bank_tags(self) -> tuple[str, ...]:
        """Names an xclbin's memory topology may give the bank: the board file's own
        (`DDR[1]`) and the shell's tag for that index (`bank1`), as PYNQ lists them."""
        m = BANK_INDEX.fullmatch(self.bank)
        index = int(m.group(1)) if m else self.bank_index
        tags = [self.bank]
        if index is not None:
            tags.append(SHELL_BANK_TAG.format(index))
        return tuple(dict.fromkeys(tags))

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize

    @property
    def row_bytes(self) -> int:
        """Bytes of one row along the first axis: the unit of a partial sync."""
        return self.nbytes // self.shape[0]


@dataclass(frozen=True)
class KernelSpec:
    """The kernel's name in the xclbin and its arguments in call order.

    `args` names every argument in the order of the HLS top function; buffers are
    described in `buffers`, every other name is an integer scalar passed at run time.
    """

    name: str
    args: tuple[str, ...]
    buffers: tuple[BufferSpec, ...]

    def buffer(self, name: str) -> BufferSpec:
        for b in self.buffers:
            if b.name == name:
                return b
        raise KeyError(f"kernel {self.name!r} has no buffer {name!r}")

    @property
    def scalars(self) -> tuple[str, ...]:
        names = {b.name for b in self.buffers}
        return tuple(a for a in self.args if a not in names)

    def arg_index(self, name: str) -> int:
        return self.args.index(name)


class Backend(ABC):
    """Buffer bookkeeping shared by all backends; subclasses supply the device calls."""

    name: str = "backend"

    def __init__(self) -> None:
        self.kernel: KernelSpec | None = None
        self._handles: dict[str, Any] = {}
        self._views: dict[str, np.ndarray] = {}

    # -- lifecycle -------------------------------------------------------------------
    def open(self, kernel: KernelSpec, binary: Path | None) -> None:
        """Program the device with `binary` and allocate every buffer of `kernel`, once."""
        if self.kernel is not None:
            raise BackendError(f"{self.name}: already open; close it before opening again")
        self._program(kernel, binary)
        self.kernel = kernel  # set before allocating: backends read argument positions
        try:
            for spec in kernel.buffers:
                handle, view = self._allocate(spec)
                self._handles[spec.name], self._views[spec.name] = handle, view
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release every buffer and the device; safe to call twice.

        The host views go first: a pyxrt mapping does not keep its buffer alive, so no
        view may outlive the buffer it maps."""
        self._views.clear()
        for name in list(self._handles):
            self._free(self._handles.pop(name))
        if self.kernel is not None:
            self._release()
        self.kernel = None

    @property
    def is_open(self) -> bool:
        return self.kernel is not None

    # -- buffers ---------------------------------------------------------------------
    def host(self, name: str) -> np.ndarray:
        """The host-side view of a buffer: write inputs into it, read outputs from it."""
        if not self.is_open:
            raise BackendError(f"{self.name}: buffer {name!r} used after close")
        return self._views[name]

    def sync_to_device(self, name: str, rows: int | None = None) -> None:
        """Copy the first `rows` rows (all when None) of a buffer to the device."""
        spec = self._spec(name)
        self._sync(self._handles[name], spec, self._nbytes(spec, rows), to_device=True)

    def sync_from_device(self, name: str, rows: int | None = None) -> None:
        """Copy the first `rows` rows (all when None) of a buffer back from the device."""
        spec = self._spec(name)
        self._sync(self._handles[name], spec, self._nbytes(spec, rows), to_device=False)

    def run(self, scalars: dict[str, int]) -> None:
        """Call the kernel once with every buffer and these scalars; wait for it to end."""
        kernel = self._require_open()
        missing = set(kernel.scalars) - set(scalars)
        if missing:
            raise BackendError(f"{self.name}: kernel scalars {sorted(missing)} not given")
        args = [self._handles[a] if a in self._handles else int(scalars[a]) for a in kernel.args]
        self._call(args)

    def _xclbin(self, binary: Path | None) -> Path:
        """The board backends' binary, or an error saying how to build one."""
        if binary is None or not Path(binary).is_file():
            raise BackendError(f"backend {self.name!r}: no xclbin (got {binary}); build one "
                               "with `sbf hw build --target hw` (needs Vitis) and pass --design")
        return Path(binary)

    # -- device primitives -----------------------------------------------------------
    @abstractmethod
    def _program(self, kernel: KernelSpec, binary: Path | None) -> None: ...

    @abstractmethod
    def _allocate(self, spec: BufferSpec) -> tuple[Any, np.ndarray]: ...

    @abstractmethod
    def _sync(self, handle: Any, spec: BufferSpec, nbytes: int, to_device: bool) -> None: ...

    @abstractmethod
    def _call(self, args: list[Any]) -> None: ...

    @abstractmethod
    def _free(self, handle: Any) -> None: ...

    @abstractmethod
    def _release(self) -> None: ...

    # -- helpers ---------------------------------------------------------------------
    def _require_open(self) -> KernelSpec:
        if self.kernel is None:
            raise BackendError(f"{self.name}: not open (the accelerator was closed)")
        return self.kernel

    def _spec(self, name: str) -> BufferSpec:
        return self._require_open().buffer(name)

    @staticmethod
    def _nbytes(spec: BufferSpec, rows: int | None) -> int:
        if rows is None:
            return spec.nbytes
        if not 0 <= rows <= spec.shape[0]:
            raise BackendError(f"buffer {spec.name!r}: {rows} rows outside [0, {spec.shape[0]}]")
        return rows * spec.row_bytes
