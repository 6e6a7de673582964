"""The Alveo board through PYNQ 3.0.1, the last PYNQ release that drives Alveo cards.

PYNQ's Alveo API: `pynq.Device.devices` lists the cards XRT sees, `pynq.Overlay(xclbin)`
programs one, `pynq.allocate(shape, dtype, target=ol.DDR1)` places a buffer in a memory
(the xclbin's tag `DDR[1]` without its brackets), `buf[:n].sync_to_device()` and
`.sync_from_device()` move data (a slice moves only its bytes), `ol.<kernel>.call(*args)`
runs the kernel and waits, `buf.freebuffer()` and `ol.free()` release. The module is
injectable so that tests drive this code with a fake.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from host.backends.base import Backend, BackendError, BufferSpec, KernelSpec

PYNQ_REQUIREMENT = "pynq==3.0.1"


def import_pynq() -> ModuleType:
    """Import PYNQ or say how to get it (and XRT, which PYNQ needs on Alveo)."""
    try:
        return importlib.import_module("pynq")
    except ImportError as e:
        raise BackendError(
            f"backend 'pynq': PYNQ is not importable ({e}). Install XRT, `source "
            f"/opt/xilinx/xrt/setup.sh`, then `pip install {PYNQ_REQUIREMENT}` (later PYNQ "
            "releases dropped Alveo)") from None


class PynqBackend(Backend):
    """Buffers in the card's DDR banks, the kernel called through the PYNQ overlay."""

    name = "pynq"

    def __init__(self, module: Any | None = None, device_index: int = 0) -> None:
        super().__init__()
        self._pynq = module if module is not None else import_pynq()
        self._device_index = device_index
        self._overlay: Any = None
        self._ip: Any = None

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
        self._ip = getattr(self._overlay, ours[0])

    def _allocate(self, spec: BufferSpec) -> tuple[Any, np.ndarray]:
        attr = re.sub(r"\W", "", spec.bank)  # PYNQ's attribute for the memory tag
        target = getattr(self._overlay, attr, None)
        if target is None:
            raise BackendError(f"backend 'pynq': the overlay has no memory {spec.bank!r} "
                               f"(attribute {attr!r}) for buffer {spec.name!r}")
        buf = self._pynq.allocate(spec.shape, spec.dtype, target=target)
        return buf, buf  # a PynqBuffer is itself the numpy host view

    def _sync(self, handle: Any, spec: BufferSpec, nbytes: int, to_device: bool) -> None:
        part = handle[: nbytes // spec.row_bytes]
        if to_device:
            part.sync_to_device()
        else:
            part.sync_from_device()

    def _call(self, args: list[Any]) -> None:
        self._ip.call(*args)

    def _free(self, handle: Any) -> None:
        handle.freebuffer()

    def _release(self) -> None:
        if self._overlay is not None:
            self._overlay.free()
        self._overlay = self._ip = None
