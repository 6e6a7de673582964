"""`sbf hw estimate` and `sbf hw schedule` print their documented JSON keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.cli import main

SCHEDULE_KEYS = {"throughput_seq_s", "mean_latency_ms", "p99_latency_ms", "slot_utilization"}


def test_estimate_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hw", "estimate", "--board", "u200", "--lengths", "16", "128", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["figures"] == "modeled" and out["pe_groups"] > 0
    assert [r["length"] for r in out["per_length"]] == [16, 128]
    assert set(out["resources"]) == {"dsp", "lut", "bram", "uram"}
    assert out["weights"]["source"] == "uniform density 0.2"


def test_estimate_errors_name_the_problem(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hw", "estimate", "--board", "nope", "--json"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["hw", "estimate", "--artifact", "/nonexistent/art", "--json"]) == 2
    assert "/nonexistent/art" in capsys.readouterr().err


@pytest.mark.glue
def test_schedule_json_plot_and_table(glue_dir: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    plot, table = tmp_path / "gantt.png", tmp_path / "table.json"
    argv = ["hw", "schedule", "--task", "SST-2", "--split", "dev", "--board", "u200",
            "--glue-dir", str(glue_dir), "--limit", "48", "--plot", str(plot),
            "--table", str(table), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sequences"] == 48 and out["figures"] == "modeled"
    for policy in ("pad_to_max", "pad_to_batch_max", "length_aware"):
        assert SCHEDULE_KEYS <= set(out["policies"][policy])
    assert out["policies"]["length_aware"]["speedup_vs_pad_to_max"] > 1
    assert plot.stat().st_size > 0
    rows = json.loads(table.read_text())
    assert len(rows) == 48 and {"seq", "length", "groups", "admit_cycle"} <= set(rows[0])


def test_lengths_over_the_designs_max_length_are_refused(capsys) -> None:
    from host.cli import main

    assert main(["hw", "estimate", "--lengths", "24", "200"]) == 2
    err = capsys.readouterr().err
    assert "--lengths: [200] exceed the design's max_length 128" in err
    assert main(["select", "--latency-ms", "1", "--max-accuracy-drop", "0.01",
                 "--task", "SST-2", "--length", "300"]) == 2
    assert "--length: 300 exceeds the design's max_length 128" in capsys.readouterr().err
