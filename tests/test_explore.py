"""Design-space exploration: the Pareto filter by hand, and a tiny sweep end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from boards.loader import load_board
from host.cli import main
from hw.config import DesignConfig
from hw.explore import explore, pareto, plot_front

TINY_SPACE = {"bo": (8, 16), "bi": (16,), "m": (4,), "attn_k": (16,),
              "attn_heads_parallel": (12,), "stages": (3,), "group_share": (0.5, 1.0)}


def test_pareto_by_hand() -> None:
    rows = [
        {"id": 0, "p99_latency_ms": 1.0, "throughput_seq_s": 10, "resource_fraction": 0.5},
        {"id": 1, "p99_latency_ms": 2.0, "throughput_seq_s": 10, "resource_fraction": 0.5},
        {"id": 2, "p99_latency_ms": 2.0, "throughput_seq_s": 20, "resource_fraction": 0.9},
        {"id": 3, "p99_latency_ms": 0.5, "throughput_seq_s": 5, "resource_fraction": 0.2},
        {"id": 4, "p99_latency_ms": 1.0, "throughput_seq_s": 10, "resource_fraction": 0.5},
    ]
    # 1 is dominated by 0 (slower, same rest); 0 and 4 are equal, neither dominates
    assert [r["id"] for r in pareto(rows)] == [0, 2, 3, 4]
    for r in rows:
        r["accuracy_drop"] = None  # an objective nobody reports is ignored
    assert [r["id"] for r in pareto(rows)] == [0, 2, 3, 4]


def test_tiny_sweep(tmp_path) -> None:
    lengths = np.random.default_rng(1).integers(5, 60, size=200)
    res = explore(DesignConfig.from_yaml(), load_board("u200"), lengths,
                  [(0.2, 0.01), (0.1, 0.03)], space=TINY_SPACE, sample=24)
    assert res["evaluated"] == 8 and res["sequences"] == 24
    assert res["valid"] == 8
    front = res["pareto"]
    assert front and all(p in res["points"] for p in front)
    assert {p["density"] for p in res["points"]} == {0.2, 0.1}
    for p in res["points"]:
        assert p["resource_fraction"] <= 1.0
        assert sum(p["allocation_at_mean_length"]) <= p["pe_groups"]
    plot_front(res, str(tmp_path / "front.png"))
    assert (tmp_path / "front.png").stat().st_size > 0


def test_ray_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(RuntimeError, match="pip install 'ray"):
        explore(DesignConfig.from_yaml(), load_board("u200"), np.full(4, 10), [(0.2, None)],
                space=TINY_SPACE, sample=4, use_ray=True)


def test_points_the_density_cannot_reach_are_skipped() -> None:
    lengths = np.full(8, 20)
    space = dict(TINY_SPACE, bo=(16,), group_share=(1.0,))
    res = explore(DesignConfig.from_yaml(), load_board("u200"), lengths, [(0.5, None)],
                  space=space, sample=8)
    assert res["evaluated"] == 1 and res["valid"] == 0  # m=4 of bi=16 tops out at 0.25


@pytest.mark.glue
def test_cli_explore_with_an_accuracy_table(glue_dir, tmp_path, monkeypatch, capsys) -> None:
    import hw.explore

    monkeypatch.setattr(hw.explore, "DEFAULT_SPACE", TINY_SPACE)
    table = tmp_path / "acc.json"
    table.write_text(json.dumps([{"task": "SST-2", "sparsity": 0.8, "value": 0.9,
                                  "baseline": 0.92}]))
    argv = ["hw", "explore", "--board", "u200", "--task", "SST-2", "--glue-dir", str(glue_dir),
            "--limit", "40", "--sample", "16", "--accuracy", str(table), "--k", "8", "16",
            "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["evaluated"] == 8 and out["figures"] == "modeled"
    assert {p["attn_k"] for p in out["points"]} == {8, 16}
    assert all(p["accuracy_drop"] == pytest.approx(0.02) for p in out["pareto"])
