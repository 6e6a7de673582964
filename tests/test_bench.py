"""The benchmark's JSON on a tiny BERT and a synthetic length trace (no GLUE, no download)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from host import bench

TINY_TRACE = {"toy": np.array([5, 9, 3, 17, 40, 8, 12, 6])}
ROW_KEYS = {"model", "trace", "device", "system", "padding", "n", "batch_size",
            "throughput_seq_s", "kind", "source"}


def tiny_model(name: str):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=2000, hidden_size=32, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=64, num_labels=2)
    return BertForSequenceClassification(cfg).eval()


def test_bench_json_schema(tmp_path: Path) -> None:
    res = bench.run_bench(TINY_TRACE, models=["bert-base"], n_latency=3, n_throughput=4,
                          batch_size=2, command="test", model_factory=tiny_model,
                          progress=False, with_model=False)
    json.dumps(res)  # JSON-able as it stands
    assert res["command"] == "test" and res["date"]
    assert {"cpu", "cores", "torch", "torch_threads"} <= set(res["machine"])
    rows = res["rows"]
    assert all(ROW_KEYS <= set(r) and r["kind"] == bench.MEASURED for r in rows)
    fp32 = [(r["padding"], r["batch_size"]) for r in rows if r["system"] == "torch-fp32"]
    assert fp32 == [("pad-to-128", 1), ("pad-to-128", 2), ("real-lengths", 1),
                    ("pad-to-batch-max", 2)]
    for r in rows:
        assert r["n"] == (3 if r["batch_size"] == 1 else 4)
        assert r["throughput_seq_s"] > 0
        if r["batch_size"] == 1:
            assert 0 < r["latency_ms_p50"] <= r["latency_ms_p90"] * (1 + 1e-9)
    assert any("ONNX" in n for n in res["notes"])
    assert bench.plot(res, tmp_path / "b.png").stat().st_size > 0


def test_speedups_compare_real_lengths_only() -> None:
    base = {"model": "m", "trace": "t", "device": "cpu", "system": "torch-fp32",
            "kind": bench.MEASURED, "batch_size": 1}
    rows = [dict(base, padding="pad-to-128", latency_ms_p50=100.0),
            dict(base, padding="real-lengths", latency_ms_p50=20.0),
            dict(base, device="u200", system="sbf", padding="real-lengths",
                 kind=bench.MODELED, latency_ms_p50=0.5)]
    (s,) = bench.speedups(rows)
    assert s["speedup"] == 40.0 and "real-lengths" in s["baseline"]


def test_subsample_is_seeded_and_in_trace_order() -> None:
    trace = np.arange(100)
    a, b = bench.subsample(trace, 10), bench.subsample(trace, 10)
    assert np.array_equal(a, b) and np.all(np.diff(a) > 0)
    assert np.array_equal(bench.subsample(trace, 500), trace)


def test_modeled_rows_name_their_model() -> None:
    lat, thr = np.array([5, 9, 30]), np.array([5, 9, 30, 12])
    rows, notes = bench.modeled_rows("minilm", "toy", lat, thr)
    assert notes == [] and len(rows) == 2
    for r in rows:
        assert ROW_KEYS <= set(r) and r["kind"] == bench.MODELED and r["device"] == bench.BOARD
        assert "hw.perf" in r["source"] and r["throughput_seq_s"] > 0
    assert rows[0]["n"] == lat.size and rows[1]["n"] == thr.size
    assert "hw.sched" in rows[1]["source"]
