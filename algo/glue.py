"""GLUE tasks: reading the standard TSV files, their metrics, and tokenized lengths.

The files are read as plain TSV (`csv.QUOTE_NONE`): they contain unbalanced double quotes
that default CSV quoting would merge across rows. When no local directory exists, the
Hugging Face `datasets` copy is used instead (needs the package and a network).
Sequence lengths matter to the whole project (length buckets, the scheduler, padding
figures), so `token_lengths` and `length_stats` live here, once.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ENV_GLUE_DIR = "SBF_GLUE_DIR"
# The checkout's sibling `shared/data/glue`, where the project's machines keep the data.
DEFAULT_GLUE_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "glue"
SPLITS = ("train", "dev")
_SPLIT_ALIASES = {"validation": "dev", "val": "dev"}
HF_DATASET = "nyu-mll/glue"  # the hub id of the GLUE dataset
HF_SPLIT = {"train": "train", "dev": "validation"}
PERCENTILE = 95


class GlueError(ValueError):
    """Missing or malformed GLUE data; the message names the task, file, row or field."""


@dataclass(frozen=True)
class TaskSpec:
    """How one GLUE task is stored and scored.

    With a header, `text_a`/`text_b`/`label` are column names; without one (CoLA) the
    columns are given by position in `columns`.
    """

    name: str
    text_a: str
    text_b: str | None
    label: str
    num_labels: int
    metric: str  # the headline key of `compute_metrics`
    hf_name: str
    has_header: bool = True
    columns: dict[str, int] = field(default_factory=dict)
    label_names: tuple[str, ...] = ()  # string labels in the file, in label-id order

    @property
    def is_regression(self) -> bool:
        return self.num_labels == 1

    @property
    def is_pair(self) -> bool:
        return self.text_b is not None


TASKS: dict[str, TaskSpec] = {t.name: t for t in (
    TaskSpec("SST-2", "sentence", None, "label", 2, "accuracy", "sst2"),
    TaskSpec("MRPC", "#1 String", "#2 String", "Quality", 2, "f1", "mrpc"),
    TaskSpec("RTE", "sentence1", "sentence2", "label", 2, "accuracy", "rte",
             label_names=("entailment", "not_entailment")),
    TaskSpec("QNLI", "question", "sentence", "label", 2, "accuracy", "qnli",
             label_names=("entailment", "not_entailment")),
    TaskSpec("STS-B", "sentence1", "sentence2", "score", 1, "pearson", "stsb"),
    TaskSpec("CoLA", "sentence", None, "label", 2, "matthews", "cola", has_header=False,
             columns={"label": 1, "sentence": 3}),
)}
# Field names in the Hugging Face `glue` dataset, per task: (text_a, text_b).
_HF_FIELDS = {"SST-2": ("sentence", None), "MRPC": ("sentence1", "sentence2"),
              "RTE": ("sentence1", "sentence2"), "QNLI": ("question", "sentence"),
              "STS-B": ("sentence1", "sentence2"), "CoLA": ("sentence", None)}


@dataclass(frozen=True)
class GlueSplit:
    """One split of one task: texts and labels (int64 ids, or float32 scores for STS-B)."""

    task: str
    texts_a: list[str]
    texts_b: list[str] | None
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.texts_a)


def task_spec(task: str) -> TaskSpec:
    """The spec for a task name in any common spelling (SST-2, sst2, sts-b, cola)."""
    key = task.replace("-", "").replace("_", "").lower()
    for spec in TASKS.values():
        if key in (spec.name.replace("-", "").lower(), spec.hf_name):
            return spec
    raise GlueError(f"task {task!r} is not supported (known: {', '.join(TASKS)})")


def _split_name(split: str) -> str:
    s = _SPLIT_ALIASES.get(split.lower(), split.lower())
    if s not in SPLITS:
        raise GlueError(f"split {split!r} is not supported (known: {', '.join(SPLITS)})")
    return s


def resolve_glue_dir(glue_dir: str | os.PathLike | None = None) -> Path:
    """The GLUE directory: the argument, else $SBF_GLUE_DIR, else ../shared/data/glue."""
    if glue_dir is not None:
        source, path = "--glue-dir", Path(glue_dir)
    elif os.environ.get(ENV_GLUE_DIR):
        source, path = f"${ENV_GLUE_DIR}", Path(os.environ[ENV_GLUE_DIR])
    else:
        source, path = "the default location", DEFAULT_GLUE_DIR
    path = path.expanduser()
    if not path.is_dir():
        raise GlueError(f"GLUE directory {path} (from {source}) does not exist; pass "
                        f"--glue-dir or set {ENV_GLUE_DIR} to a directory holding "
                        f"<TASK>/{{train,dev}}.tsv")
    return path


def load_split(task: str, split: str, glue_dir: str | os.PathLike | None = None) -> GlueSplit:
    """Read `<glue_dir>/<TASK>/<split>.tsv`; without a local directory, try HF `datasets`."""
    spec, split = task_spec(task), _split_name(split)
    try:
        root = resolve_glue_dir(glue_dir)
    except GlueError as local_error:
        if glue_dir is not None:  # an explicit directory that is wrong is an error
            raise
        return _load_hf(spec, split, local_error)
    return read_tsv(spec, root / spec.name / f"{split}.tsv")


def read_tsv(spec: TaskSpec, path: Path) -> GlueSplit:
    """Parse one task file; every problem names the file and the row."""
    if not path.is_file():
        raise GlueError(f"{path}: missing ({spec.name} {path.stem} split)")
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if spec.has_header:
        if not rows:
            raise GlueError(f"{path}: empty file, expected a header")
        header, rows, first_row = rows[0], rows[1:], 2
        wanted = [c for c in (spec.text_a, spec.text_b, spec.label) if c is not None]
        missing = [c for c in wanted if c not in header]
        if missing:
            raise GlueError(f"{path}: header lacks column {missing[0]!r} (has {header})")
        cols = {c: header.index(c) for c in wanted}
    else:
        cols, first_row = dict(spec.columns), 1
    width = max(cols.values()) + 1
    texts_a, texts_b, labels = [], [], []
    for i, row in enumerate(rows, start=first_row):
        if len(row) < width:
            raise GlueError(f"{path}: row {i} has {len(row)} columns, expected at least {width}")
        texts_a.append(row[cols[spec.text_a]])
        if spec.text_b is not None:
            texts_b.append(row[cols[spec.text_b]])
        labels.append(_parse_label(spec, row[cols[spec.label]], path, i))
    if not texts_a:
        what = "only a header" if spec.has_header else "an empty file"
        raise GlueError(f"{path}: no examples ({what}); restore the file or point "
                        f"--glue-dir at a complete GLUE copy")
    dtype = np.float32 if spec.is_regression else np.int64
    return GlueSplit(spec.name, texts_a, texts_b if spec.is_pair else None,
                     np.asarray(labels, dtype=dtype))


def _parse_label(spec: TaskSpec, raw: str, path: Path, row: int) -> float | int:
    try:
        if spec.is_regression:
            return float(raw)
        if spec.label_names:
            return spec.label_names.index(raw)
        value = int(raw)
    except ValueError:
        raise GlueError(f"{path}: row {row} has label {raw!r}, expected "
                        f"{list(spec.label_names) or 'a number'}") from None
    if not 0 <= value < spec.num_labels:
        raise GlueError(f"{path}: row {row} label {value} outside [0, {spec.num_labels})")
    return value


def _load_hf(spec: TaskSpec, split: str, local_error: GlueError) -> GlueSplit:
    """The Hugging Face `glue` dataset, for machines without the TSV files."""
    try:
        import datasets
    except ImportError:
        raise GlueError(f"{local_error}; the fallback through Hugging Face needs the "
                        f"`datasets` package (pip install datasets)") from None
    try:
        ds = datasets.load_dataset(HF_DATASET, spec.hf_name, split=HF_SPLIT[split])
    except Exception as e:  # offline, hub errors: all reported the same way
        raise GlueError(f"{local_error}; loading {HF_DATASET}/{spec.hf_name} through Hugging Face "
                        f"failed too ({e})") from None
    field_a, field_b = _HF_FIELDS[spec.name]
    if len(ds) == 0:
        raise GlueError(f"{HF_DATASET}/{spec.hf_name} {split}: holds no examples")
    dtype = np.float32 if spec.is_regression else np.int64
    return GlueSplit(spec.name, list(ds[field_a]), list(ds[field_b]) if field_b else None,
                     np.asarray(ds["label"], dtype=dtype))


def split_lengths(data: GlueSplit, tokenizer: Any) -> np.ndarray:
    """Tokenized length of every example, special tokens included, never truncated."""
    return text_lengths(tokenizer, data.texts_a, data.texts_b)


def text_lengths(tokenizer: Any, texts_a: Sequence[str],
                 texts_b: Sequence[str] | None = None) -> np.ndarray:
    """Tokenized length of every text (pair), special tokens included, never truncated:
    what a command that truncates compares with its max_length to count what it cut."""
    if len(texts_a) == 0:
        return np.zeros(0, dtype=np.int64)
    enc = tokenizer(list(texts_a), list(texts_b) if texts_b is not None else None,
                    add_special_tokens=True, truncation=False, return_attention_mask=False,
                    return_token_type_ids=False, verbose=False)
    return np.fromiter((len(ids) for ids in enc["input_ids"]), dtype=np.int64,
                       count=len(texts_a))


def count_truncated(tokenizer: Any, texts_a: Sequence[str], texts_b: Sequence[str] | None,
                    max_length: int) -> int:
    """How many of the texts are longer than `max_length` tokens (and so get shortened)."""
    return int((text_lengths(tokenizer, texts_a, texts_b) > max_length).sum())


def token_lengths(task: str, split: str, tokenizer: Any,
                  glue_dir: str | os.PathLike | None = None) -> np.ndarray:
    """Tokenized lengths of a task split (see `split_lengths`)."""
    return split_lengths(load_split(task, split, glue_dir), tokenizer)


def length_stats(lengths: Sequence[int] | np.ndarray, max_length: int) -> dict[str, Any]:
    """n, mean, median, p95, max of real lengths, and the padding share at `max_length`.

    padding_at_max = padded slots / all slots when every sequence is padded (and the
    longer ones truncated) to `max_length`: the work a fixed-length accelerator wastes.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size == 0:
        raise GlueError("no sequences to measure")
    if max_length < 1:
        raise GlueError(f"max_length must be >= 1, got {max_length}")
    real = np.minimum(lengths, max_length).sum()
    return {
        "n": int(lengths.size),
        "mean": float(lengths.mean()),
        "median": float(np.median(lengths)),
        "p95": float(np.percentile(lengths, PERCENTILE)),
        "max": int(lengths.max()),
        "max_length": int(max_length),
        "truncated": int((lengths > max_length).sum()),
        "padding_at_max": float(1.0 - real / (lengths.size * max_length)),
    }


def compute_metrics(task: str, preds: Sequence | np.ndarray,
                    labels: Sequence | np.ndarray) -> dict[str, float]:
    """The task's GLUE metrics. `preds` may be label ids, scores, or logits [n, classes]."""
    spec = task_spec(task)
    p, y = np.asarray(preds), np.asarray(labels)
    if p.ndim == 2:
        p = p[:, 0] if spec.is_regression else p.argmax(axis=1)
    if p.shape != y.shape or p.ndim != 1:
        raise GlueError(f"{spec.name}: preds shape {p.shape} does not match labels {y.shape}")
    if y.size == 0:
        raise GlueError(f"{spec.name}: no labels to score")
    if spec.is_regression:
        from scipy.stats import pearsonr, spearmanr

        return {"pearson": float(pearsonr(p, y)[0]), "spearman": float(spearmanr(p, y)[0])}
    result = {"accuracy": float((p == y).mean())}
    if spec.metric == "f1":
        result["f1"] = f1_score(p, y)
    if spec.metric == "matthews":
        result["matthews"] = matthews_corrcoef(p, y)
    return result


def f1_score(preds: np.ndarray, labels: np.ndarray) -> float:
    """F1 of the positive class (label 1); 0 when there is no true positive."""
    tp = int(((preds == 1) & (labels == 1)).sum())
    fp = int(((preds == 1) & (labels != 1)).sum())
    fn = int(((preds != 1) & (labels == 1)).sum())
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def matthews_corrcoef(preds: np.ndarray, labels: np.ndarray) -> float:
    """Binary Matthews correlation; 0 when a row or column of the confusion matrix is empty."""
    tp = int(((preds == 1) & (labels == 1)).sum())
    tn = int(((preds != 1) & (labels != 1)).sum())
    fp = int(((preds == 1) & (labels != 1)).sum())
    fn = int(((preds != 1) & (labels == 1)).sum())
    denom = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return 0.0 if denom == 0 else (tp * tn - fp * fn) / denom
