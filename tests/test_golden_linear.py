"""Requantization properties and the HP sparse linear, which must equal the dense int product."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algo.hp import HPShape, encode, hp_mask
from algo.hp.format import decode
from sim.golden.linear import dense_linear, exact_dtype, exact_matmul, hp_linear, hp_matmul
from sim.golden.requant import ACC_MAX, ACC_MIN, MULT_MAX, SHIFT_MAX, SHIFT_MIN, requantize

acc32 = st.integers(ACC_MIN, ACC_MAX)
mults = st.integers(0, MULT_MAX)
shifts = st.integers(SHIFT_MIN, SHIFT_MAX)
widths = st.sampled_from([8, 16])


@settings(max_examples=300, deadline=None)
@given(acc32, mults, shifts, widths)
def test_requantize_never_overflows(acc: int, m: int, s: int, bits: int) -> None:
    y = int(requantize(np.array([acc]), m, s, bits)[0])
    assert -(1 << (bits - 1)) <= y <= (1 << (bits - 1)) - 1


@settings(max_examples=300, deadline=None)
@given(acc32, acc32, mults, shifts, widths)
def test_requantize_is_monotone(a: int, b: int, m: int, s: int, bits: int) -> None:
    lo, hi = min(a, b), max(a, b)
    y = requantize(np.array([lo, hi]), m, s, bits)
    assert y[0] <= y[1]


def test_requantize_rounds_half_up() -> None:
    # M / 2**S = 1/2: 1 -> 0.5 -> 1, -1 -> -0.5 -> 0, 3 -> 1.5 -> 2
    assert requantize(np.array([1, -1, 3, -3]), 1, 1).tolist() == [1, 0, 2, -1]


@st.composite
def hp_cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, HPShape, float]:
    bo, bi = draw(st.sampled_from([1, 2, 4, 8])), draw(st.sampled_from([1, 2, 4, 8]))
    m = draw(st.integers(1, bi))
    nbr, nbc = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    keep = draw(st.sampled_from([0.25, 0.5, 1.0]))
    tokens = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w = rng.integers(-127, 128, (nbr * bo, nbc * bi))
    x = rng.integers(-128, 128, (tokens, nbc * bi))
    return w, x, HPShape(bo, bi, m), keep


@settings(max_examples=150, deadline=None)
@given(hp_cases())
def test_hp_linear_equals_dense_integer_linear(case: tuple) -> None:
    w, x, shape, keep = case
    hp = encode(w.astype(np.int8), hp_mask(w.astype(np.float64), shape, keep), shape)
    out = hp.out_features
    rng = np.random.default_rng(out)
    bias = rng.integers(-2**20, 2**20, out)
    mult, shift = rng.integers(1 << 14, MULT_MAX + 1, out), rng.integers(8, 20, out)
    dense = decode(hp).astype(np.int64)
    assert np.array_equal(hp_matmul(x, hp), x @ dense.T)
    for bits in (8, 16):
        assert np.array_equal(hp_linear(x, hp, bias, mult, shift, bits),
                              dense_linear(x, dense, bias, mult, shift, bits))


def test_hp_matmul_block_row_without_blocks_is_zero() -> None:
    shape = HPShape(2, 2, 1)
    w = np.array([[5, 0, 0, 0], [0, 3, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], np.int8)
    hp = encode(w, w != 0, shape)
    assert hp_matmul(np.array([[1, 2, 3, 4]]), hp).tolist() == [[5, 6, 0, 0]]


def test_exact_dtype_bounds() -> None:
    assert exact_dtype(1024, 128, 127) is np.float32
    assert exact_dtype(1536, 128, 127) is np.float64
    with pytest.raises(OverflowError, match="2\\*\\*53"):
        exact_dtype(2**40, 2**7, 2**7)


def test_exact_matmul_is_exact_on_extremes() -> None:
    a = np.full((2, 1536), -128, np.int64)
    b = np.full((1536, 3), -128, np.int64)
    assert (exact_matmul(a, b) == 1536 * 128 * 128).all()


def test_hp_linear_rejects_wrong_width() -> None:
    w = np.ones((4, 4), np.int8)
    hp = encode(w, np.ones((4, 4), bool), HPShape(2, 2, 2))
    with pytest.raises(ValueError, match=r"x must be \[tokens, 4\]"):
        hp_matmul(np.ones((1, 3), np.int64), hp)


def test_hp_linear_bit_exact_on_every_minilm_layer() -> None:
    """Every encoder linear of MiniLM, dense and HP-pruned, quantized: HP == dense int product."""
    pytest.importorskip("torch")
    from algo.hp.model import encoder_linears
    from algo.models import load_model
    from algo.quantize.convert import dense_hp, quantize_weight

    model, _ = load_model()
    shape = HPShape(16, 16, 4)
    rng = np.random.default_rng(0)
    for name, lin in encoder_linears(model).items():
        w = lin.weight.detach().numpy().astype(np.float64)
        pruned = encode(w, hp_mask(w, shape, 0.5), shape)
        x = rng.integers(-128, 128, (7, w.shape[1]))
        for hp in (dense_hp(w, shape), pruned):
            q, _ = quantize_weight(hp)
            assert np.array_equal(hp_matmul(x, q), x @ decode(q).astype(np.int64).T), name
