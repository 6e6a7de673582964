"""Device selection and the accuracy table it reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.cli import main
from hw.config import DesignConfig
from hw.select import AccuracyError, load_variants, select

ROWS = [
    {"task": "SST-2", "sparsity": 0.5, "metric": "accuracy", "value": 0.915, "baseline": 0.92},
    {"task": "SST-2", "sparsity": 0.8, "metric": "accuracy", "value": 0.90, "baseline": 0.92},
    {"task": "SST-2", "sparsity": 0.9, "metric": "accuracy", "value": 0.85,
     "dense_baseline": 0.92},
    {"task": "MRPC", "sparsity": 0.8, "metric": "f1", "value": 0.8, "baseline": 0.88},
]


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "accuracy.json"
    path.write_text(json.dumps({"rows": ROWS}))
    return path


def test_variants_and_drops(table: Path) -> None:
    v = load_variants("SST-2", table)
    assert [x.sparsity for x in v] == [0.5, 0.8, 0.9]
    assert [round(x.drop, 4) for x in v] == [0.005, 0.02, 0.07]
    with pytest.raises(AccuracyError, match="no rows for task 'RTE'"):
        load_variants("RTE", table)


def test_missing_and_malformed_tables(tmp_path: Path) -> None:
    with pytest.raises(AccuracyError, match="no accuracy table"):
        load_variants("SST-2", tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"task": "SST-2", "sparsity": 0.8}]))
    with pytest.raises(AccuracyError, match=r"row 0 \(SST-2\) lacks \['value', 'baseline'\]"):
        load_variants("SST-2", bad)


def test_selects_the_cheapest_board_that_meets_both(table: Path) -> None:
    cfg = DesignConfig.from_yaml()
    variants = load_variants("SST-2", table)
    loose = select(cfg, variants, latency_ms=100.0, max_drop=0.03)
    best = loose["selected"]
    cheapest = min(c["cost"] for c in loose["candidates"] if c.get("meets_latency"))
    assert best["cost"] == cheapest and best["accuracy_drop"] <= 0.03
    assert {c["sparsity"] for c in loose["candidates"]} == {0.5, 0.8}  # 0.9 drops too much
    tight = select(cfg, variants, latency_ms=0.3, max_drop=0.03)
    if tight["selected"]:
        assert tight["selected"]["latency_ms"] <= 0.3
        assert tight["selected"]["cost"] >= best["cost"]


def test_says_which_constraint_no_board_meets(table: Path) -> None:
    cfg = DesignConfig.from_yaml()
    variants = load_variants("SST-2", table)
    r = select(cfg, variants, latency_ms=1e-6, max_drop=0.03)
    assert r["selected"] is None and r["unmet"].startswith("latency:")
    r = select(cfg, variants, latency_ms=100.0, max_drop=0.001)
    assert r["selected"] is None and r["unmet"].startswith("accuracy:")


def test_cli_select(table: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["select", "--latency-ms", "100", "--max-accuracy-drop", "0.03", "--task", "SST-2",
            "--accuracy", str(table), "--boards", "u200", "kv260", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["selected"]["board"] == "kv260" and out["figures"] == "modeled"
    assert main(argv[:2] + ["1e-6"] + argv[3:]) == 1
    assert json.loads(capsys.readouterr().out)["unmet"].startswith("latency:")
    assert main(["select", "--latency-ms", "1", "--max-accuracy-drop", "0.1", "--task",
                 "SST-2", "--accuracy", str(table.parent / "none.json")]) == 2
    assert "no accuracy table" in capsys.readouterr().err


def test_pruning_benchmark_rows_are_read(tmp_path: Path) -> None:
    """Rows as `benchmarks/accuracy.py` writes them: metrics under `dev`, baseline = dense."""
    rows = [
        {"task": "MRPC", "variant": "dense", "metric": "f1", "encoder_sparsity": 0.0,
         "dev": {"f1": 0.83, "accuracy": 0.73}},
        {"task": "MRPC", "variant": "uniform", "metric": "f1", "encoder_sparsity": 0.8,
         "dev": {"f1": 0.80, "accuracy": 0.69}},
        {"task": "MRPC", "attention": {"topk": 8}, "sparsity": 0.0, "value": 0.5,
         "baseline": 0.83},
    ]
    path = tmp_path / "acc.json"
    path.write_text(json.dumps({"rows": rows}))
    variants = load_variants("MRPC", path)
    assert [(v.sparsity, v.value, v.baseline) for v in variants] == [
        (0.0, 0.83, 0.83), (0.8, 0.80, 0.83)]
