"""The emulation backend: the board's buffers and calls, run on this machine.

Device memory is a second set of arrays, apart from the host views, so a sync the host
forgets shows up as a wrong answer here as it would on the card. A run hands the kernel
its arguments in the order of the HLS top function: device arrays for buffers, ints for
scalars. The kernel is any callable with that signature; `SharedLibraryKernel` calls a C
ABI function of the C-simulation shared library through ctypes. As on the board, the
kernel reports per sequence in its status buffer, which the host clears before each run
(and reads back, so a clear that never reached the device shows) and checks after it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from host.backends.base import Backend, BackendError, BufferSpec, KernelSpec
from hw.hls import abi
from hw.hls.ffi import load, ptr

EmulatedKernel = Callable[[Sequence[Any]], None]


class SharedLibraryKernel:
    """A kernel in a compiled C-simulation library: buffers by pointer, scalars as C ints."""

    def __init__(self, library: Path, symbol: str) -> None:
        library = Path(library)
        if not library.is_file():
            raise BackendError(f"backend 'emulation': no shared library {library}; "
                               "build it with `sbf hw csim`")
        lib = load(library)
        version = lib.sbf_abi_version()
        if version != abi.ABI_VERSION:
            raise BackendError(f"backend 'emulation': {library} has ABI version {version}, "
                               f"this host speaks {abi.ABI_VERSION}; render the design again")
        try:
            self._fn = getattr(lib, symbol)
        except AttributeError:
            raise BackendError(f"backend 'emulation': {library} exports no {symbol!r}") from None
        self._fn.restype = ctypes.c_int

    def __call__(self, args: Sequence[Any]) -> None:
        """Run; the return code repeats the status buffer, which the host checks."""
        self._fn(*(ptr(a) if isinstance(a, np.ndarray) else ctypes.c_int(int(a))
                   for a in args))


class EmulationBackend(Backend):
    """Host views and device arrays in this process; the kernel is a Python callable."""

    name = "emulation"

    def __init__(self, kernel: EmulatedKernel) -> None:
        super().__init__()
        self._kernel_fn = kernel

    def _program(self, kernel: KernelSpec, binary: Path | None) -> None:
        """Nothing to program: the emulated kernel was given at construction."""

    def _allocate(self, spec: BufferSpec) -> tuple[Any, np.ndarray]:
        device = np.zeros(spec.shape, dtype=spec.dtype)
        return device, np.zeros(spec.shape, dtype=spec.dtype)

    def _sync(self, handle: Any, spec: BufferSpec, nbytes: int, to_device: bool) -> None:
        rows = nbytes // spec.row_bytes
        host = self.host(spec.name)
        if to_device:
            handle[:rows] = host[:rows]
        else:
            host[:rows] = handle[:rows]

    def _call(self, args: list[Any]) -> None:
        self._kernel_fn(args)

    def _free(self, handle: Any) -> None:
        """Nothing to call: the arrays go with their last reference."""

    def _release(self) -> None:
        """Nothing to release beyond the buffers."""
