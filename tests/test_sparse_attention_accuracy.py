"""The accuracy benchmark's table handling: its rows replace its own, others' rows stay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench_helpers import load_benchmark


def test_merge_replaces_only_its_own_rows(tmp_path: Path) -> None:
    bench = load_benchmark("attention_accuracy")
    path = tmp_path / "accuracy.json"
    other = {"task": "SST-2", "sparsity": 0.8, "value": 0.9, "baseline": 0.91}
    old = {"source": bench.SOURCE, "task": "SST-2", "value": 0.1}
    kept = {"source": bench.SOURCE, "task": "MRPC", "value": 0.2}
    path.write_text(json.dumps([other, old, kept]))
    new = {"source": bench.SOURCE, "task": "SST-2", "value": 0.85}
    bench.merge(path, [new])
    assert json.loads(path.read_text())["rows"] == [other, kept, new]


def test_merge_rejects_a_malformed_table(tmp_path: Path) -> None:
    path = tmp_path / "accuracy.json"
    path.write_text(json.dumps({"rows": 3}))
    with pytest.raises(ValueError, match="accuracy.json"):
        load_benchmark("attention_accuracy").merge(path, [])
