"""HP on the packaged MiniLM: every encoder linear round-trips; the artifact rebuilds the model."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from algo.hp import HPShape, decode, encode, hp_mask, is_hp_mask, split_density
from algo.hp.artifact import Artifact, ArtifactError, load_artifact, save_artifact
from algo.hp.model import (
    LAYER_LINEARS,
    encoder_linears,
    encoder_prefix,
    export_hp_artifact,
    load_hp_model,
    prune_model_oneshot,
)
from algo.models import load_model

LAYERS = 6
# (density, m of bi=16): the default fine level m=4 at several ratios, and m=8 at 0.5.
ROUND_TRIPS = [(0.1, 4), (0.2, 4), (0.25, 4), (0.5, 8)]
BO = BI = 16


@pytest.fixture(scope="module")
def minilm():
    return load_model()


@pytest.fixture(scope="module")
def pruned(minilm):
    """A pruned copy at density 0.25 with its HP layers."""
    model = copy.deepcopy(minilm[0]).eval()
    return model, prune_model_oneshot(model, 0.25, HPShape(BO, BI, 4))


def test_encoder_linears_names_and_shapes(minilm) -> None:
    model, _ = minilm
    linears = encoder_linears(model)
    assert list(linears) == [f"layer.{i}.{r}" for i in range(LAYERS) for r in LAYER_LINEARS]
    assert linears["layer.0.intermediate.dense"].weight.shape == (1536, 384)
    assert linears["layer.5.output.dense"].weight.shape == (384, 1536)
    assert encoder_prefix(model) == "bert.encoder."
    assert encoder_linears(model.bert).keys() == linears.keys()  # a bare BertModel too
    with pytest.raises(TypeError, match="no BERT encoder"):
        encoder_linears(torch.nn.Linear(2, 2))


@pytest.mark.parametrize(("density", "m"), ROUND_TRIPS)
def test_round_trip_every_minilm_linear(minilm, density: float, m: int) -> None:
    shape = HPShape(BO, BI, m)
    keep = split_density(density, shape)
    for name, linear in encoder_linears(minilm[0]).items():
        w = linear.weight.detach().numpy()
        mask = hp_mask(w, shape, keep)
        assert is_hp_mask(mask, shape), name
        hp = encode(w, mask, shape)
        assert np.array_equal(decode(hp), w * mask), name
        # Block counts round to whole blocks: at most half a block off the target.
        assert abs(hp.density - density) <= 0.5 * BO * m / w.size, name


def test_prune_writes_masked_weights(minilm, pruned) -> None:
    model, layers = pruned
    original = encoder_linears(minilm[0])
    assert len(layers) == LAYERS * len(LAYER_LINEARS)
    for name, linear in encoder_linears(model).items():
        w = linear.weight.detach().numpy()
        assert np.array_equal(w, decode(layers[name])), name
        kept = w != 0
        assert np.array_equal(w[kept], original[name].weight.detach().numpy()[kept]), name
    total = sum(hp.nnz for hp in layers.values()) / sum(w.size for w in map(decode,
                                                                              layers.values()))
    assert total == pytest.approx(0.25, abs=1e-4)


def test_artifact_rebuilds_the_model_exactly(pruned, tmp_path: Path) -> None:
    model, layers = pruned
    path = export_hp_artifact(model, layers, tmp_path / "art", {"density": 0.25,
                                                                "command": "test"})
    art = load_artifact(path)
    assert art.meta["density"] == 0.25 and art.meta["config"]["hidden_size"] == 384
    assert art.meta["encoder_prefix"] == "bert.encoder."
    assert set(art.hp_layers) == set(layers)
    for name in ("bert.embeddings.word_embeddings.weight", "bert.pooler.dense.weight",
                 "classifier.weight", "bert.encoder.layer.0.attention.self.query.bias",
                 "bert.encoder.layer.5.output.LayerNorm.weight"):
        assert name in art.tensors, name
    assert "bert.encoder.layer.0.attention.self.query.weight" not in art.tensors
    rebuilt = load_hp_model(path)
    expected = model.state_dict()
    assert rebuilt.state_dict().keys() == expected.keys()
    for k, v in rebuilt.state_dict().items():
        assert torch.equal(v, expected[k]), k
    ids = torch.tensor([[101, 7592, 2088, 102]])
    with torch.no_grad():
        assert torch.equal(rebuilt(input_ids=ids).logits, model(input_ids=ids).logits)


def test_export_and_load_errors(pruned, tmp_path: Path) -> None:
    model, layers = pruned
    with pytest.raises(ValueError, match="'layer.9.x' is not an encoder linear"):
        export_hp_artifact(model, {"layer.9.x": layers["layer.0.output.dense"]}, tmp_path / "a",
                           {})
    save_artifact(tmp_path / "bare", Artifact(hp_layers=dict(layers)))
    with pytest.raises(ArtifactError, match="lacks 'config'"):
        load_hp_model(tmp_path / "bare")
