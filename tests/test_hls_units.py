"""Each HLS header in C simulation on its own, bit for bit against the golden model.

The unit drivers in hw/hls/tests/ wrap one header each at a small configuration; they
are compiled once per session (in a temporary cache) and called through ctypes.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algo.hp import HPShape, encode, hp_mask
from hw.hls.build import unit_library
from hw.hls.ffi import c_array, load, ptr
from sim.golden.requant import (
    ACC_MAX,
    ACC_MIN,
    MULT_MAX,
    SHIFT_MAX,
    SHIFT_MIN,
    add_bias,
    requantize,
)

pytestmark = pytest.mark.xdist_group("hls")


@pytest.fixture(scope="session")
def hls_cache(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("csim-cache")


@pytest.fixture(scope="session")
def requant_lib(hls_cache) -> ctypes.CDLL:
    return load(unit_library("test_requant", cache_dir=hls_cache))


@pytest.fixture(scope="session")
def hp_lib(hls_cache) -> ctypes.CDLL:
    return load(unit_library("test_hp_matmul", cache_dir=hls_cache))


def _requant_c(lib: ctypes.CDLL, acc, bias, mult, shift) -> np.ndarray:
    acc, bias = c_array(acc, np.int64), c_array(bias, np.int32)
    mult, shift = c_array(mult, np.int32), c_array(shift, np.int32)
    out = np.zeros(acc.shape, np.int8)
    lib.sbf_test_requantize(ptr(acc), ptr(bias), ptr(mult), ptr(shift), acc.size, ptr(out))
    return out


int32s = st.integers(ACC_MIN, ACC_MAX)


@settings(max_examples=300, deadline=None)
@given(acc=int32s, bias=int32s, mult=st.integers(0, MULT_MAX),
       shift=st.integers(SHIFT_MIN, SHIFT_MAX))
def test_requantize_matches_golden(requant_lib, acc, bias, mult, shift) -> None:
    got = _requant_c(requant_lib, [acc], [bias], [mult], [shift])
    want = requantize(add_bias(np.array([acc]), np.array([bias])), mult, shift, 8)
    assert got.tolist() == want.tolist()


def test_requantize_edges(requant_lib) -> None:
    """Saturation of the bias add and of the output, ties rounding up, the largest shift."""
    acc = np.array([ACC_MAX, ACC_MIN, 3, -3, -1, 1, 0, ACC_MAX, ACC_MIN])
    bias = np.array([ACC_MAX, ACC_MIN, 0, 0, 0, 0, 0, 0, 0])
    mult = np.array([MULT_MAX, MULT_MAX, 1, 1, 1, 1, 0, MULT_MAX, MULT_MAX])
    shift = np.array([1, 1, 1, 1, 1, 1, 5, SHIFT_MAX, SHIFT_MAX])
    want = requantize(add_bias(acc, bias), mult, shift, 8)
    assert _requant_c(requant_lib, acc, bias, mult, shift).tolist() == want.tolist()
    assert want.tolist()[2:6] == [2, -1, 0, 1]  # round half toward +inf


HP_CONFIGS = {"m2": 0, "m3": 1}  # the driver's configurations: m=2, and m=3 (not 2^k)


def _hp_cfg(lib: ctypes.CDLL, which: int) -> dict[str, int]:
    vals = [ctypes.c_int() for _ in range(5)]
    assert lib.sbf_test_hp_cfg(which, *(ctypes.byref(v) for v in vals)) == 0
    return dict(zip(("bo", "bi", "m", "t", "max_in"), (v.value for v in vals), strict=True))


def _hp_case(seed: int, out_f: int, in_f: int, shape: HPShape, keep: float):
    rng = np.random.default_rng(seed)
    w = rng.integers(-128, 128, size=(out_f, in_f)).astype(np.int8)
    hp = encode(w, hp_mask(w, shape, keep), shape)
    bias = rng.integers(-(1 << 20), 1 << 20, size=out_f)
    mult = rng.integers(1 << 14, MULT_MAX + 1, size=out_f)
    shift = rng.integers(14, 24, size=out_f)
    return hp, bias, mult, shift


def _hp_linear_c(lib, which, x, hp, bias, mult, shift) -> np.ndarray:
    L = x.shape[0]
    x8 = c_array(x, np.int8)
    vals = c_array(hp.values, np.int8)  # [nnzb][bo][m]: one record per kept block
    idx = c_array(hp.idx, np.uint8)
    bp, bc = c_array(hp.block_ptr, np.int32), c_array(hp.block_col, np.int32)
    b, mu, s = c_array(bias, np.int32), c_array(mult, np.int32), c_array(shift, np.int32)
    y = np.zeros((L, hp.out_features), np.int8)
    rc = lib.sbf_test_hp_linear(which, ptr(x8), L, hp.out_features, hp.in_features, hp.nnzb,
                                ptr(bp), ptr(bc), ptr(vals), ptr(idx), ptr(b), ptr(mu), ptr(s),
                                ptr(y))
    assert rc == 0, f"the unit driver refused configuration {which} (rc {rc})"
    return y


@pytest.mark.parametrize("length", [1, 2, 3, 4, 7, 11])
@pytest.mark.parametrize("keep", [1.0, 0.4])
@pytest.mark.parametrize("config", sorted(HP_CONFIGS))
def test_hp_linear_matches_golden(hp_lib, length: int, keep: float, config: str) -> None:
    from sim.golden.linear import hp_linear

    which = HP_CONFIGS[config]
    c = _hp_cfg(hp_lib, which)
    assert c["m"] == int(config[1:])
    shape = HPShape(c["bo"], c["bi"], c["m"])
    out_f, in_f = ctypes.c_int(), ctypes.c_int()
    hp_lib.sbf_test_hp_shape(ctypes.byref(out_f), ctypes.byref(in_f))
    assert (out_f.value, in_f.value) == (3 * c["bo"], c["max_in"])
    hp, bias, mult, shift = _hp_case(length, out_f.value, in_f.value, shape, keep)
    x = np.random.default_rng(100 + length).integers(-128, 128, size=(length, c["max_in"]))
    want = hp_linear(x.astype(np.int8), hp, bias.astype(np.int32), mult, shift)
    assert np.array_equal(_hp_linear_c(hp_lib, which, x, hp, bias, mult, shift), want)


@pytest.mark.parametrize("length", [1, 3, 4, 11])
@pytest.mark.parametrize("config", sorted(HP_CONFIGS))
def test_hp_linear_empty_block_rows(hp_lib, length: int, config: str) -> None:
    """Block-rows without kept blocks (first, middle, last) drain their bias-only outputs
    in order: the null block of the engine's schedule."""
    from sim.golden.linear import hp_linear

    which = HP_CONFIGS[config]
    c = _hp_cfg(hp_lib, which)
    shape = HPShape(c["bo"], c["bi"], c["m"])
    out_f, in_f = 3 * c["bo"], c["max_in"]
    rng = np.random.default_rng(length)
    w = rng.integers(-128, 128, size=(out_f, in_f)).astype(np.int8)
    for empty in (0, 1, 2):
        mask = hp_mask(w, shape, 0.5).copy()
        mask[empty * c["bo"]:(empty + 1) * c["bo"], :] = False
        hp = encode(w, mask, shape)
        assert hp.block_ptr[empty] == hp.block_ptr[empty + 1]
        bias = rng.integers(-(1 << 20), 1 << 20, size=out_f)
        mult = rng.integers(1 << 14, MULT_MAX + 1, size=out_f)
        shift = rng.integers(14, 24, size=out_f)
        x = rng.integers(-128, 128, size=(length, in_f))
        want = hp_linear(x.astype(np.int8), hp, bias.astype(np.int32), mult, shift)
        assert np.array_equal(_hp_linear_c(hp_lib, which, x, hp, bias, mult, shift), want)


def test_hp_driver_refuses_an_unknown_config(hp_lib) -> None:
    vals = [ctypes.c_int() for _ in range(5)]
    assert hp_lib.sbf_test_hp_cfg(7, *(ctypes.byref(v) for v in vals)) == -1
    assert hp_lib.sbf_test_hp_linear(7, None, 1, 4, 8, 0, *([None] * 8)) == -1


# ---- nonlinear.h ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def nl_lib(hls_cache) -> ctypes.CDLL:
    return load(unit_library("test_nonlinear", cache_dir=hls_cache))


def _i64(a) -> np.ndarray:
    return c_array(np.asarray(a), np.int64)


SCALES = [2.0 ** -4, 0.013, 2.0 ** -8, 0.0007]


@pytest.mark.parametrize("scale", SCALES)
def test_int_exp_and_softmax_match_golden(nl_lib, scale: float) -> None:
    from sim.golden.nonlinear import ExpParams, int_exp, int_softmax

    p = ExpParams.derive(scale)
    prm = _i64([p.q_ln2, p.q_b, p.q_c])
    rng = np.random.default_rng(int(scale * 1e6))
    q = _i64(-rng.integers(0, 1 << 17, size=500))
    q[:3] = [0, -1, -(1 << 17)]
    got = np.zeros_like(q)
    nl_lib.sbf_test_int_exp(ptr(q), q.size, ptr(prm), ptr(got))
    assert np.array_equal(got, int_exp(q, p))
    for n in (1, 2, 16, 64):
        x = _i64(rng.integers(-(1 << 15), 1 << 15, size=(7, n)))
        x[0] = x[0, 0]  # a row of ties
        out = np.zeros_like(x)
        nl_lib.sbf_test_int_softmax(ptr(x), 7, n, ptr(prm), ptr(out))
        assert np.array_equal(out, int_softmax(x, p))


@pytest.mark.parametrize("scale", SCALES)
def test_int_gelu_matches_golden(nl_lib, scale: float) -> None:
    from sim.golden.nonlinear import GeluParams, int_gelu

    p = GeluParams.derive(scale)
    q = _i64(np.arange(-(1 << 15), 1 << 15, 7))
    out = np.zeros_like(q)
    nl_lib.sbf_test_int_gelu(ptr(q), q.size, ptr(_i64([p.q_b, p.q_one, p.shift])), ptr(out))
    assert np.array_equal(out, int_gelu(q, p))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, (1 << 62) - 1), min_size=1, max_size=20))
def test_isqrt_matches_golden(nl_lib, values: list[int]) -> None:
    from sim.golden.nonlinear import isqrt

    v = _i64(values + [0, 1, 2, 3, 4, (1 << 62) - 1])
    out = np.zeros_like(v)
    nl_lib.sbf_test_isqrt(ptr(v), v.size, ptr(out))
    assert np.array_equal(out, isqrt(v))


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("spread", [0, 1, 300, (1 << 15) - 1])
def test_int_layernorm_matches_golden(nl_lib, spread: int, per_channel: bool) -> None:
    from sim.golden.nonlinear import GAMMA_BITS, LayerNormParams, int_layernorm

    n = nl_lib.sbf_test_layernorm_width()
    rng = np.random.default_rng(spread)
    rows = 9
    x = _i64(rng.integers(-spread, spread + 1, size=(rows, n)) + rng.integers(-99, 99))
    gmax = 1 << (GAMMA_BITS - 1)
    gamma = c_array(rng.integers(-gmax + 1, gmax, size=n), np.int32)
    beta = c_array(rng.integers(-(1 << 20), 1 << 20, size=n), np.int32)
    if per_channel:
        mult, shift = rng.integers(1 << 14, MULT_MAX + 1, size=n), rng.integers(18, 26, size=n)
    else:
        mult, shift = 23170, 22
    p = LayerNormParams(gamma.astype(np.int64), beta.astype(np.int64), mult, shift)
    m32 = c_array(np.broadcast_to(mult, (n,)), np.int32)
    s32 = c_array(np.broadcast_to(shift, (n,)), np.int32)
    out = np.zeros((rows, n), np.int8)
    nl_lib.sbf_test_int_layernorm(ptr(x), rows, ptr(gamma), ptr(beta), ptr(m32), ptr(s32),
                                  ptr(out))
    assert np.array_equal(out, int_layernorm(x, p))


# ---- sparse_attention.h --------------------------------------------------------------------

@pytest.fixture(scope="session")
def attn_lib(hls_cache) -> ctypes.CDLL:
    return load(unit_library("test_sparse_attention", cache_dir=hls_cache))


def _attn_dims(lib: ctypes.CDLL) -> tuple[int, int, int]:
    vals = [ctypes.c_int() for _ in range(3)]
    lib.sbf_test_attn_dims(*(ctypes.byref(v) for v in vals))
    return tuple(v.value for v in vals)


def _qkv(rng: np.random.Generator, L: int, d: int, spread: int) -> list[np.ndarray]:
    return [c_array(rng.integers(-spread, spread + 1, size=(L, d)), np.int8) for _ in range(3)]


@pytest.mark.parametrize("length", [1, 2, 5, 8, 9, 40])
@pytest.mark.parametrize("spread", [0, 2, 127])
def test_attention_stages_match_golden(attn_lib, length: int, spread: int) -> None:
    """quantize4 (Q and K rules), the LUT estimate and the top-k order, ties included."""
    from sim.golden import sparse_attention as sa

    max_l, max_k, d = _attn_dims(attn_lib)
    rng = np.random.default_rng(length * 1000 + spread)
    q, k, _ = _qkv(rng, length, d, spread)
    q4, k4 = np.zeros_like(q), np.zeros_like(k)
    attn_lib.sbf_test_quantize4(ptr(q), length, 1, ptr(q4))
    attn_lib.sbf_test_quantize4(ptr(k), length, 0, ptr(k4))
    assert np.array_equal(q4, sa.quantize4(q, axis=-1))
    assert np.array_equal(k4, sa.quantize4(k, axis=None))
    kk = sa.topk_count(length, max_k)
    est = np.zeros((length, length), np.int32)
    idx = np.zeros((length, kk), np.int32)
    attn_lib.sbf_test_estimate_select(ptr(q4), ptr(k4), length, kk, ptr(est), ptr(idx))
    want_est = sa.estimate(q4, k4)
    assert np.array_equal(est, want_est)
    assert np.array_equal(idx, sa.select(want_est, kk))


@pytest.mark.parametrize("length", [1, 3, 8, 17, 40])
@pytest.mark.parametrize("k", [1, 4, 8])
def test_attention_head_matches_golden(attn_lib, length: int, k: int) -> None:
    from sim.golden import sparse_attention as sa

    _, _, d = _attn_dims(attn_lib)
    rng = np.random.default_rng(7 * length + k)
    q, kmat, v = _qkv(rng, length, d, 127)
    quant = sa.AttentionQuant.derive(0.05, 0.04, 0.03, 0.02, d)
    words = _i64([quant.score_mult, quant.score_shift, quant.exp.q_ln2, quant.exp.q_b,
                  quant.exp.q_c, quant.out_mult, quant.out_shift])
    out = np.zeros_like(q)
    attn_lib.sbf_test_attention_head(ptr(q), ptr(kmat), ptr(v), length, sa.topk_count(length, k),
                                     ptr(words), ptr(out))
    assert np.array_equal(out, sa.sparse_attention_head(q, kmat, v, k, quant))


# ---- hls_stream.h --------------------------------------------------------------------------

def test_stream_model_is_a_fifo(hls_cache) -> None:
    lib = load(unit_library("test_hls_stream", cache_dir=hls_cache))
    assert [lib.sbf_test_stream_fifo(n) for n in (0, 1, 1000)] == [0, 0, 0]
    assert lib.sbf_test_stream_underflow() == 1
