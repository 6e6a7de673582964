"""The encoder-layer RTL top against the golden encoder, in Verilator and Icarus.

Small builds (hidden 32, ffn 64, two layers, W = BO = BI = 8) of a seeded random BERT
quantized by the real flow, so that a build and a run fit the CI budget; the full
MiniLM layer runs in the slow test and in benchmarks/rtl_layer.py.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw.config import DesignConfig, ModelDims
from sim.rtl.cycles import field_bits
from sim.rtl.layer_case import DEST_BITS, OPS, LayerParams, build_image, deal_rows, make_case
from sim.rtl.runner import ENGINES, lint
from sim.rtl.stimulus import StimulusOptions
from tests.rtl_helpers import simulator

K = 4


def small_config(heads: int) -> DesignConfig:
    return DesignConfig(bo=8, bi=8, m=2, tile_tokens=4, attn_k=K, attn_heads_parallel=2,
                        max_length=24, bucket_edges=(8, 16, 24),
                        model=ModelDims(hidden=32, heads=heads, ffn=64, layers=2))


# (heads, groups): one head per engine with more block-rows than groups; two heads per
# engine, head rows of one word, and 8 groups, so attn_out and ffn_out (4 block-rows)
# deal token tiles over two copies of each row.
BUILDS = {"a": (2, 3), "b": (4, 8)}


@functools.cache
def _model(heads: int):
    """The seeded random BERT; build "b"'s also has empty block-rows (no kept block),
    which the engines run as null blocks (bias only)."""
    from dataclasses import replace

    from hw.hls.synthetic import synthetic_model
    from sim.rtl.spmm_case import drop_blockrows

    model = synthetic_model(small_config(heads))
    if heads == 4:
        l0, l1 = model.layers
        l0 = replace(l0, ffn_out=replace(l0.ffn_out, hp=drop_blockrows(l0.ffn_out.hp, (1,))))
        l1 = replace(l1, query=replace(l1.query, hp=drop_blockrows(l1.query.hp, (0, 2))))
        model.layers = [l0, l1]
    return model


def _setup(build: str, lengths: tuple[int, ...], seed: int = 0, layers: int = 2):
    heads, groups = BUILDS[build]
    cfg = small_config(heads)
    model = _model(heads)
    params = LayerParams.from_config(cfg, groups)
    image = build_image(model, params, layers)
    rng = np.random.default_rng(seed)
    cases = [make_case(f"random:L{n}", model, rng.integers(-128, 128, size=(n, 32)), K,
                       image.layers) for n in lengths]
    return params, image, cases


def _run(build: str, sim_name: str, lengths: tuple[int, ...], stress: bool,
         layers: int = 2) -> list[dict]:
    from sim.rtl.layer_sim import simulate_layer

    _, image, cases = _setup(build, lengths, layers=layers)
    options = StimulusOptions(input_gaps=stress, output_backpressure=stress, seed=3)
    return simulate_layer(image, cases, simulator(sim_name), options)


@pytest.mark.xdist_group("rtl_verilator")
@pytest.mark.parametrize("stress", [False, True])
def test_two_layers_bit_exact_verilator(stress: bool) -> None:
    """L = 1, a partial tile (5), a length that is not a tile multiple (13), and the
    longest (24); with and without random input gaps and output backpressure."""
    rows = _run("a", "verilator", (1, 5, 13, 24), stress)
    assert all(r["bit_exact"] for r in rows), [(r["name"], r["mismatches"]) for r in rows]
    for r in rows:
        assert sum(r["op_cycles"].values()) <= r["cycles"] + 64
        assert 0 < r["utilization"] < 1
        if not stress:  # ideal streams: the cycle model (fitted on this build) holds
            measured = sum(r["op_cycles"].values())
            assert abs(r["model_cycles"] - measured) <= 0.02 * measured, r["name"]
            assert set(r["model_op_cycles"]) == set(r["op_cycles"])


@pytest.mark.xdist_group("rtl_verilator")
def test_token_tile_split_and_heads_per_engine_verilator() -> None:
    rows = _run("b", "verilator", (1, 6, 17), stress=True)
    assert all(r["bit_exact"] for r in rows), [(r["name"], r["mismatches"]) for r in rows]


@pytest.mark.xdist_group("rtl_icarus")
def test_bit_exact_icarus() -> None:
    rows = _run("a", "icarus", (1, 5), stress=True, layers=1)  # Icarus is slow: one layer
    assert all(r["bit_exact"] for r in rows), [(r["name"], r["mismatches"]) for r in rows]


@pytest.mark.xdist_group("rtl_verilator")
@pytest.mark.parametrize("build", sorted(BUILDS))
def test_verilator_lint_wall_clean(build: str) -> None:
    params, _, _ = _setup(build, (1,))
    assert lint(ENGINES["layer"], params.hdl_parameters(), simulator("verilator")) == ""


@pytest.mark.xdist_group("rtl_verilator")
def test_default_design_lints_clean() -> None:
    params = LayerParams.from_config(DesignConfig.from_yaml(), groups=4)
    assert lint(ENGINES["layer"], params.hdl_parameters(), simulator("verilator")) == ""


# ---- dealing and packing (no simulator) ------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=40), st.integers(1, 16))
def test_deal_rows_covers_every_row_and_caps_rows(work: list[int], groups: int) -> None:
    dealt = deal_rows(work, groups)
    assert len(dealt) == groups
    n = len(work)
    if n >= groups:
        rows = sorted(r for rs, _, _ in dealt for r in rs)
        assert rows == list(range(n))
        cap = -(-n // groups)
        assert all(len(rs) <= cap and phase == 0 and nphase == 1 for rs, phase, nphase in dealt)
        loads = [sum(work[r] for r in rs) for rs, _, _ in dealt]
        assert max(loads) - min(loads) <= max(work)  # LPT: within one row's work
    else:
        copies = groups // n
        for r in range(n):
            phases = sorted(ph for rs, ph, nph in dealt if rs == [r])
            assert phases == list(range(copies))
        assert all(nph == copies for rs, _, nph in dealt if rs)


def test_capacity_holds_the_real_image_and_refuses_a_smaller_build() -> None:
    params, image, _ = _setup("b", (1,))
    assert all(g.rows <= params.g_max_nbr and g.blocks <= params.g_max_nnzb
               for g in image.groups)
    small = LayerParams(**{**params.__dict__, "g_max_nnzb": 2})
    with pytest.raises(ValueError, match="exceed the build"):
        build_image(_model(4), small)


@pytest.mark.parametrize("heads", [2, 4])  # 2 segments a head; 2 heads an engine
def test_qkv_destinations_are_distinct_and_decode(heads: int) -> None:
    """Each QKV block-row's code decodes (as encoder_layer.sv's wb_bank, wb_hl, wb_seg
    do) back to its Q/K/V matrix, head and segment, and fits DEST_W."""
    params = LayerParams.from_config(small_config(heads), 3)
    nh, dw = params.hidden // params.w, params.head_dim // params.w
    hpe = params.heads // params.engines
    sg_w, hl_w = field_bits(dw), field_bits(hpe)
    assert params.op_shape(OPS[0]) == (3 * nh, nh)
    dests = [params.qkv_dest(j) for j in range(3 * nh)]
    assert len(set(dests)) == len(dests)
    for j, code in enumerate(dests):
        assert 0 <= code < 2 ** DEST_BITS
        bank, local, seg = code >> (hl_w + sg_w), (code >> sg_w) & (2 ** hl_w - 1), \
            code & (2 ** sg_w - 1)
        which, engine = divmod(bank, params.engines)
        head = local * params.engines + engine
        assert (which, head, seg) == (j // nh, j % nh // dw, j % dw), j
        assert local < hpe and seg < dw


def test_layer_params_refuse_shapes_the_top_cannot_take() -> None:
    cfg = small_config(2)
    with pytest.raises(ValueError, match="bo == bi"):
        LayerParams.from_config(cfg.replace(bo=4), 2)
    with pytest.raises(ValueError, match="groups"):
        LayerParams.from_config(cfg, 0)


@pytest.mark.slow
def test_minilm_hp80_layer_bit_exact_at_real_lengths() -> None:
    """The packaged MiniLM, HP 80%, one layer of the default design at SST-2 dev
    lengths (1, 2, the median 24, the p95 44, a tile split 13, and 128)."""
    from hw.hls.model_source import load_source, real_sequences
    from sim.rtl.layer_sim import simulate_layer

    # 4 groups x 4 attention engines: the array benchmarks/rtl_layer.py measures
    cfg = DesignConfig.from_yaml().replace(attn_heads_parallel=4)
    src = load_source(cfg, density=0.2)
    params = LayerParams.from_config(cfg, groups=4, layers=1)
    image = build_image(src.quantized, params, 1)
    seqs, origin = real_sequences(src, [1, 2, 13, 24, 44, 128])
    cases = [make_case(f"{origin}:L{len(x)}", src.quantized, x, cfg.attn_k, 1) for x in seqs]
    rows = simulate_layer(image, cases, simulator("verilator"), StimulusOptions(False, False))
    assert all(r["bit_exact"] for r in rows), [(r["name"], r["mismatches"]) for r in rows]


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_the_estimate_deals_the_weights_as_the_image_does(build: str) -> None:
    """hw.perf's plan for HP weights (what `sbf hw estimate` times) is the plan the
    layer image loads, empty block-rows included, so the modeled cycles are the RTL's."""
    from algo.hp.model import LAYER_LINEARS
    from hw.perf.layer import layer_op_cycles, weight_plan

    heads, groups = BUILDS[build]
    params, image, _ = _setup(build, (1,))
    attrs = ("query", "key", "value", "attn_out", "ffn_in", "ffn_out")
    weights = {f"layer.{i}.{name}": getattr(layer, attr).hp
               for i, layer in enumerate(_model(heads).layers)
               for name, attr in zip(LAYER_LINEARS, attrs, strict=True)}
    planned = weight_plan(small_config(heads), weights, groups)
    assert planned.plan == image.plan and planned.nnz == image.nnz
    for length in (1, 5, 24):
        assert layer_op_cycles(planned, length, K) == layer_op_cycles(image, length, K)
