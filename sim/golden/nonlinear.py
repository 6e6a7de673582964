"""Integer-only nonlinear functions (I-BERT, Kim et al., ICML 2021): exp, softmax, GELU, LayerNorm.

Everything on the data path is int64 NumPy arithmetic with floor semantics (`>>` is an
arithmetic shift, `//` is floor division). Floats appear only in the `*Params.derive`
class methods, which run once at quantization time and produce the integers that the
artifact stores and that HLS and RTL take as parameters. Each function names its
saturation points (SAT_*), like SAT_REQUANT in `requant.py`.

Rounding "half up" below always means `(v + 2**(s-1)) >> s`, the rule of `requantize`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.golden.requant import add_bias, requantize, saturate

# ---- i-exp: exp(x) on x <= 0 as a second-order polynomial on (-ln2, 0] times 2**-z ---------
# I-BERT's fit: exp(p) ~ EXP_A * (p + EXP_B)**2 + EXP_C for p in (-ln2, 0].
EXP_A = 0.3585
EXP_B = 1.353
EXP_C = 0.344
# SAT_EXP: inputs below -EXP_MAX_SHIFT * ln2 are treated as that value (exp ~ 2**-30, below
# every output resolution used here); this also bounds the shift z to EXP_MAX_SHIFT.
EXP_MAX_SHIFT = 30

# ---- softmax ------------------------------------------------------------------------------
# Probabilities are unsigned PROB_BITS-bit integers with scale 2**-PROB_BITS (1/256).
# Why unsigned with 1/256: probabilities are never negative, so a sign bit would halve the
# resolution for nothing; 1/256 is twice as fine as int8 with 2**-7. The only loss is that
# p > 255/256 saturates to 255 (SAT_SOFTMAX). The P.V product is then uint8 x int8.
PROB_BITS = 8
PROB_MAX = (1 << PROB_BITS) - 1
# Normalisation multiplies by one reciprocal per row, floor(2**SOFTMAX_RECIP_BITS / sum),
# instead of dividing every element; 40 bits keep the reciprocal accurate to < 2**-9 for
# rows of up to 512 keys (sum < 2**31) and the product e * recip below 2**41.
SOFTMAX_RECIP_BITS = 40

# ---- i-GELU: GELU(x) = x/2 * (1 + erf(x/sqrt2)), erf by a clipped second-order polynomial ----
# I-BERT's fit: erf(t) ~ sign(t) * (1 - ERF_A * (min(|t|, ERF_B) - ERF_B)**2).
ERF_A = 0.2888
ERF_B = 1.769
# The erf term is shifted right so that "1.0" has at most GELU_ONE_BITS bits; then
# |q| < 2**15 (int16 input) times |erf + 1| <= 2**(GELU_ONE_BITS+1) stays below 2**31.
GELU_ONE_BITS = 14
GELU_IN_BITS = 16

# ---- LayerNorm ------------------------------------------------------------------------------
# The normalised value z = (x - mean) / std is carried as q = z * 2**LN_NORM_BITS / sqrt(n),
# so |q| <= 2**LN_NORM_BITS (Cauchy-Schwarz); SAT_LN_NORM clamps it to LN_NORM_BITS+2 signed
# bits, which only the floor of the square root can reach.
LN_NORM_BITS = 14
LN_NORM_SAT_BITS = LN_NORM_BITS + 2
# One reciprocal of the row's root sum of squares, floor(2**LN_RECIP_BITS / std), per token.
LN_RECIP_BITS = 40
# gamma is a signed GAMMA_BITS-bit integer with one per-tensor scale.
GAMMA_BITS = 12
# A constant row has std 0; it is normalised as if std were LN_STD_MIN (its output is beta).
LN_STD_MIN = 1


def _round_shift(v: np.ndarray, shift: int) -> np.ndarray:
    """(v + 2**(shift-1)) >> shift: round half up, the rounding rule of `requantize`."""
    return (v + (np.int64(1) << np.int64(shift - 1))) >> np.int64(shift)


# ---------------------------------------------------------------------------------------------
# square root
# ---------------------------------------------------------------------------------------------

# Newton steps that always suffice from x0 = 2**ceil(bits/2) for n < 2**62 (see tests).
ISQRT_MAX_ITERS = 8


def isqrt(n: np.ndarray) -> np.ndarray:
    """floor(sqrt(n)) exactly, element-wise, for int64 n >= 0, by Newton's iteration.

    x0 = 2**ceil(bits(n)/2) >= sqrt(n); x <- (x + n // x) >> 1 while that decreases x.
    From this start the iterate decreases monotonically to floor(sqrt(n)) and needs at
    most ISQRT_MAX_ITERS steps for n < 2**62 (tested), so hardware can unroll that many.
    """
    n = np.asarray(n, dtype=np.int64)
    if np.any(n < 0):
        raise ValueError("isqrt: negative input")
    zero = n == 0
    n = np.where(zero, 1, n)  # 0 would divide by zero; its root is patched in at the end
    bits = np.zeros(n.shape, dtype=np.int64)
    v = n.copy()
    while np.any(v):  # bit length, exact (no float log2)
        nz = v > 0
        bits += nz
        v >>= 1
    x = np.int64(1) << ((bits + 1) >> 1)
    for _ in range(ISQRT_MAX_ITERS + 1):
        y = (x + n // x) >> 1
        done = y >= x
        if np.all(done):
            return np.where(zero, 0, x)
        x = np.where(done, x, y)
    raise ArithmeticError(f"isqrt did not converge in {ISQRT_MAX_ITERS} Newton steps")


# ---------------------------------------------------------------------------------------------
# exp and softmax
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExpParams:
    """Integer constants of i-exp for an input scale s: x = q * s.

    q_ln2 = round(ln2 / s); q_b = floor(EXP_B / s); q_c = floor(EXP_C / (EXP_A s^2)).
    The output scale is EXP_A * s^2 (it cancels in softmax).
    """

    q_ln2: int
    q_b: int
    q_c: int

    @classmethod
    def derive(cls, scale: float) -> ExpParams:
        if not scale > 0:
            raise ValueError(f"exp input scale must be > 0, got {scale}")
        q_ln2 = round(math.log(2.0) / scale)
        if q_ln2 < 1:
            raise ValueError(f"exp input scale {scale} is coarser than ln2")
        return cls(q_ln2, math.floor(EXP_B / scale), math.floor(EXP_C / (EXP_A * scale * scale)))

    @property
    def out_max(self) -> int:
        """The largest output, at q = 0."""
        return self.q_b * self.q_b + self.q_c


def int_exp(q: np.ndarray, p: ExpParams) -> np.ndarray:
    """i-exp of q <= 0 (int64 in, int64 out with scale EXP_A * s^2).

        q' = max(q, -EXP_MAX_SHIFT * q_ln2)            SAT_EXP
        z  = (-q') // q_ln2                            0 <= z <= EXP_MAX_SHIFT
        r  = q' + z * q_ln2                            in (-q_ln2, 0]
        e  = ((r + q_b)**2 + q_c) >> z
    """
    q = np.asarray(q, dtype=np.int64)
    if np.any(q > 0):
        raise ValueError("int_exp: inputs must be <= 0 (subtract the row maximum first)")
    q = np.maximum(q, -EXP_MAX_SHIFT * p.q_ln2)
    z = (-q) // p.q_ln2
    r = q + z * p.q_ln2
    poly = (r + p.q_b) ** 2 + p.q_c
    return poly >> z


def int_softmax(q: np.ndarray, p: ExpParams) -> np.ndarray:
    """Softmax over the last axis: int scores (scale s) -> uint8-range probabilities, scale 2**-8.

        d     = q - max(q)                              (<= 0)
        e     = int_exp(d)
        recip = 2**SOFTMAX_RECIP_BITS // sum(e)         one per row
        out   = min((e * recip + 2**(R-9)) >> (R-8), 255)     R = SOFTMAX_RECIP_BITS; SAT_SOFTMAX
    Returns int64 in [0, PROB_MAX].
    """
    q = np.asarray(q, dtype=np.int64)
    e = int_exp(q - q.max(axis=-1, keepdims=True), p)
    total = e.sum(axis=-1, keepdims=True)
    recip = (np.int64(1) << np.int64(SOFTMAX_RECIP_BITS)) // total
    out = _round_shift(e * recip, SOFTMAX_RECIP_BITS - PROB_BITS)
    return np.minimum(out, PROB_MAX)


# ---------------------------------------------------------------------------------------------
# GELU
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GeluParams:
    """Integer constants of i-GELU for an int16 input with scale s (x = q * s).

    With t = x / sqrt2 (scale s_t = s / sqrt2): q_b = round(ERF_B / s_t) is the clip point;
    the erf polynomial has scale ERF_A * s_t^2 * 2**shift after a right shift by `shift`,
    and q_one = round(1 / (ERF_A * s_t^2 * 2**shift)) represents 1.0 in it.
    `out_scale` is the real scale of the int_gelu result (used to derive the next requantize).
    """

    q_b: int
    q_one: int
    shift: int
    out_scale: float

    @classmethod
    def derive(cls, scale: float) -> GeluParams:
        if not scale > 0:
            raise ValueError(f"GELU input scale must be > 0, got {scale}")
        s_t = scale / math.sqrt(2.0)
        q_b = round(ERF_B / s_t)
        one_unshifted = 1.0 / (ERF_A * s_t * s_t)
        shift = max(0, math.ceil(math.log2(one_unshifted)) - GELU_ONE_BITS)
        erf_scale = ERF_A * s_t * s_t * (1 << shift)
        return cls(q_b, round(1.0 / erf_scale), shift, scale * erf_scale / 2.0)


def int_gelu(q: np.ndarray, p: GeluParams) -> np.ndarray:
    """i-GELU of int16-range q (scale s): int64 result with scale `p.out_scale`.

        a    = min(|q|, q_b)                                 the erf clip
        mag  = ((q_one << shift) - (a - q_b)**2) >> shift
        erf  = sign(q) * mag                                 sign(0) = 0, so erf is odd
        out  = q * (erf + q_one)
    i.e. erf(t) ~ sign(t) (1 - ERF_A (min(|t|, ERF_B) - ERF_B)^2) in units of
    ERF_A s_t^2 2**shift, and GELU = x/2 (1 + erf). |out| < 2**15 * 2**(GELU_ONE_BITS+1) < 2**31.
    """
    q = np.asarray(q, dtype=np.int64)
    t = np.maximum(p.q_b - np.abs(q), 0)  # = q_b - a >= 0; squared below, like (a - q_b)**2
    np.multiply(t, t, out=t)
    np.subtract(p.q_one << p.shift, t, out=t)
    np.right_shift(t, p.shift, out=t)  # mag
    t *= np.sign(q)  # erf
    t += p.q_one
    return q * t


# ---------------------------------------------------------------------------------------------
# LayerNorm
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerNormParams:
    """Per-channel integer gamma/beta and the final requantization of an integer LayerNorm.

    gamma_int = round(gamma / s_gamma), |gamma_int| < 2**(GAMMA_BITS-1);
    beta_int  = round(beta / s_acc) with s_acc = sqrt(n) / 2**LN_NORM_BITS * s_gamma;
    mult/shift requantize s_acc to the output scale (one, or one per channel).
    """

    gamma: np.ndarray  # int64 [n]
    beta: np.ndarray  # int64 [n] (int32 range)
    mult: int | np.ndarray  # per tensor, or per channel [n] (per-channel output scales)
    shift: int | np.ndarray
    out_bits: int = 8


def int_layernorm(x: np.ndarray, p: LayerNormParams) -> np.ndarray:
    """LayerNorm over the last axis (n channels) of integer x; returns int64 in `out_bits` range.

        mean  = (sum(x) + n//2) // n                     round half up
        y     = x - mean
        std   = max(isqrt(sum(y*y)), LN_STD_MIN)         = sqrt(n) * sigma, floored
        recip = 2**LN_RECIP_BITS // std                  one per token
        qn    = sat((y * recip + 2**(R-K-1)) >> (R-K))   R = LN_RECIP_BITS, K = LN_NORM_BITS;
                                                         SAT_LN_NORM to LN_NORM_SAT_BITS
        acc   = add_bias(qn * gamma, beta)               SAT_BIAS (int32)
        out   = requantize(acc, mult, shift, out_bits)   SAT_REQUANT
    Input bound: |x| < 2**16 keeps y*y*n below 2**43 and y*recip below 2**57.
    """
    x = np.asarray(x, dtype=np.int64)
    n = x.shape[-1]
    mean = (x.sum(axis=-1, keepdims=True) + n // 2) // n
    y = x - mean
    std = np.maximum(isqrt((y * y).sum(axis=-1, keepdims=True)), LN_STD_MIN)
    recip = (np.int64(1) << np.int64(LN_RECIP_BITS)) // std
    qn = saturate(_round_shift(y * recip, LN_RECIP_BITS - LN_NORM_BITS), LN_NORM_SAT_BITS)
    acc = add_bias(qn * p.gamma, p.beta)
    return requantize(acc, p.mult, p.shift, p.out_bits)
