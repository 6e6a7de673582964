"""Top-k sparse attention in integers: the reference the RTL and HLS attention engines match.

One head of one sequence of L real tokens (no padding: the engine runs its loops to L).
Inputs are the int8 projections Q, K, V [L, d] of that head. Six stages, one function each,
so an engine can be checked stage by stage:

  1. `quantize4`     int8 -> signed 4-bit in [-Q4_MAX, Q4_MAX]; Q per row, K per head
  2. `estimate`      4x4-bit products read from `ESTIMATE_LUT`, summed over d -> [L, L]
  3. `select`        the k keys per query with the largest estimate, ties to the lower index
  4. `exact_scores`  int8 x int8 dot products for the k selected keys only -> int32 [L, k]
  5. `softmax`       requantize the scores to SCORE_BITS (SAT_ATTN_SCORE), then the
                     integer softmax of `sim.golden.nonlinear` over the k keys
  6. `accumulate`    sum of the k selected V rows weighted by the probabilities -> int32,
                     requantized to int8 (SAT_REQUANT)

Why Q per row and K per head: the ranking of keys for one query must use one K scale for
all keys, while a positive scale on the query row changes no ranking except by rounding;
a per-row Q scale also keeps a query independent of every other token (PyTorch batches
with padding agree exactly). `algo.attention` implements the same rule in float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.golden.nonlinear import PROB_BITS, ExpParams, int_softmax
from sim.golden.requant import quantize_multiplier, requantize

Q4_MAX = 7  # x' = round(Q4_MAX / max|x| * x): signed 4-bit codes in [-7, 7]
NIBBLE_BITS = 4
NIBBLE_MASK = (1 << NIBBLE_BITS) - 1
LUT_SIZE = 1 << (2 * NIBBLE_BITS)  # 256 entries, address = (q_nibble << 4) | k_nibble
# The exp unit's input: scores requantized to SCORE_BITS signed integers with scale
# SCORE_SCALE (SAT_ATTN_SCORE), i.e. +-32 in steps of 1/1024: scaled BERT scores lie well
# inside, and a fixed format fixes the widths of the exp unit for every head and layer.
SCORE_BITS = 16
SCORE_FRAC_BITS = 10
SCORE_SCALE = 2.0**-SCORE_FRAC_BITS
FRACTION_DECIMALS = 9  # fraction * L is rounded to this many decimals before the ceiling


def _nibble_value(code: int) -> int:
    """The signed value of a 4-bit two's-complement code."""
    return code - (1 << NIBBLE_BITS) if code >= 1 << (NIBBLE_BITS - 1) else code


def _build_lut() -> np.ndarray:
    codes = np.arange(LUT_SIZE)
    a = np.array([_nibble_value(c) for c in codes >> NIBBLE_BITS])
    b = np.array([_nibble_value(c) for c in codes & NIBBLE_MASK])
    lut = (a * b).astype(np.int8)
    lut.flags.writeable = False
    return lut


# The 4x4-bit product table: ESTIMATE_LUT[(qc << 4) | kc] = value(qc) * value(kc), where a
# code is the 4-bit two's complement of a value (value(0xF) = -1). Entries lie in [-56, 64]
# (64 = (-8)*(-8) is never addressed, since quantize4 yields no -8), so each fits int8.
ESTIMATE_LUT = _build_lut()


def topk_count(length: int, k: int | None = None, fraction: float | None = None,
               k_min: int = 1) -> int:
    """Keys kept per query for a sequence of `length` valid keys.

    Fixed `k`: min(k, length). Fraction: min(length, max(k_min, ceil(fraction * length))),
    fraction * length rounded to FRACTION_DECIMALS first so that 0.1 * 30 counts as 3.
    Exactly one of `k` and `fraction` is given.
    """
    if (k is None) == (fraction is None):
        raise ValueError("topk_count: give exactly one of k and fraction")
    if length < 0:
        raise ValueError(f"length: must be >= 0, got {length}")
    if k is not None:
        if k < 1:
            raise ValueError(f"k: must be >= 1, got {k}")
        return min(k, length)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction: must be in (0, 1], got {fraction}")
    if k_min < 1:
        raise ValueError(f"k_min: must be >= 1, got {k_min}")
    return min(length, max(k_min, math.ceil(round(fraction * length, FRACTION_DECIMALS))))


def _check_int8(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.int8:
        raise TypeError(f"{name}: expected int8, got {x.dtype}")
    return x


def quantize4(x: np.ndarray, axis: int | None) -> np.ndarray:
    """Signed 4-bit codes of int8 values: round half away from zero of Q4_MAX * x / m.

    m = max|x| over `axis` (None: the whole array). Exactly, in integers:
        x4 = sign(x) * floor((2 * Q4_MAX * |x| + m) / (2 * m)),   x4 = 0 where m = 0.
    |x| = m maps to Q4_MAX, so the result lies in [-Q4_MAX, Q4_MAX]. Returns int8.
    """
    a = np.abs(_check_int8("x", x).astype(np.int64))
    m = np.max(a, axis=axis, keepdims=True) if a.size else np.zeros_like(a)
    safe = np.where(m == 0, 1, m)
    mag = (2 * Q4_MAX * a + safe) // (2 * safe)
    return (np.sign(x.astype(np.int64)) * np.where(m == 0, 0, mag)).astype(np.int8)


def lut_address(q4: np.ndarray, k4: np.ndarray) -> np.ndarray:
    """The ESTIMATE_LUT address of a 4-bit pair: (q & 0xF) << 4 | (k & 0xF)."""
    q = np.asarray(q4, dtype=np.int64) & NIBBLE_MASK
    k = np.asarray(k4, dtype=np.int64) & NIBBLE_MASK
    return (q << NIBBLE_BITS) | k


def estimate(q4: np.ndarray, k4: np.ndarray) -> np.ndarray:
    """Estimated scores est[i, j] = sum_d ESTIMATE_LUT[lut_address(q4[i, d], k4[j, d])].

    |est| <= Q4_MAX**2 * d, so it needs ceil(log2(49 d)) + 1 bits (13 for d = 64); int32.
    """
    q4, k4 = np.asarray(q4), np.asarray(k4)
    if q4.ndim != 2 or k4.ndim != 2 or q4.shape[1] != k4.shape[1]:
        raise ValueError(f"estimate: q4 {q4.shape} and k4 {k4.shape} must be [L, d] alike")
    est = np.zeros((q4.shape[0], k4.shape[0]), dtype=np.int32)
    for d in range(q4.shape[1]):
        est += ESTIMATE_LUT[lut_address(q4[:, d, None], k4[None, :, d])]
    return est


def select(est: np.ndarray, k: int) -> np.ndarray:
    """Indices [Lq, min(k, Lk)] of the largest estimates per query row.

    Order: estimate descending, then key index ascending, so among equal estimates the
    lower key index wins and is listed first. Later stages are order-independent.
    """
    est = np.asarray(est)
    if k < 1:
        raise ValueError(f"k: must be >= 1, got {k}")
    order = np.argsort(-est.astype(np.int64), axis=-1, kind="stable")
    return order[..., : min(k, est.shape[-1])]


def exact_scores(q8: np.ndarray, k8: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """s[i, j] = sum_d q8[i, d] * k8[idx[i, j], d] in int32 (|s| <= 2**14 * d, no overflow)."""
    q = _check_int8("q8", q8).astype(np.int64)
    kk = _check_int8("k8", k8).astype(np.int64)
    return np.einsum("id,ijd->ij", q, kk[idx]).astype(np.int32)


@dataclass(frozen=True)
class AttentionQuant:
    """The integer constants of one attention head; `derive` computes them on the host.

    score_mult, score_shift: requantize q8 . k8 (real scale s_q s_k / sqrt(d)) to SCORE_BITS
        signed integers with the fixed scale SCORE_SCALE, the input format of the exp unit.
    exp: the i-exp constants for SCORE_SCALE (the same for every head and layer).
    out_mult, out_shift: requantize sum(p . v8) (scale 2**-PROB_BITS * s_v) to int8 at s_out.
    """

    score_mult: int
    score_shift: int
    exp: ExpParams
    out_mult: int
    out_shift: int

    @classmethod
    def derive(cls, s_q: float, s_k: float, s_v: float, s_out: float,
               head_dim: int) -> AttentionQuant:
        """From the float scales of the int8 Q, K, V and of the int8 context output."""
        for name, v in (("s_q", s_q), ("s_k", s_k), ("s_v", s_v), ("s_out", s_out)):
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name}: scale must be finite and > 0, got {v!r}")
        score_mult, score_shift = quantize_multiplier(s_q * s_k / math.sqrt(head_dim)
                                                      / SCORE_SCALE)
        out_mult, out_shift = quantize_multiplier(s_v / (1 << PROB_BITS) / s_out)
        return cls(score_mult, score_shift, ExpParams.derive(SCORE_SCALE), out_mult, out_shift)


def softmax(scores: np.ndarray, quant: AttentionQuant) -> np.ndarray:
    """Probabilities over the selected keys, in [0, PROB_MAX] with scale 2**-PROB_BITS.

        x = requantize(scores, score_mult, score_shift, SCORE_BITS)    SAT_ATTN_SCORE
        p = int_softmax(x, exp)                                        (sim.golden.nonlinear)
    """
    x = requantize(scores, quant.score_mult, quant.score_shift, SCORE_BITS)
    return int_softmax(x, quant.exp)


def accumulate(probs: np.ndarray, v8: np.ndarray, idx: np.ndarray,
               quant: AttentionQuant) -> np.ndarray:
    """out[i] = requantize(sum_j probs[i, j] * v8[idx[i, j]], out_mult, out_shift) as int8.

    probs are unsigned PROB_BITS-bit, so |acc| <= PROB_MAX * 128 * k (< 2**31 for k < 2**16);
    the requantization saturates to int8 (SAT_REQUANT).
    """
    v = _check_int8("v8", v8).astype(np.int64)
    acc = np.einsum("ij,ijd->id", np.asarray(probs, dtype=np.int64), v[idx])
    return requantize(acc, quant.out_mult, quant.out_shift, 8).astype(np.int8)


def sparse_attention_head(q8: np.ndarray, k8: np.ndarray, v8: np.ndarray, k: int,
                          quant: AttentionQuant) -> np.ndarray:
    """All six stages for one head: int8 Q, K, V [L, d] -> int8 context [L, d]."""
    idx = select(estimate(quantize4(q8, axis=-1), quantize4(k8, axis=None)), k)
    probs = softmax(exact_scores(q8, k8, idx), quant)
    return accumulate(probs, v8, idx, quant)


def sparse_attention(q8: np.ndarray, k8: np.ndarray, v8: np.ndarray, heads: int, k: int,
                     quant: AttentionQuant | list[AttentionQuant]) -> np.ndarray:
    """Multi-head: [L, heads * d] int8 in (head h = columns h*d .. (h+1)*d - 1, the HF
    layout) -> [L, heads * d] int8 context; one AttentionQuant for all heads or one each."""
    q8, k8, v8 = (_check_int8(n, x) for n, x in (("q8", q8), ("k8", k8), ("v8", v8)))
    if q8.shape[1] % heads:
        raise ValueError(f"heads: {heads} does not divide the width {q8.shape[1]}")
    d = q8.shape[1] // heads
    quants = quant if isinstance(quant, list) else [quant] * heads
    if len(quants) != heads:
        raise ValueError(f"quant: {len(quants)} AttentionQuant for {heads} heads")
    cols = [slice(h * d, (h + 1) * d) for h in range(heads)]
    return np.concatenate([sparse_attention_head(q8[:, c], k8[:, c], v8[:, c], k, qt)
                           for c, qt in zip(cols, quants, strict=True)], axis=1)
