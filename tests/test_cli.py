"""The foundation's `sbf` commands, driven through `host.cli.main` with JSON captured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from boards.loader import BOARD_DIR
from host.cli import main

BOARD_KEYS = {"name", "part", "platform", "clock_mhz", "dsp", "bram36", "uram", "lut", "ff",
              "kernel_dsp", "memory_bandwidth_gbs"}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def run_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 2
    return capsys.readouterr().err


def test_boards_show_u200(capsys) -> None:
    b = run_json(capsys, "boards", "show", "u200")
    assert BOARD_KEYS <= set(b)
    assert b["dsp"] == 6840 and b["kernel_dsp"] == 5847 and b["memory_bandwidth_gbs"] == 77.0


def test_boards_list(capsys) -> None:
    out = run_json(capsys, "boards", "list")
    assert out["default"] == "u200"
    assert [b["name"] for b in out["boards"]] == ["kv260", "u200", "u250", "u280", "zcu102"]
    assert main(["boards", "list"]) == 0
    assert "xcu200-fsgd2104-2-e" in capsys.readouterr().out


def test_boards_errors(capsys, tmp_path: Path) -> None:
    assert "unknown board 'nope'" in run_error(capsys, "boards", "show", "nope")
    data = yaml.safe_load((BOARD_DIR / "u200.yaml").read_text())
    data["kernel_uram"] = -1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    err = run_error(capsys, "boards", "show", str(bad))
    assert f"{bad}: kernel_uram: must not be negative" in err


@pytest.mark.glue
def test_data_lengths_sst2_dev(capsys, glue_dir: Path, tmp_path: Path) -> None:
    plot = tmp_path / "lengths.png"
    out = run_json(capsys, "data", "lengths", "--task", "sst2", "--split", "dev",
                   "--glue-dir", str(glue_dir), "--plot", str(plot))
    assert out["task"] == "SST-2" and out["n"] == 872 and out["max"] == 55
    assert 24 < out["mean"] < 26 and 0.79 < out["padding_at_max"] < 0.81
    assert {"median", "p95"} <= set(out)
    assert plot.stat().st_size > 0


def test_data_lengths_errors(capsys, tmp_path: Path) -> None:
    assert "task 'nope'" in run_error(capsys, "data", "lengths", "--task", "nope",
                                      "--glue-dir", str(tmp_path))
    assert "does not exist" in run_error(capsys, "data", "lengths", "--task", "SST-2",
                                         "--glue-dir", str(tmp_path / "absent"))


def test_prune_oneshot_then_report(capsys, tmp_path: Path) -> None:
    art = tmp_path / "minilm-hp"
    out = run_json(capsys, "prune", "oneshot", "--density", "0.125", "--m", "2", "--out", str(art))
    assert out["shape"] == {"bo": 16, "bi": 16, "m": 2}
    assert out["total"]["layers"] == 36
    assert out["total"]["density"] == pytest.approx(0.125, abs=1e-4)
    assert out["command"].startswith("sbf prune oneshot --density 0.125")
    report = run_json(capsys, "hp", "report", "--artifact", str(art))
    assert report["total"] == out["total"]
    assert len(report["layers"]) == 36 and all(r["m"] == 2 for r in report["layers"])
    assert main(["hp", "report", "--artifact", str(art)]) == 0
    assert "layer.5.output.dense" in capsys.readouterr().out


def test_prune_and_report_errors(capsys, tmp_path: Path) -> None:
    err = run_error(capsys, "prune", "oneshot", "--density", "0.5", "--out", str(tmp_path / "a"))
    assert "density 0.5 is above what m=4 of bi=16 allows" in err
    assert not (tmp_path / "a").exists()
    err = run_error(capsys, "hp", "report", "--artifact", str(tmp_path / "none"))
    assert "manifest.json: missing" in err
