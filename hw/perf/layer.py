"""The encoder-layer top's cycles per operator (the hw.perf model of the RTL machine),
built from what its engines do.

Each operator of hw/rtl/encoder_layer.sv is the engines' own exact formulas plus the
layer's glue, which is what the calibration constants (`LAYER_OVERHEAD`, fitted to
Verilator runs by benchmarks/rtl_layer.py and checked on held-out lengths and array
sizes there and in tests/test_rtl_layer.py) stand for:
  input     one word per cycle into the x buffer
  linears   the busiest group's hp_spmm run (sim/rtl/cycles.py:spmm_cycles on its rows
            and the tokens of its tiles), since the activations are broadcast to all
            groups tile by tile and the slowest sets the pace; plus the output arbiter's
            wait where the groups outnumber a block-row's kept blocks; plus counting its
            tiles, the buffer reader's latency and the output write (and GELU for FFN1)
  attention the heads of one engine one after another (attention_cycles each), plus the
            start of each head and the context writer
  LayerNorm residual_layernorm's formula (sim/rtl/vector_case.py:layernorm_cycles) over
            the L tokens, plus the buffer readers
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from algo.hp import HPMatrix
from hw.config import DesignConfig, ModelDims
from hw.perf.ops import ATTN_OUT_W, FFN1_W, FFN2_W, K_W, Q_W, V_W
from sim.golden.nonlinear import GAMMA_BITS
from sim.golden.requant import MULT_BITS
from sim.rtl.cycles import attention_cycles, spmm_cycles, tile_sizes
from sim.rtl.layer_case import (
    LANE_BITS,
    OPS,
    PERF_KINDS,
    LayerImage,
    LayerParams,
    mac_lanes,
    op_lanes,
    op_macs,
    op_plan,
)
from sim.rtl.vector_case import BIAS_BYTES, SHIFT_W, gelu_cycles, layernorm_cycles

# The encoder linears behind each operator of the layer top, in its block-row order.
OP_LINEARS = {"qkv": (Q_W, K_W, V_W), "attn_out": (ATTN_OUT_W,), "ffn_in": (FFN1_W,),
              "ffn_out": (FFN2_W,)}

# Cycles of glue per operator kind (per head for attention), from the Verilator fit of
# benchmarks/rtl_layer.py (results in benchmarks/results/rtl_layer.json).
LAYER_OVERHEAD = {"input": 2, "qkv": 13, "attention": 8, "attention_head": 2,
                  "attn_out": 6, "ln1": 4, "ffn_in": 6, "ffn_out": 6, "ln2": 4}


def _spmm_config(p: LayerParams) -> DesignConfig:
    return DesignConfig(bo=p.w, bi=p.w, m=p.m, tile_tokens=p.t, attn_k=p.max_k,
                        attn_heads_parallel=p.engines, max_length=p.max_len,
                        bucket_edges=(p.max_len,),
                        model=ModelDims(hidden=p.hidden, heads=p.heads, ffn=p.ffn,
                                        layers=p.max_layers))


def own_tokens(length: int, tile: int, phase: int, nphase: int) -> int:
    """Tokens of the tiles k with k mod nphase == phase (spmm_group.sv's S_COUNT)."""
    return sum(n for k, n in enumerate(tile_sizes(length, tile)) if k % nphase == phase)


def linear_cycles(image: LayerImage, layer: int, op: str, length: int) -> int:
    """The busiest group's hp_spmm run of one linear operator (glue not included), and
    the wait for the output arbiter: it writes one beat per cycle, and the groups finish
    their block-rows together, so a block-row of c kept blocks (one null block if none)
    costs each token max(c, active groups) cycles instead of c."""
    p = image.params
    cfg = _spmm_config(p)
    in_features = p.op_shape(op)[1] * p.w
    runs = [(counts, own_tokens(length, p.t, phase, nphase))
            for counts, phase, nphase in image.plan[layer][op]]
    runs = [r for r in runs if r[0] and r[1]]
    active = len(runs)
    worst = 0
    for counts, tokens in runs:
        wait = sum(max(0, active - max(c, 1)) for c in counts) * tokens
        worst = max(worst, spmm_cycles(tokens, counts, cfg, in_features) + wait)
    return worst


def layer_op_cycles(image: LayerImage, length: int, k: int) -> dict[str, int]:
    """Modeled cycles of each operator kind, summed over the image's layers
    (the keys of encoder_layer.sv's perf_cycles)."""
    p = image.params
    c = LAYER_OVERHEAD
    ntiles = len(tile_sizes(length, p.t))
    out = dict.fromkeys(PERF_KINDS, 0)
    out["input"] = length * p.hidden // p.w + c["input"]
    heads_per_engine = p.heads // p.engines
    for layer in range(image.layers):
        for op in OPS:
            extra = gelu_cycles(1) if op == "ffn_in" else 0
            out[op] += linear_cycles(image, layer, op, length) + ntiles + extra + c[op]
        out["attention"] += (heads_per_engine * (attention_cycles(length, k, p.head_dim)
                                                 + c["attention_head"]) + c["attention"])
        for ln in ("ln1", "ln2"):
            out[ln] += layernorm_cycles(length, p.hidden, p.w) + c[ln]
    return out


def weight_plan(cfg: DesignConfig, weights: Mapping[str, HPMatrix], groups: int) -> LayerImage:
    """What the layer top would run for these HP weights on `groups` PE groups, dealt as
    `build_image` deals them; only the plan (no packed bytes), which is all the cycle
    model reads. Weights need only their block structure (`hw.perf.ops.uniform_weights`
    will do)."""
    p = LayerParams.from_config(cfg, groups)
    plan: list[dict[str, list[tuple[list[int], int, int]]]] = []
    nnz: list[dict[str, int]] = []
    for layer in range(cfg.model.layers):
        plan.append({})
        nnz.append({})
        for op, names in OP_LINEARS.items():
            hps = [weights[f"layer.{layer}.{n}"] for n in names]
            blocks = [int(b) for hp in hps for b in np.diff(hp.block_ptr)]
            nnz[layer][op] = sum(hp.nnzb for hp in hps) * p.w * p.m
            plan[layer][op] = op_plan(blocks, groups)[1]
    return LayerImage(p, cfg.model.layers, [], b"", b"", b"", nnz, plan)


def layer_report(image: LayerImage, length: int, k: int) -> dict[str, object]:
    """Cycles, useful MACs and lane utilisation per operator kind for one sequence."""
    cycles = layer_op_cycles(image, length, k)
    macs = op_macs(image, length, k)
    lanes = op_lanes(image.params)
    per_op = {op: {"cycles": cycles[op], "macs": macs[op], "lanes": lanes[op],
                   "utilization": (macs[op] / (cycles[op] * lanes[op])
                                   if lanes[op] and cycles[op] else None)}
              for op in PERF_KINDS}
    total = sum(cycles.values())
    return {"cycles": total, "macs": sum(macs.values()), "per_op": per_op,
            "utilization": sum(macs.values()) / (total * mac_lanes(image.params))}


def group_capacity(image: LayerImage) -> tuple[int, int]:
    """(block-rows, kept blocks) the busiest group stores: the G_MAX_NBR and G_MAX_NNZB a
    build sized for these weights would need (an empty row stores no block), beside the
    dense capacity the build has."""
    rows = [0] * image.params.groups
    blocks = [0] * image.params.groups
    for per_layer in image.plan:
        for dealt in per_layer.values():
            for g, (counts, _, _) in enumerate(dealt):
                rows[g] += len(counts)
                blocks[g] += sum(counts)
    return max(2, max(rows)), max(2, max(blocks))


def layer_memories(p: LayerParams) -> list[tuple[int, int]]:
    """(depth, width) of what encoder_layer.sv holds once: x, ctx and ln1 (hidden words),
    the FFN intermediate, the 16-bit residual, each engine's Q, K and V banks, and the
    LayerNorm (amem, nmem: a set per LayerNorm of every layer) and GELU (chan_mem: a set
    per layer) parameter memories."""
    words_h, words_f = p.hidden // p.w, p.ffn // p.w
    bank = max(2, p.max_len * (p.heads // p.engines))
    requant_w = MULT_BITS + SHIFT_W
    ln_sets, gelu_sets = p.layernorm().max_sets, p.gelu().max_sets
    return ([(p.max_len * words_h, p.w * 8)] * 3
            + [(p.max_len * words_f, p.w * 8), (p.max_len * words_h, p.w * LANE_BITS)]
            + [(bank, p.head_dim * 8)] * (3 * p.engines)
            + [(ln_sets * words_h, p.w * requant_w),
               (ln_sets * words_h, p.w * (GAMMA_BITS + 8 * BIAS_BYTES + requant_w)),
               (gelu_sets * words_f, p.w * requant_w)])


def layer_resources(cfg: DesignConfig, image: LayerImage) -> dict[str, Any]:
    """What the layer top is made of, per kind: a PE group (hp_spmm sized for its share
    of the weights, Yosys-calibrated where the calibration covers hp_spmm), one attention
    engine, and what the top holds once (LayerNorm and GELU units, its buffers)."""
    from hw.perf.engines import AttentionEngine, Resources, SpmmEngine
    from hw.perf.synth_model import calibrated, memories_bram36, memories_uram, spmm_memories
    from sim.rtl.spmm_case import SpmmParams

    p = image.params
    rows, blocks = group_capacity(image)
    # the build as LayerParams.from_config sizes it (for dense weights, so one bitstream
    # takes any pruning of the model), or, with weight_capacity "model", for these weights
    cap_rows, cap_blocks = ((rows, blocks) if cfg.weight_capacity == "model"
                            else (p.g_max_nbr, p.g_max_nnzb))
    params = SpmmParams.from_config(cfg).hdl_parameters() | {
        "MAX_NBR": cap_rows, "MAX_NNZB": cap_blocks, "MAX_NBC": max(p.hidden, p.ffn) // p.w}
    fit = calibrated("spmm", params)
    if fit is None:
        eng = SpmmEngine(cfg, (), cfg.model.hidden)
        mems = spmm_memories(params)
        group = Resources(eng.dsp(), eng.lut(), math.ceil(memories_bram36(mems)),
                          memories_uram(mems), eng.ff())
    else:
        group = Resources(*(math.ceil(fit[k]) for k in ("dsp", "lut", "bram", "uram", "ff")))
    attn = AttentionEngine(cfg)
    engine = Resources(attn.dsp(), attn.lut(), attn.bram(), attn.uram(), attn.ff())
    logic = unit_logic(p.w)
    buffers = layer_memories(p)
    shared = Resources(math.ceil(logic["dsp"]), math.ceil(logic["lut"]),
                       math.ceil(memories_bram36(buffers)), memories_uram(buffers),
                       math.ceil(logic["ff"]))
    return {"group": group, "attention_engine": engine, "shared": shared,
            "group_capacity": {"sized_for": cfg.weight_capacity, "block_rows": cap_rows,
                               "kept_blocks": cap_blocks, "used_block_rows": rows,
                               "used_kept_blocks": blocks},
            "source": f"hw.perf.layer: hp_spmm at the build's group capacity "
                      f"({'these' if cfg.weight_capacity == 'model' else 'dense'} weights) "
                      f"({'Yosys-calibrated' if fit else 'analytical'}), the attention "
                      "engine as hw.perf.engines, LayerNorm/GELU logic from one Yosys "
                      "point each scaled by lanes (hw/perf/synth_units.json), buffers and "
                      "parameter memories in BRAM36 or URAM as `synth_xilinx -uram` picks them "
                      "(hw.perf.synth_model.memory_blocks)"}


def unit_logic(lanes: int) -> dict[str, float]:
    """LUT, FF and DSP of the top's LayerNorm and GELU units at `lanes` lanes: their Yosys
    counts at the default design (hw/perf/synth_units.json, one point each) scaled by
    lanes; their memories are counted in `layer_memories` instead (LUT-RAM stays in)."""
    from hw.perf.synth_model import unit_rows

    out = dict.fromkeys(("lut", "ff", "dsp"), 0.0)
    for row in unit_rows().values():
        scale = lanes / row["parameters"]["LANES"]
        c = row["counts"]
        for key, got in (("lut", c["lut_total"]), ("ff", c["ff"]), ("dsp", c["dsp"])):
            out[key] += got * scale
    return out
