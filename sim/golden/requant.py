"""Requantization: the one rounding rule of the accelerator.

A real scale r > 0 is carried as an integer multiplier M and a right shift S with
r ~= M / 2**S, M normalised to MULT_BITS bits (2**(MULT_BITS-1) <= M < 2**MULT_BITS).
Applying it to an int32 accumulator `acc`:

    prod = acc * M                        (exact in int64: |acc| < 2**31, M < 2**15)
    y    = (prod + 2**(S-1)) >> S         (arithmetic shift: round half toward +inf)
    out  = clamp(y, -2**(bits-1), 2**(bits-1) - 1)     saturation point SAT_REQUANT

This is one rounding, not gemmlowp's double rounding: a 15-bit by 32-bit product fits a
48-bit DSP accumulator and the rule is one add and one shift in RTL and HLS alike.
"""

from __future__ import annotations

import math

import numpy as np

MULT_BITS = 15
MULT_MIN = 1 << (MULT_BITS - 1)
MULT_MAX = (1 << MULT_BITS) - 1
SHIFT_MIN = 1
SHIFT_MAX = 62
ACC_MIN = -(1 << 31)
ACC_MAX = (1 << 31) - 1


def int_range(bits: int) -> tuple[int, int]:
    """The signed range of a `bits`-wide two's-complement integer."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(M, S) with M / 2**S the closest such fraction to `real`; (0, SHIFT_MIN) if it underflows."""
    if not math.isfinite(real) or real < 0:
        raise ValueError(f"requantization scale must be finite and >= 0, got {real!r}")
    if real == 0.0:
        return 0, SHIFT_MIN
    mant, exp = math.frexp(real)  # real = mant * 2**exp, 0.5 <= mant < 1
    m = round(mant * (1 << MULT_BITS))
    s = MULT_BITS - exp
    if m > MULT_MAX:  # mant rounded up to 1.0
        m >>= 1
        s -= 1
    if s < SHIFT_MIN:
        raise ValueError(
            f"requantization scale {real!r} is too large: it needs a left shift "
            f"(at most {2.0 ** (MULT_BITS - SHIFT_MIN):.0f} is representable)"
        )
    if s > SHIFT_MAX:
        return 0, SHIFT_MIN
    return m, s


def quantize_multipliers(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vector form of `quantize_multiplier`: per-channel (M, S) as int64 arrays."""
    pairs = [quantize_multiplier(float(r)) for r in np.asarray(real, dtype=np.float64).ravel()]
    m = np.array([p[0] for p in pairs], dtype=np.int64).reshape(np.shape(real))
    s = np.array([p[1] for p in pairs], dtype=np.int64).reshape(np.shape(real))
    return m, s


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    """Clamp to a signed `bits`-wide range (int64 result; callers narrow the dtype)."""
    lo, hi = int_range(bits)
    return np.clip(np.asarray(x, dtype=np.int64), lo, hi)


def requantize(acc: np.ndarray, mult: np.ndarray | int, shift: np.ndarray | int,
               bits: int = 8) -> np.ndarray:
    """Scale int32 accumulators by M / 2**S, round half up, saturate to `bits` (SAT_REQUANT).

    `mult` and `shift` broadcast against `acc` (per-output-channel vectors along the last
    axis, or scalars). Returns int64; narrow with `.astype(np.int8)` etc.
    """
    acc = np.asarray(acc, dtype=np.int64)
    mult = np.asarray(mult, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if np.any((shift < SHIFT_MIN) | (shift > SHIFT_MAX)):
        raise ValueError(f"requantization shift out of [{SHIFT_MIN}, {SHIFT_MAX}]")
    if np.any((mult < 0) | (mult > MULT_MAX)):
        raise ValueError(f"requantization multiplier out of [0, {MULT_MAX}]")
    y = np.asarray(acc * mult)  # a fresh int64 array: the steps below work in place on it
    y += np.int64(1) << (shift - 1)
    y >>= shift
    lo, hi = int_range(bits)
    return np.clip(y, lo, hi, out=y)


def add_bias(acc: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """acc + bias in int32, saturating (SAT_BIAS): the accumulator never wraps."""
    return np.clip(np.asarray(acc, np.int64) + np.asarray(bias, np.int64), ACC_MIN, ACC_MAX)
