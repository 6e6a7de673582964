"""The sparse attention RTL engine against the golden model, in Verilator and Icarus.

A small engine (d=8, L <= 32, k <= 4); the kept keys (tuser) and every output byte are
compared with sim/golden/sparse_attention.py. Each simulator's tests share an xdist group.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hw.config import DesignConfig
from sim.golden.nonlinear import ExpParams
from sim.golden.sparse_attention import ESTIMATE_LUT, SCORE_SCALE
from sim.rtl.attention_case import (
    AttentionParams,
    lut_hex,
    minilm_case,
    random_case,
    unpack_selection,
)
from sim.rtl.attention_sim import simulate_attention
from sim.rtl.cycles import (
    EXACT_STAGES,
    attention_cycles,
    attention_estimate_cycles,
    attention_exact_cycles,
    attention_pipeline,
    attention_query_cycles,
    attention_stage_cycles,
)
from sim.rtl.runner import ENGINES, lint
from sim.rtl.stimulus import StimulusOptions
from tests.rtl_helpers import SIMS, simulator

SMALL = AttentionParams(d=8, max_len=32, max_k=4)  # k <= 4: DIV is the longest exact stage
LONG = AttentionParams(d=4, max_len=80, max_k=2)  # L > the exact part: estimate-bound
DOT_BOUND = AttentionParams(d=8, max_len=32, max_k=16)  # as the default engine (D 32, k 16)
EXP_BOUND = AttentionParams(d=2, max_len=32, max_k=16)  # a 1-level tree: EXP outlasts DOT


@pytest.mark.parametrize("sim_name", SIMS)
def test_bit_exact_under_gaps_and_backpressure(sim_name: str) -> None:
    """Real MiniLM Q/K/V (L = 1, 13, max), ties, k = 1, L < k, with random stream gaps."""
    sim = simulator(sim_name)
    rng = np.random.default_rng(2)
    cases = [minilm_case(SMALL, n, SMALL.max_k) for n in (1, 13, SMALL.max_len)]
    cases += [random_case("ties", SMALL, 20, SMALL.max_k, rng, ties=True),
              random_case("k1", SMALL, 7, 1, rng),
              random_case("L<k", SMALL, 3, SMALL.max_k, rng)]
    rows = simulate_attention(cases, SMALL, sim, StimulusOptions(seed=4))
    assert [(r["name"], r["mismatches"], r["selection_exact"]) for r in rows] == [
        (c.name, 0, True) for c in cases]
    assert all(r["cycles"] >= r["model_cycles"] for r in rows)


@pytest.mark.parametrize("sim_name", SIMS)
def test_bit_exact_with_every_stage_held_by_backpressure(sim_name: str) -> None:
    """Output tready low 98% of the cycles: a beat waits about 50 cycles, longer than a
    query takes (29), so every exact stage fills and holds its query until the next one
    frees."""
    rng = np.random.default_rng(9)
    cases = [random_case(f"L{n}", DOT_BOUND, n, 16, rng) for n in (32, 5)]
    rows = simulate_attention(cases, DOT_BOUND, simulator(sim_name),
                              StimulusOptions(False, True, 0.98, seed=3))
    assert [(r["mismatches"], r["selection_exact"]) for r in rows] == [(0, True)] * 2
    assert rows[0]["cycles"] > rows[0]["model_cycles"] + 10 * 32  # the outputs held it


@pytest.mark.parametrize("sim_name", SIMS)
@pytest.mark.parametrize(("params", "shapes"), [
    (SMALL, ((1, 1), (2, 4), (9, 3), (32, 4))),   # exact-part-bound: the estimator stalls
    (LONG, ((80, 2), (64, 1), (70, 2))),          # estimate-bound, and near the crossing
    (DOT_BOUND, ((32, 16), (20, 16), (9, 16))),
    (EXP_BOUND, ((32, 16), (17, 16))),
], ids=["small", "long", "dot-bound", "exp-bound"])
def test_cycles_and_counters_match_formula(sim_name: str, params: AttentionParams,
                                           shapes: tuple[tuple[int, int], ...]) -> None:
    sim = simulator(sim_name)
    rng = np.random.default_rng(6)
    cases = [random_case(f"L{n}k{k}", params, n, k, rng) for n, k in shapes]
    rows = simulate_attention(cases, params, sim, StimulusOptions(False, False))
    assert all(r["bit_exact"] for r in rows)
    for c, r in zip(cases, rows, strict=True):
        assert r["cycles"] == attention_cycles(c.length, c.k, params.d)
        assert r["estimate_cycles"] == attention_estimate_cycles(c.length)
        assert r["exact_cycles"] == attention_exact_cycles(c.length, c.k, params.d)


@pytest.mark.xdist_group("rtl_verilator")
@pytest.mark.parametrize("params", [SMALL, AttentionParams.from_config(DesignConfig.from_yaml()),
                                    AttentionParams(5, 17, 3)],
                         ids=["small", "minilm-u200", "odd"])
def test_verilator_lint_wall_clean(params: AttentionParams) -> None:
    assert lint(ENGINES["attention"], params.hdl_parameters(), simulator("verilator")) == ""


def _query_latency(n: int, k: int, d: int) -> int:
    """A query alone in the exact unit: each stage's run plus the cycle of its take."""
    return sum(attention_stage_cycles(n, k, d).values()) + len(EXACT_STAGES)


def test_exact_unit_holds_each_query_its_stages() -> None:
    k, d = 16, 32
    latency = _query_latency(256, k, d)
    assert attention_query_cycles(256, k, d) == attention_stage_cycles(256, k, d)["dot"] + 2
    for n in (32, 64, 128, 256):
        busy = attention_exact_cycles(n, k, d)
        if n >= latency:  # estimate-bound: one query in the unit at a time
            assert busy == n * latency
        else:  # queries overlap in the unit, so it is busy less than the sum of them
            assert n * attention_query_cycles(n, k, d) <= busy < n * latency
    assert attention_estimate_cycles(64) == 4 * attention_estimate_cycles(32)


@pytest.mark.parametrize("d", [5, 8, 32])
def test_every_query_costs_the_larger_unit(d: int) -> None:
    """After the first, a query costs max(L, the longest exact stage), within the fill:
    the load (2L), the pipelines and the drain of the last query."""
    p = attention_pipeline(d)
    for k in (1, 4, 16):
        for n in range(1, 300, 7):
            x = attention_query_cycles(n, k, d)
            fill = 2 * n + 3 + p["q_code"] + p["est_depth"] + _query_latency(n, k, d)
            assert (n - 1) * max(n, x) + fill <= attention_cycles(n, k, d), (n, k)
            assert attention_cycles(n, k, d) <= (n - 1) * max(n, x + 1) + fill, (n, k)


def test_stages_overlap_where_one_unit_did_all_of_them() -> None:
    k, d = 16, 32
    for n in (24, 32, 64):  # exact-part-bound as one unit (latency 116 at d 32, k 16)
        one_unit = n * max(n, _query_latency(n, k, d))
        assert attention_cycles(n, k, d) < one_unit


def test_lut_file_is_the_golden_table() -> None:
    values = [int(line, 16) for line in lut_hex().split()]
    assert np.array_equal(np.array(values, dtype=np.uint8).view(np.int8), ESTIMATE_LUT)


def test_unpack_selection() -> None:
    bits = SMALL.index_bits
    tuser = [3 | 7 << bits | 1 << 2 * bits, 0 | 2 << bits]
    assert unpack_selection(tuser, 2, bits).tolist() == [[3, 7], [0, 2]]


def test_case_checks() -> None:
    case = random_case("big-k", AttentionParams(8, 32, 8), 4, 8, np.random.default_rng(0))
    with pytest.raises(ValueError, match="k=8"):
        SMALL.check_case(case)
    with pytest.raises(ValueError, match="max_k"):
        AttentionParams(8, 4, 8)
    ok = random_case("ok", SMALL, 4, 2, np.random.default_rng(0))
    SMALL.check_case(ok)
    coarse = replace(ok, quant=replace(ok.quant, exp=ExpParams.derive(SCORE_SCALE / 64)))
    with pytest.raises(ValueError, match="exp datapath"):
        SMALL.check_case(coarse)
