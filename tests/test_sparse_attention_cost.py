"""The attention cost model: exact MAC counts, linear growth of the exact part for fixed k."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from algo.attention.cost import attention_macs, growth_exponent
from tests.bench_helpers import load_benchmark


def test_counts() -> None:
    m = attention_macs(64, heads=12, head_dim=32, k=16)
    assert (m.k, m.dense, m.estimate, m.exact) == (16, 2 * 12 * 64 * 64 * 32,
                                                   12 * 64 * 64 * 32, 2 * 12 * 64 * 16 * 32)
    assert attention_macs(8, 1, 4, k=16).exact == attention_macs(8, 1, 4, k=8).dense
    assert attention_macs(100, 1, 4, fraction=0.1, k_min=16).k == 16


def test_exponents() -> None:
    lengths = [16, 32, 64, 128, 256, 512]
    exact = [attention_macs(L, 12, 32, k=16).exact for L in lengths]
    dense = [attention_macs(L, 12, 32, k=16).dense for L in lengths]
    assert growth_exponent(lengths, exact) == pytest.approx(1.0, abs=1e-9)
    assert growth_exponent(lengths, dense) == pytest.approx(2.0, abs=1e-9)


def test_benchmark_writes_json_and_plot(tmp_path: Path) -> None:
    module = load_benchmark("attention_cost")
    assert module.main(["--out-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "attention_cost.json").read_text())
    assert result["kind"] == "modeled"
    fixed = [v for v in result["variants"] if "k" in v]
    assert len(fixed) == len(module.FIXED_K)
    assert all(v["exponent_exact"] == pytest.approx(1.0, abs=1e-9) for v in fixed)
    assert (tmp_path / "attention_cost.png").stat().st_size > 0
