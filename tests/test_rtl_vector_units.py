"""The vector units (gelu_unit, residual_layernorm) against the golden model.

Small units (GELU: 8 lanes x 64 channels, LayerNorm: 8 lanes x N=32, two parameter sets)
in Verilator and Icarus, and the full-size MiniLM units (16 lanes, 1536 / 384 channels) in
Verilator. Real parameters and tensors come from the packaged MiniLM, quantized on the
built-in calibration sentences and run through layer 0 of the golden encoder on other
sentences (the small units take a channel crop of them; the full-size ones the whole
tensors, so their outputs are the layer's own `ffn_mid`, `ln1` and `output`). Each
simulator's tests share an xdist group so that one worker builds its models.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.golden.nonlinear import LayerNormParams
from sim.golden.params import RES_BITS, Requant
from sim.golden.requant import int_range
from sim.rtl.runner import ENGINES, lint
from sim.rtl.stimulus import StimulusOptions
from sim.rtl.vector_case import (
    GeluCase,
    GeluUnitParams,
    LayerNormCase,
    LayerNormUnitParams,
    gelu_cycles,
    layernorm_cycles,
    layernorm_latency,
    mean_divider,
    pack_gelu_params,
    pack_layernorm_params,
    random_gelu_case,
    random_layernorm_case,
)
from sim.rtl.vector_sim import simulate_gelu, simulate_layernorm
from tests.rtl_helpers import SIMS, simulator

SMALL_GELU = GeluUnitParams(lanes=8, channels=64, max_sets=2)
SMALL_LN = LayerNormUnitParams(lanes=8, n=32, max_sets=2)
FULL_GELU = GeluUnitParams(lanes=16, channels=1536, max_sets=6)  # MiniLM: FFN 1536, 6 layers
FULL_LN = LayerNormUnitParams(lanes=16, n=384, max_sets=12)  # hidden 384, 2 per layer
SENTENCES = 3  # real sentences through layer 0 (22 tokens)


@pytest.fixture(scope="module")
def layer0() -> tuple:
    """(layer 0 of the quantized MiniLM, its golden trace on real sentences)."""
    pytest.importorskip("torch")
    from algo.quantize.pipeline import load_float, quantize_source
    from algo.sentences import CALIBRATION_SENTENCES, DEMO_SENTENCES
    from sim.golden.check import host_embed, tokenize
    from sim.golden.encoder import encoder_layer

    src = load_float()
    qm = quantize_source(src, list(CALIBRATION_SENTENCES), None, 128, progress=False)
    tokens = tokenize(src.tokenizer, list(DEMO_SENTENCES)[:SENTENCES])
    x = host_embed(src.model, tokens, qm.input_scale)
    trace: dict = {}
    encoder_layer(x, qm.layers[0], tokens.lengths, trace)
    return qm.layers[0], trace


def _crop(v: int | np.ndarray, cols: slice) -> int | np.ndarray:
    return v if np.ndim(v) == 0 else np.asarray(v)[cols]


def _crop_requant(r: Requant, cols: slice) -> Requant:
    return Requant(_crop(r.mult, cols), _crop(r.shift, cols), r.bits)


def _crop_ln(p: LayerNormParams, cols: slice) -> LayerNormParams:
    return LayerNormParams(p.gamma[cols], p.beta[cols], _crop(p.mult, cols),
                           _crop(p.shift, cols), p.out_bits)


def _real_gelu(layer0: tuple, params: GeluUnitParams, set_index: int) -> GeluCase:
    layer, t = layer0
    # the channels with the widest FFN1 outputs, so the crop reaches the erf clip
    cols = np.sort(np.argsort(-np.abs(t["ffn_in"]).max(axis=0))[:params.channels])
    return GeluCase("minilm-l0-gelu", t["ffn_in"][:, cols], layer.gelu,
                    Requant(_crop(layer.gelu_out.mult, cols), _crop(layer.gelu_out.shift, cols),
                            layer.gelu_out.bits), set_index)


def _real_ln(layer0: tuple, params: LayerNormUnitParams, which: int,
             set_index: int) -> LayerNormCase:
    layer, t = layer0
    cols = slice(0, params.n)
    if which == 1:
        return LayerNormCase("minilm-l0-ln1", t["attn_out"][:, cols], t["input"][:, cols],
                             _crop_requant(layer.residual1, cols), _crop_ln(layer.ln1, cols),
                             set_index)
    return LayerNormCase("minilm-l0-ln2", t["ffn_out"][:, cols], t["ln1"][:, cols],
                         _crop_requant(layer.residual2, cols), _crop_ln(layer.ln2, cols),
                         set_index)


def _assert_gelu_rows(rows: list[dict], ideal: bool) -> None:
    assert [(r["name"], r["mismatches"], r["sideband_exact"]) for r in rows] == [
        (r["name"], 0, True) for r in rows]
    if ideal:
        assert [r["cycles"] for r in rows] == [r["model_cycles"] for r in rows]
    else:  # stalls only ever add cycles
        assert all(r["cycles"] >= r["model_cycles"] for r in rows)


def _assert_ln_rows(rows: list[dict], ideal: bool) -> None:
    assert [(r["name"], r["mismatches"], r["framing_exact"]) for r in rows] == [
        (r["name"], 0, True) for r in rows]
    if ideal:
        assert [r["cycles"] for r in rows] == [r["model_cycles"] for r in rows]
    else:
        assert all(r["cycles"] >= r["model_cycles"] for r in rows)


# ---- GELU -------------------------------------------------------------------------------

@pytest.mark.parametrize("sim_name", SIMS)
def test_gelu_bit_exact_under_gaps_and_backpressure(sim_name: str, layer0: tuple) -> None:
    """Real MiniLM FFN1 outputs and constants, int16 extremes, two sets, random gaps."""
    sim = simulator(sim_name)
    rng = np.random.default_rng(1)
    real = _real_gelu(layer0, SMALL_GELU, set_index=1)
    cases = [real,
             random_gelu_case("extremes", SMALL_GELU, 8, rng, scale=2e-4, extremes=True),
             random_gelu_case("coarse", SMALL_GELU, 5, rng, scale=3e-3),
             # set 1 again without reloading: the loads of set 0 left it alone
             replace(real, name="set1-kept", load=False)]
    _assert_gelu_rows(simulate_gelu(cases, SMALL_GELU, sim, StimulusOptions(seed=3)), False)


@pytest.mark.parametrize("sim_name", SIMS)
def test_gelu_cycles_match_formula(sim_name: str) -> None:
    sim = simulator(sim_name)
    rng = np.random.default_rng(2)
    cases = [random_gelu_case(f"T{n}", SMALL_GELU, n, rng) for n in (1, 2, 9)]
    _assert_gelu_rows(simulate_gelu(cases, SMALL_GELU, sim, StimulusOptions(False, False)),
                      True)


# ---- residual + LayerNorm ---------------------------------------------------------------

@pytest.mark.parametrize("sim_name", SIMS)
def test_layernorm_bit_exact_under_gaps_and_backpressure(sim_name: str, layer0: tuple) -> None:
    """Real MiniLM residuals and LayerNorms 1 and 2, saturating, constant and zero rows,
    a long stream that fills every token slot, two sets, random gaps and backpressure."""
    sim = simulator(sim_name)
    rng = np.random.default_rng(3)
    ln1 = _real_ln(layer0, SMALL_LN, 1, set_index=0)
    cases = [ln1, _real_ln(layer0, SMALL_LN, 2, set_index=1),
             random_layernorm_case("extremes", SMALL_LN, 10, rng, set_index=1, extremes=True),
             random_layernorm_case("long", SMALL_LN, 60, rng, set_index=1),
             replace(ln1, name="set0-kept", load=False)]
    _assert_ln_rows(simulate_layernorm(cases, SMALL_LN, sim, StimulusOptions(seed=5)), False)


@pytest.mark.parametrize("sim_name", SIMS)
def test_layernorm_cycles_match_formula(sim_name: str) -> None:
    """Ideal streams: N/LANES cycles per token, pipelined across tokens, for 1..40 tokens."""
    sim = simulator(sim_name)
    rng = np.random.default_rng(4)
    cases = [random_layernorm_case(f"T{n}", SMALL_LN, n, rng) for n in (1, 2, 7, 40)]
    _assert_ln_rows(simulate_layernorm(cases, SMALL_LN, sim, StimulusOptions(False, False)),
                    True)


# ---- full size ----------------------------------------------------------------------------

@pytest.mark.xdist_group("rtl_verilator")
def test_full_size_units_reproduce_minilm_layer0(layer0: tuple) -> None:
    """The MiniLM-sized units on layer 0's whole tensors give the layer's own ffn_mid, ln1
    and output, byte for byte and on the cycle formula (ideal streams)."""
    sim = simulator("verilator")
    layer, t = layer0
    gelu = GeluCase("minilm-l0-ffn", t["ffn_in"], layer.gelu, layer.gelu_out, 0)
    assert np.array_equal(gelu.reference(), t["ffn_mid"])
    _assert_gelu_rows(simulate_gelu([gelu], FULL_GELU, sim, StimulusOptions(False, False)),
                      True)
    ln1 = LayerNormCase("minilm-l0-ln1", t["attn_out"], t["input"], layer.residual1,
                        layer.ln1, 0)
    ln2 = LayerNormCase("minilm-l0-ln2", t["ffn_out"], t["ln1"], layer.residual2, layer.ln2, 1)
    assert np.array_equal(ln1.reference(), t["ln1"])
    assert np.array_equal(ln2.reference(), t["output"])
    _assert_ln_rows(simulate_layernorm([ln1, ln2], FULL_LN, sim, StimulusOptions(False, False)),
                    True)


@pytest.mark.xdist_group("rtl_verilator")
@pytest.mark.parametrize("engine,params", [
    ("gelu", SMALL_GELU), ("gelu", FULL_GELU), ("gelu", GeluUnitParams(1, 3, 1, 1, 2)),
    ("layernorm", SMALL_LN), ("layernorm", FULL_LN), ("layernorm", LayerNormUnitParams(1, 4, 1)),
    ("layernorm", LayerNormUnitParams(3, 12, 3)),
], ids=["gelu-small", "gelu-minilm", "gelu-1lane", "ln-small", "ln-minilm", "ln-1lane",
        "ln-3lanes"])
def test_verilator_lint_wall_clean(engine: str, params) -> None:
    assert lint(ENGINES[engine], params.hdl_parameters(), simulator("verilator")) == ""


# ---- formulas and packing (no simulator) -------------------------------------------------

@pytest.mark.parametrize("n", [32, 384, 12, 768, 1000])
def test_mean_multiply_is_exact_floor_division_over_the_whole_input_range(n: int) -> None:
    """The RTL's mean: fold s = sum + n//2 to t = s or -s-1 (= ~s), then (t*M) >> k, then
    unfold; equal to (sum + n//2) // n for every sum of n RES_BITS-bit values."""
    mult, k, bits = mean_divider(n)
    lo, hi = int_range(RES_BITS)
    s_lo, s_hi = n * lo + n // 2, n * hi + n // 2
    assert max(-s_lo - 1, s_hi) < 1 << bits
    chunk = 1 << 22
    for start in range(s_lo, s_hi + 1, chunk):
        s = np.arange(start, min(start + chunk, s_hi + 1), dtype=np.int64)
        neg = s < 0
        t = np.where(neg, ~s, s)
        q = (t * mult) >> k
        assert np.array_equal(np.where(neg, ~q, q), s // n)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([32, 384]))
def test_sum_of_squares_identity_the_rtl_uses(seed: int, n: int) -> None:
    """sum (x-m)^2 == sum x^2 - m (2 sum x - n m) exactly, for extreme and random rows."""
    rng = np.random.default_rng(seed)
    lo, hi = int_range(RES_BITS)
    x = rng.choice([lo, hi, 0, int(rng.integers(lo, hi + 1))], size=n) \
        if seed % 2 else rng.integers(lo, hi + 1, size=n)
    m = (int(x.sum()) + n // 2) // n
    sx, sq = int(x.sum()), int((x * x).sum())
    assert int(((x - m) ** 2).sum()) == sq - m * (2 * sx - n * m)
    assert sq - m * (2 * sx - n * m) < n << (2 * RES_BITS)


def test_cycle_formulas() -> None:
    """Per-token interval N/LANES (<= 2 N/LANES as the design asks) and the GELU latency."""
    for n, lanes in ((384, 16), (32, 8)):
        beats = n // lanes
        assert layernorm_cycles(5, n, lanes) - layernorm_cycles(4, n, lanes) == beats
        assert layernorm_cycles(1, n, lanes) == beats + layernorm_latency(n, lanes) + beats
    assert gelu_cycles(10) - gelu_cycles(9) == 1
    with pytest.raises(ValueError, match="tokens"):
        layernorm_cycles(0, 32, 8)


def test_parameter_beat_layouts() -> None:
    rng = np.random.default_rng(0)
    g = random_gelu_case("g", SMALL_GELU, 1, rng, set_index=1)
    raw = pack_gelu_params(g, SMALL_GELU)
    width = SMALL_GELU.prm_bytes
    assert len(raw) == width * (1 + SMALL_GELU.words)
    assert raw[:4] == bytes([0, 1, 0, 0])
    assert int.from_bytes(raw[4:8], "little") == g.gelu.q_b
    word1 = raw[2 * width:3 * width]
    assert word1[:4] == bytes([1, 1, 1, 0])
    mult = np.frombuffer(word1[4:4 + 2 * SMALL_GELU.lanes], "<u2")
    assert np.array_equal(mult, np.asarray(g.out.mult)[SMALL_GELU.lanes:2 * SMALL_GELU.lanes])

    c = random_layernorm_case("l", SMALL_LN, 1, rng)
    raw = pack_layernorm_params(c, SMALL_LN)
    width, lanes = SMALL_LN.prm_bytes, SMALL_LN.lanes
    assert len(raw) == 2 * SMALL_LN.beats * width
    norm0 = raw[SMALL_LN.beats * width:][:width]
    assert norm0[0] == 1
    assert np.array_equal(np.frombuffer(norm0[4:4 + 2 * lanes], "<i2"), c.ln.gamma[:lanes])
    assert np.array_equal(np.frombuffer(norm0[4 + 2 * lanes:4 + 6 * lanes], "<i4"),
                          c.ln.beta[:lanes])


def test_cases_that_do_not_fit_are_refused_in_one_line() -> None:
    rng = np.random.default_rng(0)
    g = random_gelu_case("g", SMALL_GELU, 1, rng)
    for bad, match in ((replace(g, set_index=2), "set 2"),
                       (replace(g, q=g.q[:, :8]), "tokens, 64"),
                       (replace(g, gelu=replace(g.gelu, q_b=1 << 20)), "q_b")):
        with pytest.raises(ValueError, match=match) as e:
            bad.check(SMALL_GELU)
        assert "\n" not in str(e.value)
    c = random_layernorm_case("l", SMALL_LN, 1, rng)
    wide = replace(c.ln, gamma=c.ln.gamma + 4096)
    for bad, match in ((replace(c, ln=wide), "gamma"),
                       (replace(c, align=replace(c.align, bits=8)), "aligns skip"),
                       (replace(c, skip=c.skip + 200), "skip outside")):
        with pytest.raises(ValueError, match=match):
            bad.check(SMALL_LN)
    with pytest.raises(ValueError, match="multiple of lanes"):
        LayerNormUnitParams(8, 36, 1)
    with pytest.raises(ValueError, match="dest_w"):
        GeluUnitParams(1, 1536, 1, dest_w=8)


@settings(max_examples=40, deadline=None)
@given(st.floats(np.log(2e-5), np.log(1.0)))
def test_gelu_lane_widths_hold_for_every_derived_parameter_set(log_scale: float) -> None:
    """Every GeluParams.derive at input scales 2e-5..1 fits the lane (GeluCase.check), and
    over the whole int16 input range the erf magnitude stays in [-q_one, q_one] and
    |q * e| < 2^31, the widths gelu_lane.sv keeps (MAG_W, E_W, a 32-bit product)."""
    from sim.golden.nonlinear import GeluParams, int_gelu
    from sim.golden.params import GELU_IN_BITS

    p = GeluParams.derive(float(np.exp(log_scale)))
    case = GeluCase("derived", np.zeros((0, 8), np.int64), p, Requant(1 << 14, 20, 8))
    case.check(GeluUnitParams(8, 8, 1))
    lo, hi = int_range(GELU_IN_BITS)
    q = np.arange(lo, hi + 1, dtype=np.int64)
    t = np.maximum(p.q_b - np.abs(q), 0)
    mag = ((p.q_one << p.shift) - t * t) >> p.shift
    assert mag.min() >= -p.q_one and mag.max() <= p.q_one
    assert np.abs(int_gelu(q, p)).max() < 1 << 31
