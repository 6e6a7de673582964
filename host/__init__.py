"""Host side: the `sbf` command line, the accelerator driver and its backends.

`host.Accelerator` is imported on first use, so that `sbf` starts without loading the
driver's dependencies.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Accelerator"]


def __getattr__(name: str) -> Any:
    if name == "Accelerator":
        from host.accelerator import Accelerator

        return Accelerator
    raise AttributeError(f"module 'host' has no attribute {name!r}")
