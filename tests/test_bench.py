"""The benchmark's JSON on a tiny BERT and a synthetic length trace (no GLUE, no download)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from host import bench, bench_engines

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


def test_bench_json_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bench_engines.CACHE_ENV, str(tmp_path / "cache"))
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


def test_absent_engines_are_skipped_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_engines, "have", lambda module: False)
    assert bench_engines.installed() == []
    notes = bench_engines.missing_notes()
    assert any("onnxruntime, onnx are not installed" in n and "pip install onnxruntime" in n
               for n in notes)
    assert any("openvino, nncf, onnx are not installed" in n
               and "pip install openvino nncf" in n for n in notes)
    # Only what is missing is named: here just onnx, which both engines need.
    monkeypatch.setattr(bench_engines, "have", lambda module: module != "onnx")
    assert bench_engines.installed() == []
    assert [n.split(": ")[1].split(" (")[0] for n in bench_engines.missing_notes()] == [
        "onnx is not installed", "onnx is not installed"]
    monkeypatch.setattr(bench_engines, "have", lambda module: False)
    rows = bench.engine_rows(tiny_model("x"), "m", "toy", np.array([5]), np.array([5, 9]), 2,
                             {"cpu": "c", "cores": 1})
    assert rows == []


def _engine_rows_and_logits(system: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            atol_fraction: float) -> None:
    """The engine's rows exist beside torch's, and its int8 logits follow torch's fp32."""
    import torch

    monkeypatch.setenv(bench_engines.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(bench_engines, "installed", lambda: [system])
    res = bench.run_bench(TINY_TRACE, models=["bert-base"], n_latency=3, n_throughput=4,
                          batch_size=2, command="test", model_factory=tiny_model,
                          progress=False, with_model=False)
    rows = [r for r in res["rows"] if r["system"] == system]
    assert [(r["padding"], r["batch_size"]) for r in rows] == [("real-lengths", 1),
                                                                ("pad-to-batch-max", 2)]
    assert all(ROW_KEYS <= set(r) and r["threads"] >= 1 and r["throughput_seq_s"] > 0
               for r in rows)
    assert all(r["system"] in (system, "torch-fp32", "torch-int8-dynamic") for r in res["rows"])

    model = tiny_model("x")
    ((_, engine, _),) = bench_engines.engine_models(model, 1, [5, 9, 12])
    batch = bench._inputs([5, 12, 9], 12, model.config.vocab_size, "cpu")
    with torch.no_grad():
        want = model(**batch).logits.numpy()
    got = engine(**batch)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=atol_fraction * np.abs(want).max())
    # Cached by content: a second export of the same model is the same file, untouched.
    first = bench_engines.export_onnx(model)
    stamp = first.stat().st_mtime_ns
    assert bench_engines.export_onnx(tiny_model("x")) == first
    assert first.stat().st_mtime_ns == stamp and str(tmp_path) in str(first)


# int8 against fp32 on the tiny random model (logits about 0.03), as a fraction of the
# largest logit. Dynamic int8 quantizes activations per call: close. NNCF's static int8
# fixes activation scales from 3 calibration sequences: looser (measured 0.0065 of 0.03).
ORT_ATOL_FRACTION = 0.15
OV_ATOL_FRACTION = 0.35


@pytest.mark.skipif(not bench_engines.available(bench_engines.ORT_SYSTEM),
                    reason="onnxruntime/onnx not installed")
def test_ort_int8_rows_match_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _engine_rows_and_logits(bench_engines.ORT_SYSTEM, tmp_path, monkeypatch,
                            ORT_ATOL_FRACTION)


@pytest.mark.skipif(not bench_engines.available(bench_engines.OV_SYSTEM),
                    reason="openvino/nncf/onnx not installed")
def test_openvino_int8_rows_match_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _engine_rows_and_logits(bench_engines.OV_SYSTEM, tmp_path, monkeypatch,
                            OV_ATOL_FRACTION)


def _measured_result() -> dict:
    cpu = {"model": "minilm", "trace": "toy", "device": "cpu", "system": "torch-fp32",
           "padding": "real-lengths", "n": 3, "batch_size": 1, "latency_ms_p50": 10.0,
           "throughput_seq_s": 100.0, "kind": bench.MEASURED, "source": "measured"}
    stale = dict(cpu, device=bench.BOARD, system="sbf-hp-int8", latency_ms_p50=99.0,
                 kind=bench.MODELED, source="an older model")
    return {"settings": {"models": ["minilm"], "traces": {"toy": "toy"},
                         "trace_sizes": {"toy": 8}, "n_latency": 3, "n_throughput": 4,
                         "seed": bench.SEED},
            "rows": [cpu, stale], "speedups": [], "notes": ["modeled: stale", "kept"]}


def test_remodel_keeps_the_measured_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "trace_lengths", lambda task, glue_dir: TINY_TRACE[task])
    old = _measured_result()
    res = bench.remodel(old, None, "test --remodel")
    assert res["rows"][0] == old["rows"][0]  # measured, untouched
    modeled = [r for r in res["rows"] if r["kind"] == bench.MODELED]
    assert len(modeled) == 2 and all(r["source"] != "an older model" for r in modeled)
    assert res["notes"] == ["kept"] and res["remodeled"]["command"] == "test --remodel"
    (s,) = [s for s in res["speedups"] if s["metric"] == bench.LATENCY_METRIC]
    assert s["speedup"] == pytest.approx(10.0 / modeled[0][bench.LATENCY_METRIC])


def test_remodel_refuses_another_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "trace_lengths", lambda task, glue_dir: TINY_TRACE[task][:5])
    with pytest.raises(ValueError, match="rerun the whole bench"):
        bench.remodel(_measured_result(), None, "test")
