"""GLUE loading (real files when present), metrics on hand-made cases, length statistics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from algo.glue import (
    ENV_GLUE_DIR,
    TASKS,
    GlueError,
    compute_metrics,
    length_stats,
    load_split,
    resolve_glue_dir,
    task_spec,
    token_lengths,
)

# Published GLUE sizes (data rows, header excluded); QNLI train is absent locally.
ROWS = {("SST-2", "train"): 67349, ("SST-2", "dev"): 872, ("MRPC", "train"): 3668,
        ("MRPC", "dev"): 408, ("RTE", "train"): 2490, ("RTE", "dev"): 277,
        ("QNLI", "dev"): 5463, ("STS-B", "train"): 5749, ("STS-B", "dev"): 1500,
        ("CoLA", "train"): 8551, ("CoLA", "dev"): 1043}
# Label counts of the dev splits, class 0 first.
DEV_LABELS = {"SST-2": [428, 444], "MRPC": [129, 279], "RTE": [146, 131],
              "QNLI": [2702, 2761], "CoLA": [322, 721]}
SST2_DEV_TOKENS = 21943  # sum of MiniLM token lengths, special tokens included


@pytest.mark.glue
@pytest.mark.parametrize(("task", "split"), sorted(ROWS))
def test_real_row_counts(glue_dir: Path, task: str, split: str) -> None:
    data = load_split(task, split, glue_dir)
    spec = TASKS[task]
    assert len(data) == ROWS[task, split] == data.labels.shape[0]
    assert (data.texts_b is not None) == spec.is_pair
    if spec.is_pair:
        assert len(data.texts_b) == len(data)
    assert all(isinstance(t, str) and t for t in data.texts_a)
    if spec.is_regression:
        assert data.labels.dtype == np.float32
        assert data.labels.min() >= 0.0 and data.labels.max() <= 5.0
    elif split == "dev":
        assert np.bincount(data.labels).tolist() == DEV_LABELS[task]


@pytest.mark.glue
def test_first_rows_and_fields(glue_dir: Path) -> None:
    cola = load_split("cola", "dev", glue_dir)  # headerless: sentence is column 3
    assert cola.texts_a[0] == "The sailors rode the breeze clear of the rocks."
    assert cola.labels[0] == 1
    mrpc = load_split("MRPC", "dev", glue_dir)  # header with a UTF-8 BOM
    assert mrpc.texts_a[0].startswith("He said the foodservice pie business")
    assert mrpc.texts_b[0].startswith('" The foodservice pie business')
    rte = load_split("RTE", "dev", glue_dir)
    assert rte.labels[0] == TASKS["RTE"].label_names.index("not_entailment")
    stsb = load_split("sts-b", "validation", glue_dir)
    assert stsb.labels[0] == 5.0 and stsb.texts_b[0] == "A man wearing a hard hat is dancing."


def test_missing_split_names_the_file(tmp_path: Path) -> None:
    # a directory with the task's dev split only: its train split is missing
    root = _tsv(tmp_path, "QNLI", "index\tquestion\tsentence\tlabel\n")
    with pytest.raises(GlueError, match=r"QNLI/train\.tsv: missing"):
        load_split("QNLI", "train", root)


@pytest.mark.glue
def test_sst2_dev_lengths(glue_dir: Path) -> None:
    from algo.models import load_tokenizer

    lengths = token_lengths("SST-2", "dev", load_tokenizer(), glue_dir)
    assert lengths.shape == (872,) and int(lengths.sum()) == SST2_DEV_TOKENS
    stats = length_stats(lengths, 128)
    assert stats["n"] == 872 and stats["max"] == 55 and stats["truncated"] == 0
    assert stats["padding_at_max"] == pytest.approx(1 - SST2_DEV_TOKENS / (872 * 128))
    assert 0.79 < stats["padding_at_max"] < 0.81 and 24 < stats["mean"] < 26


def test_length_stats_hand_made() -> None:
    s = length_stats([3, 5, 200, 4], max_length=10)
    assert s["n"] == 4 and s["max"] == 200 and s["median"] == 4.5 and s["mean"] == 53.0
    assert s["truncated"] == 1
    assert s["padding_at_max"] == pytest.approx(1 - (3 + 5 + 10 + 4) / 40)
    with pytest.raises(GlueError, match="no sequences"):
        length_stats([], 10)


def test_task_names_and_splits() -> None:
    assert task_spec("sst2").name == task_spec("SST-2").name == "SST-2"
    assert task_spec("STSB").is_regression and task_spec("cola").metric == "matthews"
    with pytest.raises(GlueError, match="task 'mnli' is not supported"):
        task_spec("mnli")
    with pytest.raises(GlueError, match="split 'test' is not supported"):
        load_split("SST-2", "test")


def _tsv(tmp_path: Path, task: str, text: str) -> Path:
    (tmp_path / task).mkdir()
    (tmp_path / task / "dev.tsv").write_text(text)
    return tmp_path


def test_malformed_files_name_the_problem(tmp_path: Path) -> None:
    root = _tsv(tmp_path, "SST-2", "sentence\tlabel\ngood\t1\nbad\t7\n")
    with pytest.raises(GlueError, match=r"row 3 label 7 outside \[0, 2\)"):
        load_split("SST-2", "dev", root)
    with pytest.raises(GlueError, match="row 1 has 2 columns, expected at least 4"):
        load_split("CoLA", "dev", _tsv(tmp_path, "CoLA", "src\t1\n"))
    with pytest.raises(GlueError, match="header lacks column 'sentence1'"):
        load_split("RTE", "dev", _tsv(tmp_path, "RTE", "index\tsentence\tlabel\n"))
    with pytest.raises(GlueError, match="label 'maybe'"):
        load_split("QNLI", "dev", _tsv(tmp_path, "QNLI",
                                       "index\tquestion\tsentence\tlabel\n0\tq\ts\tmaybe\n"))


def test_quotes_are_plain_text(tmp_path: Path) -> None:
    """An unbalanced quote must not swallow the following rows (csv.QUOTE_NONE)."""
    root = _tsv(tmp_path, "SST-2", 'sentence\tlabel\n" a quote opens\t1\nnext row\t0\n')
    data = load_split("SST-2", "dev", root)
    assert data.texts_a == ['" a quote opens', "next row"] and data.labels.tolist() == [1, 0]


def test_glue_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_GLUE_DIR, str(tmp_path))
    assert resolve_glue_dir() == tmp_path
    assert resolve_glue_dir(tmp_path / "..") == tmp_path / ".."
    with pytest.raises(GlueError, match="--glue-dir"):
        resolve_glue_dir(tmp_path / "absent")
    with pytest.raises(GlueError, match=r"absent.*does not exist"):
        load_split("SST-2", "dev", tmp_path / "absent")  # explicit: no fallback


def test_hf_fallback_without_local_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No directory: the Hugging Face path is tried and its failure is explained."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv(ENV_GLUE_DIR, str(tmp_path / "absent"))
    with pytest.raises(GlueError, match=r"does not exist.*(datasets|Hugging Face)"):
        load_split("SST-2", "dev")


def test_metrics_hand_made() -> None:
    y = [1, 0, 1, 1, 0, 0]
    p = [1, 0, 0, 1, 1, 0]  # tp=2 tn=2 fp=1 fn=1
    assert compute_metrics("SST-2", p, y) == {"accuracy": 4 / 6}
    mrpc = compute_metrics("MRPC", p, y)
    assert mrpc["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1)) and mrpc["accuracy"] == 4 / 6
    assert compute_metrics("CoLA", p, y)["matthews"] == pytest.approx(
        (2 * 2 - 1 * 1) / math.sqrt(3 * 3 * 3 * 3))
    assert compute_metrics("CoLA", [1] * 6, y)["matthews"] == 0.0  # degenerate: defined as 0
    logits = np.array([[0.1, 0.9], [2.0, 1.0], [3.0, -1.0]])
    assert compute_metrics("RTE", logits, [1, 0, 1])["accuracy"] == pytest.approx(2 / 3)


def test_regression_metrics() -> None:
    y = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    m = compute_metrics("STS-B", 2 * y + 1, y)
    assert m["pearson"] == pytest.approx(1.0) and m["spearman"] == pytest.approx(1.0)
    m = compute_metrics("STS-B", np.array([[0.0], [1.0], [4.0], [9.0], [16.0]]), y)
    assert m["spearman"] == pytest.approx(1.0) and m["pearson"] < 1.0
    with pytest.raises(GlueError, match="does not match"):
        compute_metrics("STS-B", [1.0, 2.0], y)
