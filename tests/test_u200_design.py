"""benchmarks/u200_design.py sizes both models on the U200 and checks issue 20's targets."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("u200_design",
                                                  ROOT / "benchmarks" / "u200_design.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name in ("RESULTS", "ROOFLINE", "OP_PLOT", "DOC"):
        monkeypatch.setattr(mod, name, tmp_path / Path(getattr(mod, name)).name)
    monkeypatch.setattr(mod, "BENCH", tmp_path / "bench.json")
    return mod


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
    assert "bert-base vs the best CPU engine: not measured" in doc
    assert bench.ROOFLINE.is_file() and bench.OP_PLOT.is_file()
