"""The length-aware scheduler, pinned on examples small enough to check by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from boards.loader import load_board
from hw.config import DesignConfig
from hw.perf.model import build_design
from hw.perf.ops import ENCODER_OPS, uniform_weights
from hw.sched import POLICIES, compare, make_pipeline, schedule_trace
from hw.sched.dag import Dag, encoder_dag, priorities, priority_order
from hw.sched.policies import LENGTH_AWARE, PAD_TO_BATCH_MAX, PAD_TO_MAX, plan
from hw.sched.simulate import SimSeq, simulate
from hw.sched.stages import allocate, partition

# a -> b -> d, a -> c -> d
DIAMOND = {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")}
DIAMOND_W = {"a": 1.0, "b": 2.0, "c": 5.0, "d": 1.0}


def test_priority_recursion_on_a_diamond() -> None:
    dag = Dag.from_deps(DIAMOND)
    p = priorities(dag, DIAMOND_W.__getitem__)
    # P(d) = 1; P(b) = 2 + 1; P(c) = 5 + 1; P(a) = 1 + max(3, 6)
    assert p == {"d": 1.0, "b": 3.0, "c": 6.0, "a": 7.0}
    assert priority_order(dag, p) == ("a", "c", "b", "d")


def test_priority_recursion_on_the_encoder_layer() -> None:
    dag = encoder_dag()
    w = {op.name: float(i + 1) for i, op in enumerate(ENCODER_OPS)}  # q=1 ... ln2=9
    p = priorities(dag, w.__getitem__)
    assert p["ln2"] == 9
    assert p["ffn2"] == 8 + 9
    assert p["attn"] == 4 + 5 + 6 + 7 + 8 + 9
    assert p["q"] == 1 + p["attn"] and p["v"] == 3 + p["attn"]
    assert priority_order(dag, p)[:3] == ("v", "k", "q")


def test_dag_rejects_cycles_and_unknown_nodes() -> None:
    with pytest.raises(ValueError, match="cycle"):
        Dag.from_deps({"a": ("b",), "b": ("a",)})
    with pytest.raises(ValueError, match="unknown node 'z'"):
        Dag.from_deps({"a": ("z",)})


def test_partition_minimises_the_heaviest_stage() -> None:
    w = {"a": 3, "b": 1, "c": 1, "d": 2, "e": 3}
    # best max is 4: {a}{b,c,d}{e} and {a,b}{c,d}{e} both reach it; the earliest cut wins
    assert partition("abcde", w, 3) == (("a",), ("b", "c", "d"), ("e",))
    assert partition("abcde", w, 1) == (tuple("abcde"),)
    assert partition("abcde", w, 5) == tuple((x,) for x in "abcde")
    with pytest.raises(ValueError, match="stages"):
        partition("ab", w, 3)


def test_allocation_by_hand() -> None:
    work = (6, 3, 2)

    def time(stage: int, groups: int) -> float:
        return math.ceil(work[stage] / groups)

    # (1,1,1): 6,3,2 -> stage 0 gets one: (2,1,1) 3,3,2 -> stage 0 (tie, lower index):
    # (3,1,1) 2,3,2 -> stage 1: (3,2,1) 2,2,2, all 6 groups used
    assert allocate(time, 3, 6) == (3, 2, 1)
    assert allocate(time, 3, 3) == (1, 1, 1)
    with pytest.raises(ValueError, match="pe_groups"):
        allocate(time, 3, 2)


def test_allocation_skips_plateaus_and_leaves_useless_groups_idle() -> None:
    work = (4, 1)

    def time(stage: int, groups: int) -> float:
        return math.ceil(work[stage] / groups)

    # (1,1): 4,1 -> (2,1): 2,1; a third group does not help stage 0 (ceil(4/3) = 2) and
    # the fourth, which would, is not there: one group stays idle
    assert allocate(time, 2, 4) == (2, 1)
    # with one more group the bottleneck takes two at once: (4,1), 1 and 1
    assert allocate(time, 2, 5) == (4, 1)


def _toy_sim(seqs: list[SimSeq], switch: int = 0) -> object:
    """2 stages x 2 layers; stage s takes (s+1) * length cycles; longer sequences first."""
    return simulate(seqs, n_layers=2, n_stages=2,
                    stage_cycles=lambda seg, layer, stage, length: (stage + 1) * length,
                    units=lambda seg: (1, 1), priority=lambda layer, stage, length: length,
                    window=2, total_units=2, switch=lambda a, b: switch)


def test_simulator_on_a_hand_checked_trace() -> None:
    # A (L=2), B (L=1), both admitted at 0. Timeline:
    # s0: A.l0 [0,2)  B.l0 [2,3)  A.l1 [6,8)  B.l1 [8,9)
    # s1: A.l0 [2,6)  B.l0 [6,8)  A.l1 [8,12) B.l1 [12,14)
    r = _toy_sim([SimSeq(0, 2, 2, 0, 0), SimSeq(1, 1, 1, 0, 1)])
    spans = sorted((j.stage, j.start, j.end, j.seq, j.layer) for j in r.jobs)
    assert spans == [(0, 0, 2, 0, 0), (0, 2, 3, 1, 0), (0, 6, 8, 0, 1), (0, 8, 9, 1, 1),
                     (1, 2, 6, 0, 0), (1, 6, 8, 1, 0), (1, 8, 12, 0, 1), (1, 12, 14, 1, 1)]
    assert r.finish.tolist() == [12, 14]
    assert r.makespan == 14
    assert r.latency.tolist() == [12, 14]
    assert r.useful == r.busy == 12 + 6
    assert r.slot_utilization == pytest.approx(18 / (2 * 14))


def test_simulator_counts_padding_as_wasted() -> None:
    # B padded to 2 runs like A; useful work stays that of length 1
    r = _toy_sim([SimSeq(0, 2, 2, 0, 0), SimSeq(1, 1, 2, 0, 0)])
    assert r.busy == 2 * 12 and r.useful == 12 + 6
    # one release group: both results come back when the batch finishes
    assert r.latency.tolist() == [r.makespan, r.makespan]


def test_simulator_drains_between_segments_and_pays_the_switch() -> None:
    # A alone: 0..12; the pipeline drains, waits 5 cycles, then B: 17 + 1 + 2 + 1 + 2 = 23
    r = _toy_sim([SimSeq(0, 2, 2, 0, 0), SimSeq(1, 1, 1, 1, 1)], switch=5)
    assert r.admit.tolist() == [0, 17]
    assert r.finish.tolist() == [12, 23]
    assert r.makespan == 23


def test_plan_orders_and_pads() -> None:
    lengths = np.array([5, 30, 12, 40, 7])
    seqs, bal = plan(PAD_TO_BATCH_MAX, lengths, 64, 2, (16, 64))
    assert [s.run_length for s in seqs] == [30, 30, 40, 40, 7]
    assert [s.release for s in seqs] == [0, 0, 1, 1, 2]
    seqs, bal = plan(PAD_TO_MAX, lengths, 64, 2, (16, 64))
    assert {s.run_length for s in seqs} == {64} and set(bal.values()) == {64}
    seqs, bal = plan(LENGTH_AWARE, lengths, 64, 2, (16, 64))
    # bucket 16 first (12, 7, 5: longest first), then bucket 64 (40, 30)
    assert [s.seq for s in seqs] == [2, 4, 0, 3, 1]
    assert [s.run_length for s in seqs] == [12, 7, 5, 40, 30]
    assert bal == {16: 8, 64: 35}
    with pytest.raises(ValueError, match="policy"):
        plan("fifo", lengths, 64, 2, (16, 64))


@pytest.fixture(scope="module")
def design() -> object:
    cfg = DesignConfig.from_yaml().replace(attn_heads_parallel=12)  # one engine per head
    return build_design(cfg, load_board("u200"), uniform_weights(cfg, 0.2))


def test_policies_on_a_skewed_trace(design: object) -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(8, 48, size=48)
    pipe = make_pipeline(design, round(float(lengths.mean())))
    assert sum(len(s) for s in pipe.stages) == len(ENCODER_OPS)
    runs = compare(pipe, lengths, batch=8)
    m = {p: r.metrics(design.clock_hz) for p, r in runs.items()}
    assert set(m) == set(POLICIES)
    for v in m.values():
        assert 0 < v["slot_utilization"] <= v["busy_utilization"] <= 1
    assert m[LENGTH_AWARE]["throughput_seq_s"] > m[PAD_TO_BATCH_MAX]["throughput_seq_s"] \
        > m[PAD_TO_MAX]["throughput_seq_s"]
    assert m[LENGTH_AWARE]["slot_utilization"] > m[PAD_TO_BATCH_MAX]["slot_utilization"] \
        > m[PAD_TO_MAX]["slot_utilization"]
    table = runs[LENGTH_AWARE].table()
    assert sorted(row["seq"] for row in table) == list(range(48))
    edges = design.cfg.bucket_edges
    for row in table:  # each sequence in the smallest bucket that holds it
        assert row["bucket"] == min(e for e in edges if e >= row["length"])
    assert all(sum(row["groups"]) <= design.groups for row in table)
    json.dumps(table)
    assert schedule_trace(design, lengths.tolist()) == m[LENGTH_AWARE]
