"""Integer nonlinear functions: hand-checked cases, exactness, and bounds against float."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

from sim.golden.nonlinear import (
    EXP_A,
    PROB_BITS,
    PROB_MAX,
    ExpParams,
    GeluParams,
    LayerNormParams,
    int_exp,
    int_gelu,
    int_layernorm,
    int_softmax,
    isqrt,
)
from sim.golden.params import SCORE_SCALE

# Stated error bounds of the integer functions against their float definitions.
EXP_ABS_ERR = 3e-3  # I-BERT's polynomial on (-ln2, 0] (0.0021) plus the 2**-9 input step
SOFTMAX_ABS_ERR = 6e-3  # i-exp error plus half a step of 2**-8
GELU_ABS_ERR = 0.02  # I-BERT's clipped second-order erf (max error 0.018 near |x| = 1.8)
LN_ABS_ERR = 0.05  # in output units for N(0,1)-scale outputs: int8 step/2 + gamma rounding


# ---- isqrt --------------------------------------------------------------------------------

def test_isqrt_hand_checked() -> None:
    n = np.array([0, 1, 2, 3, 4, 15, 16, 17, 99980001, 2**62 - 1])
    assert isqrt(n).tolist() == [0, 1, 1, 1, 2, 3, 4, 4, 9999, 2**31 - 1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**62 - 1), min_size=1, max_size=50))
def test_isqrt_is_exact_floor(values: list[int]) -> None:
    assert isqrt(np.array(values, np.int64)).tolist() == [math.isqrt(v) for v in values]


def test_isqrt_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        isqrt(np.array([4, -1]))


# ---- exp and softmax --------------------------------------------------------------------------

HAND_EXP = ExpParams(q_ln2=10, q_b=14, q_c=5)


def test_int_exp_hand_checked() -> None:
    # q=0: (0+14)^2+5 = 201; q=-13: z=1, r=-3, (11^2+5)>>1 = 63; q=-400: clamped to z=30 -> 0
    assert int_exp(np.array([0, -13, -400]), HAND_EXP).tolist() == [201, 63, 0]


def test_int_exp_rejects_positive() -> None:
    with pytest.raises(ValueError, match="<= 0"):
        int_exp(np.array([1]), HAND_EXP)


def test_int_exp_against_float() -> None:
    p = ExpParams.derive(SCORE_SCALE)
    q = np.arange(-20 * round(1 / SCORE_SCALE), 1)
    approx = int_exp(q, p) * (EXP_A * SCORE_SCALE**2)
    assert np.abs(approx - np.exp(q * SCORE_SCALE)).max() < EXP_ABS_ERR


def test_int_softmax_hand_checked() -> None:
    # equal scores share 256 evenly; a dominant score saturates at 255 (SAT_SOFTMAX)
    assert int_softmax(np.array([[5, 5], [0, -400]]), HAND_EXP).tolist() == [[128, 128],
                                                                              [PROB_MAX, 0]]


def test_int_softmax_against_float() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 4, (500, 40))
    probs = int_softmax(np.round(x / SCORE_SCALE).astype(np.int64), ExpParams.derive(SCORE_SCALE))
    ref = np.exp(x - x.max(-1, keepdims=True))
    ref /= ref.sum(-1, keepdims=True)
    assert probs.min() >= 0 and probs.max() <= PROB_MAX
    assert np.abs(probs / 2**PROB_BITS - ref).max() < SOFTMAX_ABS_ERR


# ---- GELU ------------------------------------------------------------------------------------

def test_int_gelu_hand_checked() -> None:
    p = GeluParams(q_b=10, q_one=100, shift=0, out_scale=1.0)
    # q=3: erf = 100 - (3-10)^2 = 51, out = 3*151; q=-3: erf = -51, out = -3*49; q=20 clips
    assert int_gelu(np.array([0, 3, -3, 20]), p).tolist() == [0, 453, -147, 4000]


@pytest.mark.parametrize("max_abs", [4.0, 8.0, 30.0])
def test_int_gelu_against_float(max_abs: float) -> None:
    scale = max_abs / 32767
    p = GeluParams.derive(scale)
    q = np.arange(-32767, 32768, 7)
    out = int_gelu(q, p)
    assert np.abs(out).max() < 2**31  # the int32 bound of the docstring
    x = q * scale
    ref = x / 2 * (1 + erf(x / math.sqrt(2)))
    assert np.abs(out * p.out_scale - ref).max() < GELU_ABS_ERR


# ---- LayerNorm -------------------------------------------------------------------------------

def test_int_layernorm_hand_checked() -> None:
    # mean 2, y = [-1, 1], std = isqrt(2) = 1, qn = +-2**14, acc = qn, (acc + 512) >> 10
    p = LayerNormParams(np.array([1, 1]), np.array([0, 0]), mult=1, shift=10)
    assert int_layernorm(np.array([[1, 3]]), p).tolist() == [[-16, 16]]


def test_int_layernorm_constant_row_gives_beta() -> None:
    p = LayerNormParams(np.array([5, 5, 5]), np.array([1024, -2048, 0]), mult=1, shift=10)
    assert int_layernorm(np.array([[7, 7, 7]]), p).tolist() == [[1, -2, 0]]


def test_int_layernorm_against_float() -> None:
    from algo.quantize.convert import quantize_layernorm

    rng = np.random.default_rng(1)
    n = 384
    x = rng.normal(0, 3000, (64, n)).round().clip(-32767, 32767)
    gamma, beta = rng.uniform(0.5, 2.0, n), rng.normal(0, 0.5, n)
    s_out = np.full(n, 8.0 / 127)
    out = int_layernorm(x.astype(np.int64), quantize_layernorm(gamma, beta, s_out))
    mu, sd = x.mean(-1, keepdims=True), x.std(-1, keepdims=True)
    ref = (x - mu) / sd * gamma + beta
    assert np.abs(out * s_out - ref).max() < LN_ABS_ERR
