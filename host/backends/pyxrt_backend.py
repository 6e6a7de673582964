"""The Alveo board through `pyxrt`, XRT's own Python binding (no PYNQ needed).

pyxrt's API: `pyxrt.device(i)` opens a card, `pyxrt.xclbin(path)` reads a binary and
`device.load_xclbin(xclbin)` programs it (returning its uuid), `pyxrt.kernel(device,
uuid, name)` finds the kernel, `pyxrt.bo(device, nbytes, pyxrt.bo.normal,
kernel.group_id(arg))` allocates a buffer in the bank of that argument, `bo.map()` is its
host memory, `bo.sync(direction, nbytes, offset)` moves it, `kernel(*args)` starts a run
and `run.wait()` returns its state. The module is injectable so tests use a fake.

From XRT's src/python/pybind11/src/pyxrt.cpp: `bo.map()` is a memoryview over the
buffer's memory that does not keep the buffer alive, so every host view here lives no
longer than its buffer object (both are dropped together, the views first); `run.wait()`
returns the run's `ert_cmd_state` and never raises, so anything but COMPLETED is an error.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from host.backends.base import Backend, BackendError, BufferSpec, KernelSpec


def import_pyxrt() -> ModuleType:
    """Import XRT's binding or say how to get it."""
    try:
        return importlib.import_module("pyxrt")
    except ImportError as e:
        raise BackendError(
            f"backend 'pyxrt': XRT's Python binding is not importable ({e}). Install XRT "
            "and `source /opt/xilinx/xrt/setup.sh` (it puts pyxrt on PYTHONPATH)") from None


class PyxrtBackend(Backend):
    """Buffer objects in the banks the kernel's arguments are connected to."""

    name = "pyxrt"

    def __init__(self, module: Any | None = None, device_index: int = 0) -> None:
        super().__init__()
        self._xrt = module if module is not None else import_pyxrt()
        self._device_index = device_index
        self._device: Any = None
        self._kernel: Any = None
        self._mems: dict[int, tuple[str, bool]] = {}  # memory index -> (tag, used)

    def _program(self, kernel: KernelSpec, binary: Path | None) -> None:
        binary = self._xclbin(binary)
        try:
            self._device = self._xrt.device(self._device_index)
        except RuntimeError as e:
            raise BackendError(f"backend 'pyxrt': cannot open XRT device {self._device_index} "
                               f"({e}); check `xbutil examine`") from None
        xclbin = self._xrt.xclbin(str(binary))
        names = [k.get_name() for k in xclbin.get_kernels()]
        if kernel.name not in names:
            self._device = None
            raise BackendError(f"backend 'pyxrt': {binary} has no kernel {kernel.name!r} "
                               f"(it has {sorted(names)}); wrong xclbin?")
        get_mems = getattr(xclbin, "get_mems", None)
        self._mems = ({m.get_index(): (m.get_tag(), bool(m.get_used())) for m in get_mems()}
                      if get_mems is not None else {})
        uuid = self._device.load_xclbin(xclbin)
        self._kernel = self._xrt.kernel(self._device, uuid, kernel.name)

    def _allocate(self, spec: BufferSpec) -> tuple[Any, np.ndarray]:
        group = self._kernel.group_id(self._require_open().arg_index(spec.name))
        if self._mems and not self._mems.get(group, ("", False))[1]:
            used = [t for t, u in self._mems.values() if u]
            raise BackendError(f"backend 'pyxrt': argument {spec.name!r} is connected to "
                               f"memory {group}, which the xclbin does not use (it uses "
                               f"{used}); rebuild the xclbin from this design")
        bo = self._xrt.bo(self._device, spec.nbytes, self._xrt.bo.normal, group)
        view = np.frombuffer(bo.map(), dtype=np.uint8, count=spec.nbytes)
        return bo, view.view(spec.dtype).reshape(spec.shape)

    def _sync(self, handle: Any, spec: BufferSpec, nbytes: int, to_device: bool) -> None:
        d = self._xrt.xclBOSyncDirection
        handle.sync(d.XCL_BO_SYNC_BO_TO_DEVICE if to_device else d.XCL_BO_SYNC_BO_FROM_DEVICE,
                    nbytes, 0)

    def _call(self, args: list[Any]) -> None:
        state = self._kernel(*args).wait()
        done = self._xrt.ert_cmd_state.ERT_CMD_STATE_COMPLETED
        if state != done:
            raise BackendError(f"backend 'pyxrt': kernel run ended in state {state}, not {done}")

    def _free(self, handle: Any) -> None:
        """Nothing to call: XRT frees a buffer object when its last reference goes."""

    def _release(self) -> None:
        self._kernel = self._device = None
        self._mems = {}
