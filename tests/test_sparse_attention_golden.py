"""Integer top-k attention: exact stage semantics, and the same selection as PyTorch."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from algo.attention import TopK, estimate_scores, select_topk, topk_attention
from sim.golden.nonlinear import PROB_MAX
from sim.golden.requant import requantize
from sim.golden.sparse_attention import (
    ESTIMATE_LUT,
    LUT_SIZE,
    Q4_MAX,
    AttentionQuant,
    estimate,
    exact_scores,
    quantize4,
    select,
    sparse_attention,
    sparse_attention_head,
    topk_count,
)

POW2_SCALE = 2.0**-6  # exact in float, so float and integer quantization see the same ratios
# Scales of the end-to-end checks (powers of two, see above) and the tolerance of the integer
# context against the float operator, in output LSBs (probabilities have 8 fractional bits).
S_QK, S_V, S_OUT = 2.0**-5, 2.0**-6, 2.0**-6
HEAD_DIM = 32
CONTEXT_TOL_LSB = 3


def int8_matrix(max_rows: int = 12, max_d: int = 6, lo: int = -128, hi: int = 127):
    shape = st.tuples(st.integers(1, max_rows), st.integers(1, max_d))
    return shape.flatmap(lambda s: hnp.arrays(np.int8, s, elements=st.integers(lo, hi)))


def round_half_away(x: Fraction) -> int:
    mag = int(abs(x) + Fraction(1, 2))
    return mag if x >= 0 else -mag


def test_lut_is_the_signed_nibble_product_table() -> None:
    assert ESTIMATE_LUT.shape == (LUT_SIZE,) and ESTIMATE_LUT.dtype == np.int8
    signed = [c - 16 if c >= 8 else c for c in range(16)]
    for a in range(16):
        for b in range(16):
            assert ESTIMATE_LUT[(a << 4) | b] == signed[a] * signed[b]


@settings(max_examples=60, deadline=None)
@given(x=int8_matrix())
def test_quantize4_matches_exact_rational_rounding(x: np.ndarray) -> None:
    for axis in (-1, None):
        got = quantize4(x, axis)
        m = np.abs(x.astype(np.int64)).max(axis=axis, keepdims=True)
        m = np.broadcast_to(m, x.shape)
        want = [[0 if m[i, j] == 0 else round_half_away(Fraction(Q4_MAX * int(x[i, j]),
                                                                 int(m[i, j])))
                 for j in range(x.shape[1])] for i in range(x.shape[0])]
        assert got.tolist() == want
        assert np.abs(got).max() <= Q4_MAX


@settings(max_examples=40, deadline=None)
@given(q=int8_matrix(lo=-7, hi=7), data=st.data())
def test_estimate_equals_integer_matmul(q: np.ndarray, data: st.DataObject) -> None:
    k = data.draw(hnp.arrays(np.int8, (data.draw(st.integers(1, 12)), q.shape[1]),
                             elements=st.integers(-7, 7)))
    assert np.array_equal(estimate(q, k), q.astype(np.int64) @ k.astype(np.int64).T)


def test_select_ties_to_lower_index_and_clips_k() -> None:
    est = np.array([[5, 7, 5, 7, 5, 1]])
    assert select(est, 3).tolist() == [[1, 3, 0]]
    assert select(est, 10).tolist() == [[1, 3, 0, 2, 4, 5]]


def test_exact_scores() -> None:
    q = np.array([[1, 2], [-3, 4]], dtype=np.int8)
    k = np.array([[127, -128], [1, 1], [2, 0]], dtype=np.int8)
    idx = np.array([[0, 2], [1, 0]])
    assert exact_scores(q, k, idx).tolist() == [[127 - 256, 2], [1, -381 - 512]]
    with pytest.raises(TypeError, match="q8"):
        exact_scores(q.astype(np.int16), k, idx)


def test_topk_count() -> None:
    assert [topk_count(n, k=4) for n in (0, 1, 4, 9)] == [0, 1, 4, 4]
    assert topk_count(30, fraction=0.1) == 3
    assert topk_count(10, fraction=0.25, k_min=4) == 4
    with pytest.raises(ValueError, match="exactly one"):
        topk_count(8)
    with pytest.raises(ValueError, match="fraction"):
        topk_count(8, fraction=0.0)


@settings(max_examples=80, deadline=None)
@given(q=int8_matrix(max_rows=16, max_d=8, lo=-4, hi=4), data=st.data(),
       kk=st.integers(1, 20))
def test_selection_agrees_with_pytorch(q: np.ndarray, data: st.DataObject, kk: int) -> None:
    """Small int8 ranges make many tied estimates: both sides must break them alike."""
    L, d = q.shape
    k = data.draw(hnp.arrays(np.int8, (L, d), elements=st.integers(-4, 4)))
    want = select(estimate(quantize4(q, -1), quantize4(k, None)), kk)
    qf = torch.tensor(q, dtype=torch.float32)[None, None] * POW2_SCALE
    kf = torch.tensor(k, dtype=torch.float32)[None, None] * POW2_SCALE
    valid = torch.ones(1, 1, L, L, dtype=torch.bool)
    est = estimate_scores(qf, kf, valid.any(dim=-2))
    idx, kept = select_topk(est, valid, TopK(k=kk).count(valid.sum(-1)))
    assert kept.all()
    assert idx[0, 0].numpy().tolist() == want.tolist()


def float_context(q8: np.ndarray, k8: np.ndarray, v8: np.ndarray, kk: int) -> np.ndarray:
    """The PyTorch operator on the dequantized inputs, in units of S_OUT."""
    def f(x: np.ndarray, scale: float) -> torch.Tensor:
        return torch.tensor(x, dtype=torch.float32)[None, None] * scale

    out, _ = topk_attention(f(q8, S_QK), f(k8, S_QK), f(v8, S_V), None, TopK(k=kk))
    return out[0, 0].numpy() / S_OUT


@pytest.mark.parametrize("kk", [1, 4, 16, 64])
def test_integer_head_tracks_the_float_operator(kk: int) -> None:
    rng = np.random.default_rng(kk)
    q8, k8, v8 = (rng.integers(-100, 100, (40, HEAD_DIM)).astype(np.int8) for _ in range(3))
    quant = AttentionQuant.derive(S_QK, S_QK, S_V, S_OUT, HEAD_DIM)
    got = sparse_attention_head(q8, k8, v8, kk, quant)
    assert got.dtype == np.int8 and got.shape == q8.shape
    assert np.abs(got - float_context(q8, k8, v8, kk)).max() <= CONTEXT_TOL_LSB


def test_k1_and_length_one_take_one_value_row() -> None:
    rng = np.random.default_rng(7)
    q8, k8, v8 = (rng.integers(-128, 128, (5, 8)).astype(np.int8) for _ in range(3))
    quant = AttentionQuant.derive(S_QK, S_QK, S_V, S_OUT, 8)
    idx = select(estimate(quantize4(q8, -1), quantize4(k8, None)), 1)[:, 0]
    # One key: probability 1 saturates to PROB_MAX (SAT_SOFTMAX).
    want = requantize(PROB_MAX * v8[idx].astype(np.int64), quant.out_mult, quant.out_shift)
    assert np.array_equal(sparse_attention_head(q8, k8, v8, 1, quant), want)
    alone = requantize(PROB_MAX * v8[:1].astype(np.int64), quant.out_mult, quant.out_shift)
    assert np.array_equal(sparse_attention_head(q8[:1], k8[:1], v8[:1], 4, quant), alone)


def test_multi_head_is_per_head_concatenation() -> None:
    rng = np.random.default_rng(8)
    heads, d = 3, 8
    q8, k8, v8 = (rng.integers(-128, 128, (6, heads * d)).astype(np.int8) for _ in range(3))
    quant = AttentionQuant.derive(S_QK, S_QK, S_V, S_OUT, d)
    got = sparse_attention(q8, k8, v8, heads, 2, quant)
    for h in range(heads):
        c = slice(h * d, (h + 1) * d)
        assert np.array_equal(got[:, c], sparse_attention_head(q8[:, c], k8[:, c], v8[:, c],
                                                               2, quant))
    with pytest.raises(ValueError, match="heads"):
        sparse_attention(q8, k8, v8, 5, 2, quant)


def test_derive_names_the_bad_scale() -> None:
    with pytest.raises(ValueError, match="s_v"):
        AttentionQuant.derive(S_QK, S_QK, 0.0, S_OUT, HEAD_DIM)
