"""Length buckets: the DP is exactly optimal (brute force), and the padding figures are exact."""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algo.buckets import SlotCost, evaluate, optimal_edges, tile_overhead

SMALL_MAX = 10


def brute_force_cost(lengths: np.ndarray, n: int, top: int, cost: SlotCost) -> float:
    """Least cost over every choice of n-1 integer edges below `top` (plus `top` itself)."""
    free = min(n - 1, top - 1)
    return min(evaluate(lengths, (*edges, top), top, cost).cost
               for edges in itertools.combinations(range(1, top), free))


@settings(max_examples=150, deadline=None)
@given(
    lengths=st.lists(st.integers(1, SMALL_MAX), min_size=1, max_size=30),
    n=st.integers(1, 5),
    pad_top=st.booleans(),
    attention=st.sampled_from([0.0, 0.5, 2.0]),
)
def test_dp_equals_brute_force(lengths: list[int], n: int, pad_top: bool,
                               attention: float) -> None:
    arr = np.array(lengths)
    top = SMALL_MAX if pad_top else int(arr.max())
    cost = SlotCost(1.0, attention)
    plan = optimal_edges(arr, n, top, cost)
    assert plan.edges[-1] == top and len(plan.edges) <= n
    assert plan.cost == brute_force_cost(arr, n, top, cost)
    assert plan == evaluate(arr, plan.edges, top, cost)


def test_evaluate_exact_numbers() -> None:
    lengths = np.array([3, 5, 5, 9])
    plan = evaluate(lengths, (5, 10), 10)
    assert plan.counts == (3, 1)
    assert plan.real_tokens == 22 and plan.padded_slots == 25
    assert plan.padding_fraction == 3 / 25
    assert plan.pad_to_max_fraction == 1 - 22 / 40
    assert evaluate(lengths, (5, 10), 10, SlotCost(0.0, 1.0)).cost == 3 * 25 + 100


def test_optimal_edges_small_case() -> None:
    # Lengths 1 x9 and 10 x1: one free edge belongs at 1.
    plan = optimal_edges(np.array([1] * 9 + [10]), 2)
    assert plan.edges == (1, 10) and plan.padding_fraction == 0.0


def test_fewer_distinct_lengths_than_buckets() -> None:
    plan = optimal_edges(np.array([4, 4, 7]), 5, 8)
    assert plan.edges == (4, 7, 8)


def test_tile_overhead_exact() -> None:
    assert tile_overhead(np.array([1, 8, 9]), 8) == 14 / 32
    assert tile_overhead(np.array([8, 16]), 8) == 0.0


@pytest.mark.parametrize("bad", [
    dict(lengths=np.array([], dtype=np.int64), n=2),
    dict(lengths=np.array([0, 3]), n=2),
    dict(lengths=np.array([3, 4]), n=0),
    dict(lengths=np.array([3, 40]), n=2, max_length=32),
])
def test_bad_inputs_raise(bad: dict) -> None:
    with pytest.raises(ValueError):
        optimal_edges(**bad)


def test_slot_cost_rejects_zero() -> None:
    with pytest.raises(ValueError, match="SlotCost"):
        SlotCost(0.0, 0.0)


@pytest.mark.glue
def test_cli_sst2_dev(glue_dir, tmp_path) -> None:
    from algo.buckets_cli import register, run
    from host.cli import Cli

    parser = argparse.ArgumentParser()
    register(Cli(parser))
    plot = tmp_path / "hist.png"
    args = parser.parse_args(["buckets", "--task", "SST-2", "--split", "dev", "--n", "4",
                              "--glue-dir", str(glue_dir), "--plot", str(plot), "--json"])
    out = run(args)
    assert out["edges"][-1] == 128 and len(out["edges"]) == 4
    assert out["pad_to_max_fraction"] == pytest.approx(0.80, abs=0.01)
    assert out["padding_fraction"] < out["pad_to_max_fraction"]
    assert 0.0 < out["tile_overhead"] < out["padding_fraction"]
    assert plot.stat().st_size > 0
