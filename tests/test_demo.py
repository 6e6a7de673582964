"""`sbf demo` strings the parts together; its heavy steps are tested where they live."""

import json
from pathlib import Path

import pytest

from host.cli import main


@pytest.mark.xdist_group("minilm")
def test_demo_light_steps_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--skip", "csim,rtl,emulation", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads((out / "report.json").read_text()) | {"report": report["report"]}
    assert report["prune"]["encoder_density"] == pytest.approx(0.2, abs=1e-3)
    assert (out / "minilm-hp80" / "manifest.json").is_file()
    buckets = report["buckets"]
    assert buckets["edges"][-1] == max(buckets["lengths"])
    assert buckets["padding_fraction"] < buckets["pad_to_max_fraction"]
    assert report["fidelity"]["cosine_mean"] > 0.95
    lat = report["latency"]
    assert lat["cpu_ms_per_sentence"]["figure"] == "measured"
    assert lat["u200_ms_per_sentence"]["figure"] == "modeled"
    assert Path(report["plots"]["buckets"]).is_file()
    for skipped in ("csim", "rtl", "emulation"):
        assert skipped not in report


def test_demo_refuses_to_skip_what_later_steps_need(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--skip", "prune"]) == 2
    assert "cannot skip ['prune']" in capsys.readouterr().err
    assert main(["demo", "--skip", "csim"]) == 2
    assert "need the 'csim' step" in capsys.readouterr().err
