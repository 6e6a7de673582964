"""ctypes helpers: hand NumPy buffers to the C ABI of a csim shared library."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np


def c_array(a: np.ndarray, dtype: type | np.dtype) -> np.ndarray:
    """A C-contiguous copy of `a` in `dtype`, checked not to change any value."""
    out = np.ascontiguousarray(a, dtype=dtype)
    if not np.array_equal(out, a):
        raise ValueError(f"values do not fit {np.dtype(dtype).name}")
    return out


def ptr(a: np.ndarray) -> ctypes.c_void_p:
    """The address of a C-contiguous array (keep `a` alive for the call)."""
    if not a.flags["C_CONTIGUOUS"]:
        raise ValueError("array must be C-contiguous")
    return ctypes.c_void_p(a.ctypes.data)


def load(lib: Path) -> ctypes.CDLL:
    """Load a compiled library; every exported function takes pointers and ints."""
    return ctypes.CDLL(str(lib))
