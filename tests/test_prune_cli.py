"""`sbf finetune` and `sbf prune gradual|lasso|search` end to end on a tiny model and a
tiny GLUE directory written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from algo.hp import is_hp_mask
from algo.hp.artifact import load_artifact
from algo.hp.format import decode
from algo.prune.recipes import TRAIN_META, save_model
from host.cli import main
from tests.test_train import one_thread, tiny_model, tiny_split, tiny_tokenizer  # noqa: F401

TINY_ARGS = ["--task", "SST-2", "--max-length", "16", "--batch-size", "8", "--epochs", "1",
             "--lr", "1e-3", "--no-progress", "--json"]
PRUNE_ARGS = ["--sparsity", "0.875", "--bo", "8", "--bi", "8", "--m", "2"]


@pytest.fixture
def glue_dir(tmp_path: Path) -> str:
    """A tiny SST-2 in the GLUE layout."""
    root = tmp_path / "glue" / "SST-2"
    root.mkdir(parents=True)
    for split, n, seed in (("train", 32, 0), ("dev", 16, 1)):
        data = tiny_split(n, seed)
        rows = [f"{t}\t{y}" for t, y in zip(data.texts_a, data.labels, strict=True)]
        (root / f"{split}.tsv").write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
    return str(tmp_path / "glue")


@pytest.fixture
def base_dir(tmp_path: Path) -> str:
    return str(save_model(tiny_model(), tiny_tokenizer(), tmp_path / "base", {}))


def _run(args: list[str], capsys: pytest.CaptureFixture) -> dict:
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_finetune_then_prune_gradual_exports_an_hp_artifact(
        tmp_path: Path, glue_dir: str, base_dir: str, capsys: pytest.CaptureFixture) -> None:
    dense = tmp_path / "dense"
    r = _run(["finetune", "--model", base_dir, "--out", str(dense), "--glue-dir", glue_dir,
              *TINY_ARGS], capsys)
    assert r["dev_examples"] == 16 and r["train_examples"] == 32 and r["steps"] == 4
    assert set(r["dev"]) == {"accuracy"} and r["encoder_sparsity"] < 0.01
    assert json.loads((dense / TRAIN_META).read_text())["dev"] == r["dev"]
    assert not (dense / "checkpoint").exists()

    out = tmp_path / "pruned"
    r = _run(["prune", "gradual", "--model", str(dense), "--teacher", str(dense),
              "--out", str(out), "--glue-dir", glue_dir, "--updates", "2", "--hidden-weight", "0.5",
              *PRUNE_ARGS,
              *TINY_ARGS], capsys)
    assert r["distilled"] and r["encoder_sparsity"] == pytest.approx(0.875)
    art = load_artifact(r["artifact"])
    assert art.meta["task"] == "SST-2" and art.meta["metric"] == "accuracy"
    assert art.meta["sparsity"] == pytest.approx(0.875) and art.meta["target_sparsity"] == 0.875
    assert art.meta["dev"] == r["dev"] and art.meta["command"]
    assert len(art.hp_layers) == 12
    for hp in art.hp_layers.values():
        assert is_hp_mask(decode(hp) != 0, hp.shape) and hp.shape.m == 2


def test_prune_search_and_lasso(tmp_path: Path, glue_dir: str, base_dir: str,
                                capsys: pytest.CaptureFixture) -> None:
    r = _run(["prune", "search", "--model", base_dir, "--out", str(tmp_path / "s"),
              "--glue-dir", glue_dir, "--executor", "inline", "--candidates", "3",
              "--candidate-steps", "2", "--holdout", "0.25", *PRUNE_ARGS, *TINY_ARGS], capsys)
    assert len(r["search"]["scores"]) == 3 and r["method"] == "searched"
    assert r["encoder_sparsity"] == pytest.approx(0.875)
    search = json.loads((tmp_path / "s" / "search.json").read_text())
    assert search["best"] == r["search"]["best"]

    r = _run(["prune", "lasso", "--model", base_dir, "--out", str(tmp_path / "l"),
              "--glue-dir", glue_dir, "--lasso-epochs", "1", *PRUNE_ARGS, *TINY_ARGS], capsys)
    assert r["method"] == "lasso" and r["encoder_sparsity"] == pytest.approx(0.875)
    assert load_artifact(r["artifact"]).meta["method"] == "lasso"


def test_cli_errors_name_the_bad_value(tmp_path: Path, glue_dir: str, base_dir: str,
                                       capsys: pytest.CaptureFixture) -> None:
    assert main(["finetune", "--task", "MNLI-X", "--model", base_dir, "--out",
                 str(tmp_path / "x"), "--glue-dir", glue_dir]) == 2
    assert "MNLI-X" in capsys.readouterr().err
    assert main(["prune", "gradual", "--model", base_dir, "--out", str(tmp_path / "y"),
                 "--glue-dir", glue_dir, "--sparsity", "0.99", "--bo", "8", "--bi", "8",
                 "--m", "4", *TINY_ARGS]) == 2
    assert "change m" in capsys.readouterr().err
