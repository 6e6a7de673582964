"""Backends of the accelerator: the Alveo board through PYNQ or pyxrt, and emulation."""

from host.backends.base import Backend, BackendError, BufferSpec, Direction, KernelSpec

__all__ = ["Backend", "BackendError", "BufferSpec", "Direction", "KernelSpec"]
