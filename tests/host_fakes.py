"""Fake PYNQ 3.0.1 and pyxrt modules that behave like the real libraries on an Alveo card.

Each fake keeps device memory apart from the host memory (a sync the host forgets shows
as a wrong answer), runs a kernel given as a Python callable on the *device* memory, and
records every call in `module.log`. Where the real libraries surprise, the fakes copy
the surprise (PYNQ sources read at tag v3.0.1, XRT's src/python/pybind11/src/pyxrt.cpp):

- PYNQ names memories after the xclbin's mem_topology tags with every character outside
  [A-Za-z0-9_] removed and exposes only the memories the xclbin uses
  (pynq/overlay.py `_complete_description`, `_IPMap.__getattr__`); U200 shells tag their
  DDR banks `bank0`..`bank3`, so `DDR[1]` has no attribute. The connected memory of each
  kernel argument is in `ip_dict[cu]["registers"][arg]["memory"]`
  (pynq/pl_server/xclbin_parser.py `_add_argument_memory`).
- `ip.call(*args)` is `self.start(*args).wait()` (pynq/overlay.py `DefaultIP._call`) and
  `ErtWaitHandle.wait()` only polls until the command is done: a failed run's
  `RuntimeError("Execution failed: ...")` stays in the handle's `_future` and is never
  raised (pynq/pl_server/xrt_device.py `ErtWaitHandle._complete`, `.wait`).
- A `PynqBuffer` slice syncs only its own bytes at its own offset (pynq/buffer.py
  `__array_finalize__`, `sync_to_device` -> `flush`).
- pyxrt's `bo.map()` is `py::memoryview::from_memory(b.map(), b.size())`: the view does
  not keep the buffer object alive, so host memory read after the bo is gone is garbage
  (here: poisoned with POISON). `kernel(*args)` starts a run and `run.wait()` returns its
  `ert_cmd_state` without raising.
- A buffer in a memory its kernel argument is not connected to cannot be reached by the
  kernel: the fake run then ends in ERT_CMD_STATE_ERROR without touching memory.
"""

from __future__ import annotations

import enum
import re
import time
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from host.accelerator import KERNEL_ARGS
from hw.hls import abi

ARGS = KERNEL_ARGS  # the top function's arguments, in order
BUFFER_ARGS = abi.M_AXI_PORTS
# mem_topology tags of the U200 xdma shells (bank0..3 are DDR[0]..DDR[3]).
U200_TAGS = ("bank0", "bank1", "bank2", "bank3", "PLRAM[0]", "PLRAM[1]", "PLRAM[2]")
# Tags as some other shells and `v++ --sp` write them.
DDR_TAGS = ("DDR[0]", "DDR[1]", "DDR[2]", "DDR[3]", "PLRAM[0]")
# Where `hw.render.memory_plan` puts the ports on a U200 (image on DDR[1], the rest DDR[2]).
U200_CONNECTIVITY = {p: ("bank1" if p == "image" else "bank2") for p in BUFFER_ARGS}
DDR_CONNECTIVITY = {p: ("DDR[1]" if p == "image" else "DDR[2]") for p in BUFFER_ARGS}
POISON = 0xA5  # what a freed pyxrt buffer's host memory reads as

Kernel = Callable[[Sequence[Any]], None]


def _attr(tag: str) -> str:
    """PYNQ's attribute name for a memory tag (pynq/overlay.py `_complete_description`)."""
    return re.sub("[^A-Za-z0-9_]", "", tag)


class ErtState(enum.Enum):
    """pyxrt's `ert_cmd_state` (the values of XRT's ert.h)."""

    ERT_CMD_STATE_NEW = 1
    ERT_CMD_STATE_QUEUED = 2
    ERT_CMD_STATE_RUNNING = 3
    ERT_CMD_STATE_COMPLETED = 4
    ERT_CMD_STATE_ERROR = 5
    ERT_CMD_STATE_ABORT = 6
    ERT_CMD_STATE_TIMEOUT = 8


class Card:
    """What the fake card does on a run: checks the banks, then runs the kernel.

    `fail_runs` are 1-based run numbers that end in ERT_CMD_STATE_ERROR before the kernel
    touches memory; `silent_runs` end COMPLETED without the kernel touching memory (a
    failure that leaves no error behind); `delay_s` makes a run take time (the kernel
    reads its inputs after it), so two host threads that share buffers interleave as they
    would on a card.
    """

    def __init__(self, kernel: Kernel, connectivity: Mapping[str, str],
                 fail_runs: Iterable[int] = (), silent_runs: Iterable[int] = (),
                 delay_s: float = 0.0) -> None:
        self.kernel = kernel
        self.connectivity = dict(connectivity)
        self.fail_runs = set(fail_runs)
        self.silent_runs = set(silent_runs)
        self.delay_s = delay_s
        self.runs = 0

    def run(self, args: Sequence[Any], memories: Sequence[str | None]) -> ErtState:
        """One run: `args` are device arrays or ints, `memories` each buffer's bank tag."""
        self.runs += 1
        if self.runs in self.fail_runs:
            return ErtState.ERT_CMD_STATE_ERROR
        if self.runs in self.silent_runs:
            return ErtState.ERT_CMD_STATE_COMPLETED
        for name, mem in zip(ARGS, memories, strict=True):
            if name in self.connectivity and mem != self.connectivity[name]:
                return ErtState.ERT_CMD_STATE_ERROR  # the port cannot reach that bank
        if self.delay_s:
            time.sleep(self.delay_s)
        self.kernel(list(args))
        return ErtState.ERT_CMD_STATE_COMPLETED


# -- PYNQ 3.0.1 ------------------------------------------------------------------------
class FakePynqBuffer(np.ndarray):
    """A `PynqBuffer`: host memory whose slices sync their own bytes with device memory."""

    def __array_finalize__(self, obj: Any) -> None:
        # pynq/buffer.py __array_finalize__: a view shares the bo, at its own offset
        base = obj if isinstance(obj, FakePynqBuffer) else None
        self.device_memory = getattr(base, "device_memory", None)
        self.memory = getattr(base, "memory", None)
        self.log = getattr(base, "log", None)
        self.tag = getattr(base, "tag", None)
        if base is not None and base.device_memory is not None:
            self.offset = base.offset + (self.__array_interface__["data"][0]
                                         - base.__array_interface__["data"][0])
        else:
            self.offset = 0

    def _span(self) -> slice:
        return slice(self.offset, self.offset + self.nbytes)

    def sync_to_device(self) -> None:
        self.log.append(("sync_to_device", self.tag, self.nbytes))
        self.device_memory[self._span()] = np.asarray(self).reshape(-1).view(np.uint8)

    def sync_from_device(self) -> None:
        self.log.append(("sync_from_device", self.tag, self.nbytes))
        np.asarray(self).reshape(-1).view(np.uint8)[:] = self.device_memory[self._span()]

    def freebuffer(self) -> None:
        self.log.append(("freebuffer", self.tag))


class FakeMemory:
    """An `XrtMemory`: a bank of the card (pynq/pl_server/xrt_device.py)."""

    def __init__(self, tag: str, idx: int) -> None:
        self.tag, self.idx = tag, idx

    def __repr__(self) -> str:
        return f"XrtMemory({self.tag!r})"


class FakeErtWaitHandle:
    """pynq/pl_server/xrt_device.py ErtWaitHandle: `wait()` never raises."""

    def __init__(self, state: ErtState) -> None:
        self._future: Future = Future()
        if state != ErtState.ERT_CMD_STATE_COMPLETED:  # ErtWaitHandle._complete
            self._future.set_exception(RuntimeError("Execution failed: " + str(state)))
        else:
            self._future.set_result(None)

    @property
    def done(self) -> bool:
        return self._future.done()

    def wait(self) -> None:
        while not self.done:  # the real one calls device._handle_events(1000) here
            pass


def fake_pynq(kernel: Kernel, *, tags: Sequence[str] = U200_TAGS,
              connectivity: Mapping[str, str] = U200_CONNECTIVITY,
              kernel_name: str = abi.KERNEL, n_devices: int = 1, fail_runs: Iterable[int] = (),
              silent_runs: Iterable[int] = (), delay_s: float = 0.0, version: str = "3.0.1",
              argument_memory: bool = True) -> types.SimpleNamespace:
    """A `pynq` module on a card whose xclbin has `tags` and connects ports as given.

    `argument_memory=False`: the ip_dict names no memory per argument (PYNQ adds it only
    for connections it finds in the xclbin), so the host must go by the bank's names.
    """
    log: list[tuple] = []
    card = Card(kernel, connectivity, fail_runs, silent_runs, delay_s)
    used = set(connectivity.values())
    default = next(FakeMemory(t, i) for i, t in enumerate(tags) if t in used)

    class IP:
        """A DefaultIP with an ERT-capable device (pynq/overlay.py DefaultIP)."""

        def start(self, *args: Any) -> FakeErtWaitHandle:
            log.append(("start", tuple(a.tag if isinstance(a, FakePynqBuffer) else a
                                       for a in args)))
            dev = [a.device_memory if isinstance(a, FakePynqBuffer) else a for a in args]
            mems = [a.memory.tag if isinstance(a, FakePynqBuffer) else None for a in args]
            return FakeErtWaitHandle(card.run(dev, mems))

        def call(self, *args: Any) -> None:  # DefaultIP._call: start(...).wait()
            self.start(*args).wait()

    class Overlay:
        def __init__(self, path: str, device: Any = None) -> None:
            log.append(("Overlay", Path(path).name, device))
            cu = f"{kernel_name}_1"
            registers = {a: {"id": i, **({"memory": connectivity[a]}
                                         if a in connectivity and argument_memory else {})}
                         for i, a in enumerate(ARGS)}
            self.ip_dict = {cu: {"registers": registers, "fullpath": cu}}
            self.mem_dict = {t: {"used": int(t in used), "idx": i, "tag": t,
                                 "type": "DDR4" if "PLRAM" not in t else "MEM_DRAM",
                                 "streaming": False} for i, t in enumerate(tags)}
            self._ips = {cu: IP()}
            self._memories = {_attr(t): FakeMemory(t, i) for i, t in enumerate(tags)
                              if t in used}

        def __getattr__(self, key: str) -> Any:  # pynq/overlay.py _IPMap.__getattr__
            if key.startswith("_"):
                raise AttributeError(key)
            if key in self._ips:
                return self._ips[key]
            if key in self._memories:
                return self._memories[key]
            raise AttributeError(f"Could not find IP or hierarchy {key} in overlay")

        def free(self) -> None:
            log.append(("Overlay.free",))

    def allocate(shape: tuple[int, ...], dtype: Any = "u4", target: Any = None
                 ) -> FakePynqBuffer:
        if target is None:  # pynq.allocate: the device's default memory
            target = default
        buf = np.zeros(shape, dtype=dtype).view(FakePynqBuffer)
        buf.log, buf.memory = log, target
        buf.tag = f"buf{sum(e[0] == 'allocate' for e in log)}"
        buf.device_memory, buf.offset = np.zeros(buf.nbytes, np.uint8), 0
        log.append(("allocate", buf.tag, tuple(shape), np.dtype(dtype).str,
                    getattr(target, "tag", None)))
        return buf

    devices = types.SimpleNamespace(devices=[f"card{i}" for i in range(n_devices)])
    return types.SimpleNamespace(__version__=version, log=log, card=card, Overlay=Overlay,
                                 allocate=allocate, Device=devices)


# -- pyxrt -----------------------------------------------------------------------------
def fake_pyxrt(kernel: Kernel, *, tags: Sequence[str] = U200_TAGS,
               connectivity: Mapping[str, str] = U200_CONNECTIVITY,
               kernel_name: str = abi.KERNEL, open_fails: bool = False,
               fail_runs: Iterable[int] = (), silent_runs: Iterable[int] = (),
               delay_s: float = 0.0) -> types.SimpleNamespace:
    """A `pyxrt` module on a card whose xclbin has `tags` and connects ports as given."""
    log: list[tuple] = []
    card = Card(kernel, connectivity, fail_runs, silent_runs, delay_s)
    used = set(connectivity.values())

    class Bo:
        normal = "normal"

        def __init__(self, device: Any, size: int, flags: str, group: int) -> None:
            self.tag = f"bo{sum(e[0] == 'bo' for e in log)}"
            self.host_memory = bytearray(size)
            self.device_memory = np.zeros(size, np.uint8)
            self.group = group
            log.append(("bo", self.tag, size, flags, group))

        def map(self) -> memoryview:
            # pyxrt.cpp: memoryview::from_memory(b.map(), b.size()), no keep-alive
            return memoryview(self.host_memory)

        def sync(self, direction: str, size: int, offset: int) -> None:
            log.append(("sync", self.tag, direction, size, offset))
            host = np.frombuffer(self.host_memory, np.uint8)
            if direction == "to_device":
                self.device_memory[offset:offset + size] = host[offset:offset + size]
            else:
                host[offset:offset + size] = self.device_memory[offset:offset + size]

        def __del__(self) -> None:  # freed: a mapping left behind now reads garbage
            self.host_memory[:] = bytes([POISON]) * len(self.host_memory)

    class Device:
        def __init__(self, index: int) -> None:
            if open_fails:
                raise RuntimeError("No devices found")
            log.append(("device", index))

        def load_xclbin(self, xb: Any) -> str:
            log.append(("load_xclbin", xb.path.name))
            return "uuid-1"

    class Mem:
        def __init__(self, tag: str, index: int) -> None:
            self.tag, self.index = tag, index

        def get_tag(self) -> str:
            return self.tag

        def get_index(self) -> int:
            return self.index

        def get_used(self) -> bool:
            return self.tag in used

    class Xclbin:
        def __init__(self, path: str) -> None:
            self.path = Path(path)

        def get_kernels(self) -> list[Any]:
            return [types.SimpleNamespace(get_name=lambda: kernel_name)]

        def get_mems(self) -> list[Mem]:
            return [Mem(t, i) for i, t in enumerate(tags)]

    class Run:
        def __init__(self, state: ErtState) -> None:
            self._state = state

        def wait(self, timeout_ms: int = 0) -> ErtState:  # returns the state, never raises
            return self._state

        def state(self) -> ErtState:
            return self._state

    class Kernel:
        def __init__(self, device: Any, uuid: str, name: str) -> None:
            log.append(("kernel", uuid, name))

        def group_id(self, arg: int) -> int:
            """The memory index the argument is connected to (xrt::kernel::group_id)."""
            name = ARGS[arg]
            return list(tags).index(connectivity[name]) if name in connectivity else -1

        def __call__(self, *args: Any) -> Run:
            log.append(("call", tuple(a.tag if isinstance(a, Bo) else a for a in args)))
            dev = [a.device_memory if isinstance(a, Bo) else a for a in args]
            mems = [tags[a.group] if isinstance(a, Bo) else None for a in args]
            return Run(card.run(dev, mems))

    return types.SimpleNamespace(
        log=log, card=card, device=Device, xclbin=Xclbin, kernel=Kernel, bo=Bo,
        xclBOSyncDirection=types.SimpleNamespace(XCL_BO_SYNC_BO_TO_DEVICE="to_device",
                                                 XCL_BO_SYNC_BO_FROM_DEVICE="from_device"),
        ert_cmd_state=ErtState)
