"""benchmarks/u200_design.py sizes both models on the U200 and checks issue 20's targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench_helpers import load_benchmark, redirect


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    return redirect(load_benchmark("u200_design"), monkeypatch, tmp_path, "RESULTS",
                    "ROOFLINE", "OP_PLOT", "DOC", "BENCH")


def test_sizes_both_models_and_labels_every_figure(bench, tmp_path: Path) -> None:
    cpu = {"date": "d", "machine": {}, "rows": [
        {"kind": "measured", "model": "minilm", "trace": "SST-2", "batch_size": 1,
         "padding": "real-lengths", "system": "ort-int8", "latency_ms_p50": 1.5},
        {"kind": "measured", "model": "minilm", "trace": "SST-2", "batch_size": 1,
         "padding": "real-lengths", "system": "torch-fp32", "latency_ms_p50": 9.0}]}
    bench.BENCH.write_text(json.dumps(cpu))
    assert bench.main(["--glue-dir", str(tmp_path / "no-glue")]) == 0
    result = json.loads(bench.RESULTS.read_text())
    assert result["trace"]["source"] == "built-in sentences (GLUE absent)"
    mini = result["designs"]["minilm"]
    assert mini["latency_model"].startswith("hw.perf.layer")  # the RTL machine
    assert mini["pe_groups"] >= 1 and "per_op" in mini["at_median_length"]
    assert 0 < mini["trace"]["fraction_of_board_dsp_peak"] < 1
    assert mini["power"]["figures"] == "modeled" and mini["joules_per_sequence"] > 0
    assert result["cpu"]["minilm"]["best"] == "ort-int8"  # the fastest CPU engine
    assert "note" in result["cpu"]["bert-base"]  # no rows: said, not invented
    doc = bench.DOC.read_text()
    assert "vs the best CPU engine measured (ort-int8, 1.50 ms p50)" in doc
    assert "bert-base: no RTL design fits the board, so every target is NOT met" in doc
    assert bench.ROOFLINE.is_file() and bench.OP_PLOT.is_file()
