"""The Alveo board through PYNQ 3.0.1, the last PYNQ release that drives Alveo cards.

PYNQ's Alveo API: `pynq.Device.devices` lists the cards XRT sees, `pynq.Overlay(xclbin)`
programs one, `pynq.allocate(shape, dtype, target=ol.<memory>)` places a buffer in a
memory, `buf[:n].sync_to_device()` and `.sync_from_device()` move data (a slice moves
only its bytes), `ol.<kernel>.start(*args)` starts the kernel and `.wait()` waits for
it, `buf.freebuffer()` and `ol.free()` release. The module is injectable so that tests
drive this code with a fake (tests/host_fakes.py).

Two things PYNQ 3.0.1 does that this backend works around (sources read at tag v3.0.1):
- Memories are overlay attributes named after the xclbin's mem_topology tags with every
  character outside [A-Za-z0-9_] removed, and only the memories the xclbin uses are
  listed (pynq/overlay.py `_complete_description`); U200 shells tag their DDR banks
  `bank0`..`bank3`, so `DDR[1]` is no attribute. Each buffer therefore goes where the
  xclbin connects its kernel argument (`ip_dict[cu]["registers"][arg]["memory"]`,
  pynq/pl_server/xclbin_parser.py `_add_argument_memory`), else in the first of its
  bank's names that the xclbin uses.
- `ErtWaitHandle.wait()` never raises the error that a failed run stores in the
  handle's future (pynq/pl_server/xrt_device.py `ErtWaitHandle._complete`, `.wait`), and
  `DefaultIP.call` is `start(...).wait()` (pynq/overlay.py `_call`). So the backend
  starts, waits and reads that future itself; the host also checks the kernel's status
  words (host/accelerator.py), which catches a failure that leaves no error behind.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from host.backends.base import Backend, BackendError, BufferSpec, KernelSpec

PYNQ_REQUIREMENT = "pynq==3.0.1"
PYNQ_STRIPPED = re.compile(r"[^A-Za-z0-9_]")  # what PYNQ removes from a memory tag


def import_pynq() -> ModuleType:
    """Import PYNQ or say how to get it (and XRT, which PYNQ needs on Alveo)."""
    try:
        return importlib.import_module("pynq")
    except ImportError as e:
        raise BackendError(
            f"backend 'pynq': PYNQ is not importable ({e}). Install XRT, `source "
            f"/opt/xilinx/xrt/setup.sh`, then `pip install {PYNQ_REQUIREMENT}` (later PYNQ "
            "releases dropped Alveo)") from None


def memory_attribute(tag: str) -> str:
    """The overlay attribute PYNQ makes of a mem_topology tag: `DDR[1]` -> `DDR1`."""
    return PYNQ_STRIPPED.sub("", tag)


def stored_error(handle: Any) -> BaseException | None:
    """The error a finished PYNQ run stored but `wait()` did not raise, if any."""
    future = getattr(handle, "_future", None)  # ErtWaitHandle has one; WaitHandle none
    if future is None or not future.done():
        return None
    try:
        return future.exception()
    except BaseException as e:  # a cancelled future raises instead of returning
        return e


class PynqBackend(Backend):
    """Buffers in the card's DDR banks, the kernel started through the PYNQ overlay."""

    name = "pynq"

    def __init__(self, module: Any | None = None, device_index: int = 0) -> None:
        super().__init__()
        self._pynq = module if module is not None else import_pynq()
        self._device_index = device_index
        self._overlay: Any = None
        self._ip: Any = None
        self._cu: str | None = None

    def _program(self, kernel: KernelSpec, binary: Path | None) -> None:
        binary = self._xclbin(binary)
        devices = list(self._pynq.Device.devices)
        if not devices:
            raise BackendError("backend 'pynq': XRT sees no Alveo card (check `xbutil examine`)")
        if self._device_index >= len(devices):
            raise BackendError(f"backend 'pynq': device index {self._device_index} but only "
                               f"{len(devices)} card(s) found")
        self._overlay = self._pynq.Overlay(str(binary), device=devices[self._device_index])
        # Vitis names kernel instances `<kernel>_1`, `<kernel>_2`, ...
        ips = sorted(self._overlay.ip_dict)
        ours = [n for n in ips if n == kernel.name or n.startswith(f"{kernel.name}_")]
        if not ours:
            self._release()
            raise BackendError(f"backend 'pynq': {binary} has no kernel {kernel.name!r} "
                               f"(it has {ips}); wrong xclbin?")
        self._cu = ours[0]
        self._ip = getattr(self._overlay, ours[0])

    def memories(self) -> tuple[list[str], list[str]]:
        """The xclbin's memory tags, (used, unused), in mem_topology order."""
        mems: Mapping[str, Any] = getattr(self._overlay, "mem_dict", None) or {}
        used = [t for t, d in mems.items() if d.get("used")]
        return used, [t for t in mems if t not in used]

    def memory_tag(self, spec: BufferSpec) -> str:
        """Where `spec` goes: the memory the xclbin connects its argument to, else the
        first of its bank's names (the board file's, the shell's tag) the xclbin uses."""
        ip = (getattr(self._overlay, "ip_dict", None) or {}).get(self._cu) or {}
        connected = ((ip.get("registers") or {}).get(spec.name) or {}).get("memory")
        if connected:
            return connected
        used, unused = self.memories()
        for tag in spec.bank_tags:
            if tag in used:
                return tag
        raise BackendError(
            f"backend 'pynq': no memory for buffer {spec.name!r} (bank {spec.bank}, tried "
            f"{list(spec.bank_tags)}); the xclbin uses {used} (unused: {unused}); rebuild "
            "the xclbin from this design with `sbf hw build`")

    def _allocate(self, spec: BufferSpec) -> tuple[Any, np.ndarray]:
        tag = self.memory_tag(spec)
        target = getattr(self._overlay, memory_attribute(tag), None)
        if target is None:
            used, unused = self.memories()
            raise BackendError(
                f"backend 'pynq': the overlay has no memory {memory_attribute(tag)!r} for "
                f"buffer {spec.name!r} (tag {tag!r}); the xclbin uses {used} (unused: "
                f"{unused})")
        buf = self._pynq.allocate(spec.shape, spec.dtype, target=target)
        return buf, buf  # a PynqBuffer is itself the numpy host view

    def _sync(self, handle: Any, spec: BufferSpec, nbytes: int, to_device: bool) -> None:
        part = handle[: nbytes // spec.row_bytes]
        if to_device:
            part.sync_to_device()
        else:
            part.sync_from_device()

    def _call(self, args: list[Any]) -> None:
        handle = self._ip.start(*args)
        handle.wait()
        error = stored_error(handle)
        if error is not None:
            raise BackendError(f"backend 'pynq': the kernel run failed ({error}); PYNQ "
                               "3.0.1's wait() hides this, the backend does not")

    def _free(self, handle: Any) -> None:
        handle.freebuffer()

    def _release(self) -> None:
        if self._overlay is not None:
            self._overlay.free()
        self._overlay = self._ip = self._cu = None
