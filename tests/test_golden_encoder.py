"""The integer encoder: traces, sequence independence, fidelity to the float model."""

from __future__ import annotations

import numpy as np
import pytest

from algo.quantize.calibrate import calibrate
from algo.quantize.convert import quantize_model
from algo.sentences import CALIBRATION_SENTENCES
from sim.golden.check import compare, host_embed, tokenize
from sim.golden.encoder import LAYER_TRACE_NAMES, encoder, encoder_batched, encoder_layer
from sim.golden.nonlinear import PROB_MAX
from sim.golden.params import ACT_BITS, GELU_IN_BITS, RES_BITS, SCORE_BITS
from tests.golden_fixtures import tiny_model

pytest.importorskip("torch")

# Tiny random BERT, calibrated and evaluated on the built-in sentences.
TINY_COSINE_MIN = 0.98


@pytest.fixture(scope="module")
def tiny() -> tuple:
    model, tok = tiny_model()
    texts = list(CALIBRATION_SENTENCES)
    qm = quantize_model(model, calibrate(model, tok, texts, progress=False))
    tokens = tokenize(tok, texts)
    return model, qm, tokens, host_embed(model, tokens, qm.input_scale)


def _in_range(a: np.ndarray, bits: int) -> bool:
    return bool(a.min() >= -(1 << (bits - 1)) and a.max() < (1 << (bits - 1)))


def test_layer_trace_records_every_tensor_in_its_width(tiny: tuple) -> None:
    _, qm, tokens, x = tiny
    trace: dict = {}
    out = encoder_layer(x, qm.layers[0], tokens.lengths, trace)
    assert set(trace) == set(LAYER_TRACE_NAMES)
    assert np.array_equal(trace["output"], out)
    for name in ("query", "key", "value", "context", "ln1", "ffn_mid", "output"):
        assert _in_range(trace[name], ACT_BITS), name
    for name in ("attn_out", "residual1", "ffn_out", "residual2"):
        assert _in_range(trace[name], RES_BITS), name
    assert _in_range(trace["ffn_in"], GELU_IN_BITS)
    assert len(trace["scores"]) == len(tokens.lengths)
    for n, scores, probs in zip(tokens.lengths, trace["scores"], trace["probs"], strict=True):
        assert scores.shape == probs.shape == (qm.heads, n, n)
        assert _in_range(scores, SCORE_BITS)
        assert probs.min() >= 0 and probs.max() <= PROB_MAX


def test_stack_trace_names_are_prefixed(tiny: tuple) -> None:
    _, qm, tokens, x = tiny
    trace: dict = {}
    out = encoder(x, qm, tokens.lengths, trace)
    assert np.array_equal(trace[f"layer.{len(qm.layers) - 1}.output"], out)
    assert np.array_equal(trace["layer.0.input"], x)


def test_sequences_are_independent(tiny: tuple) -> None:
    """One batch, chunked batches and one sequence at a time give the same integers."""
    _, qm, tokens, x = tiny
    whole = encoder(x, qm, tokens.lengths)
    assert np.array_equal(encoder_batched(x, qm, tokens.lengths, chunk_tokens=20), whole)
    start = 0
    for n in tokens.lengths:
        assert np.array_equal(encoder(x[start:start + n], qm), whole[start:start + n])
        start += n


def test_encoder_rejects_non_int8_input(tiny: tuple) -> None:
    _, qm, tokens, x = tiny
    with pytest.raises(ValueError, match="int8"):
        encoder(x * 300, qm, tokens.lengths)


def test_tiny_model_fidelity(tiny: tuple) -> None:
    model, qm, tokens, _ = tiny
    result = compare(model, qm, tokens)
    assert result["n"] == len(CALIBRATION_SENTENCES)
    assert result["cosine_min"] > TINY_COSINE_MIN
    assert 0.0 <= result["agreement"] <= 1.0
