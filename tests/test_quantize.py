"""Quantization: weights, the integer artifact (version 2), HP-pruned models, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from algo.hp import HPShape, encode, hp_mask
from algo.hp.artifact import Artifact, ArtifactError, load_artifact, save_artifact
from algo.hp.format import decode
from algo.quantize.calibrate import calibrate
from algo.quantize.convert import WEIGHT_MAX, quantize_model, quantize_weight
from algo.quantize.io import KIND_QUANTIZED, load_quantized, save_quantized
from algo.sentences import CALIBRATION_SENTENCES
from sim.golden.check import compare, host_embed, tokenize
from sim.golden.encoder import encoder
from tests.golden_fixtures import tiny_model

pytest.importorskip("torch")

HP_COSINE_MIN = 0.98  # tiny random BERT, HP-pruned to 25 %, against its float pruned self


@pytest.fixture(scope="module")
def tiny() -> tuple:
    model, tok = tiny_model()
    stats = calibrate(model, tok, list(CALIBRATION_SENTENCES), progress=False)
    return model, tok, stats, quantize_model(model, stats)


def test_weights_are_symmetric_int8_per_row() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (32, 32))
    w[3] = 0.0  # an all-zero row stays zero
    shape = HPShape(8, 8, 4)
    hp = encode(w, hp_mask(w, shape, 0.5), shape)
    q, scale = quantize_weight(hp)
    dense_q, dense_f = decode(q).astype(np.int64), decode(hp)
    assert q.values.dtype == np.int8 and np.abs(dense_q).max() <= WEIGHT_MAX
    assert np.array_equal(dense_q != 0, dense_f != 0)  # same pattern (no value rounds to 0 here)
    kept_rows = np.abs(dense_f).max(1) > 0
    assert (np.abs(dense_q[kept_rows]).max(1) == WEIGHT_MAX).all()
    assert np.abs(dense_q * scale[:, None] - dense_f).max() <= scale.max() / 2 + 1e-12
    assert not dense_q[3].any()


def test_calibration_skips_padding(tiny: tuple) -> None:
    model, tok, stats, _ = tiny
    texts = list(CALIBRATION_SENTENCES)
    one_by_one = calibrate(model, tok, texts, batch_size=1, progress=False)
    assert stats.keys() == one_by_one.keys()
    for k in stats:
        np.testing.assert_allclose(stats[k], one_by_one[k], rtol=1e-4, err_msg=k)


def test_artifact_round_trip_is_bit_exact(tiny: tuple, tmp_path: Path) -> None:
    model, tok, _, qm = tiny
    path = save_quantized(tmp_path / "q", qm, {"float_source": {"model": "tiny"}})
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["version"] == 2 and manifest["meta"]["kind"] == KIND_QUANTIZED
    back = load_quantized(path)
    tokens = tokenize(tok, list(CALIBRATION_SENTENCES))
    x = host_embed(model, tokens, qm.input_scale)
    assert np.array_equal(encoder(x, back, tokens.lengths), encoder(x, qm, tokens.lengths))
    assert np.array_equal(back.output_scale, qm.output_scale)
    assert back.meta["float_source"] == {"model": "tiny"}


def test_artifact_with_other_numerics_is_refused(tiny: tuple, tmp_path: Path) -> None:
    path = save_quantized(tmp_path / "q", tiny[3])
    art = load_artifact(path)
    art.meta["numerics"]["PROB_BITS"] = 7
    save_artifact(tmp_path / "q2", art)
    with pytest.raises(ArtifactError, match="PROB_BITS"):
        load_quantized(tmp_path / "q2")


def test_float_artifact_is_not_a_quantized_one(tmp_path: Path) -> None:
    save_artifact(tmp_path / "f", Artifact(tensors={"a": np.zeros(2)}, meta={"kind": "hp-float"}))
    with pytest.raises(ArtifactError, match="quantize it first"):
        load_quantized(tmp_path / "f")


def test_version_1_artifacts_stay_readable(tmp_path: Path) -> None:
    save_artifact(tmp_path / "v1", Artifact(tensors={"a": np.arange(3)}, version=1))
    assert load_artifact(tmp_path / "v1").version == 1


def test_hp_pruned_model_quantizes_and_keeps_its_pattern(tiny: tuple) -> None:
    from algo.hp.model import prune_model_oneshot

    model, tok, _, _ = tiny
    pruned, _ = tiny_model()
    hp_layers = prune_model_oneshot(pruned, 0.25, HPShape(16, 16, 4))
    texts = list(CALIBRATION_SENTENCES)
    qm = quantize_model(pruned, calibrate(pruned, tok, texts, progress=False), hp_layers)
    q = qm.layers[0].ffn_in.hp
    ref = hp_layers["layer.0.intermediate.dense"]
    assert q.values.dtype == np.int8 and q.density == ref.density == 0.25
    assert np.array_equal(q.block_col, ref.block_col) and np.array_equal(q.idx, ref.idx)
    result = compare(pruned, qm, tokenize(tok, texts))
    assert result["cosine_min"] > HP_COSINE_MIN


def test_cli_quantize_then_check(tiny: tuple, tmp_path: Path, glue_dir: Path,
                                 capsys: pytest.CaptureFixture) -> None:
    from host.cli import main

    model, tok, _, _ = tiny
    model.save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    out = tmp_path / "q"
    assert main(["quantize", "--model", str(tmp_path / "model"), "--out", str(out),
                 "--calib-task", "SST-2", "--calib-n", "16", "--glue-dir", str(glue_dir),
                 "--json"]) == 0
    capsys.readouterr()
    assert main(["golden", "check", "--artifact", str(out), "--task", "SST-2", "--limit", "8",
                 "--glue-dir", str(glue_dir), "--attention-k", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 8 and result["calibration"]["n"] == 16
    assert {"cosine_mean", "cosine_min", "agreement"} <= set(result)
    # The dev metric of both models, from the same labels: what the integer arithmetic costs.
    assert set(result["int_metrics"]) == set(result["float_metrics"]) == {"accuracy"}
    assert result["attention_k"] == 2


def test_cli_check_refuses_calibration_split(capsys: pytest.CaptureFixture) -> None:
    from host.cli import main

    assert main(["golden", "check", "--split", "train", "--limit", "1"]) == 2
    assert "calibration split" in capsys.readouterr().err
