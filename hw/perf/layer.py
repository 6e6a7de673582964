"""The encoder-layer top's cycles per operator (the hw.perf model of the RTL machine),
built from what its engines do.

Each operator of hw/rtl/encoder_layer.sv is the engines' own exact formulas plus the
layer's glue, which is what the calibration constants (`LAYER_OVERHEAD`, fitted to
Verilator runs by benchmarks/rtl_layer.py and checked on held-out lengths and array
sizes there and in tests/test_rtl_layer.py) stand for:
  input     one word per cycle into the x buffer
  linears   the busiest group's hp_spmm run (sim/rtl/cycles.py:spmm_cycles on its rows
            and the tokens of its tiles), since the activations are broadcast to all
            groups tile by tile and the slowest sets the pace; plus counting its tiles,
            the buffer reader's latency and the output write (and GELU for FFN1)
  attention the heads of one engine one after another (attention_cycles each), plus the
            start of each head and the context writer
  LayerNorm residual_layernorm's formula (sim/rtl/vector_case.py:layernorm_cycles) over
            the L tokens, plus the buffer readers
"""

from __future__ import annotations

from hw.config import DesignConfig, ModelDims
from sim.rtl.cycles import attention_cycles, spmm_cycles, tile_sizes
from sim.rtl.layer_case import OPS, PERF_KINDS, LayerImage, LayerParams
from sim.rtl.vector_case import gelu_cycles, layernorm_cycles

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
    """The busiest group's hp_spmm run of one linear operator (glue not included)."""
    p = image.params
    cfg = _spmm_config(p)
    in_features = p.op_shape(op)[1] * p.w
    worst = 0
    for counts, phase, nphase in image.plan[layer][op]:
        tokens = own_tokens(length, p.t, phase, nphase)
        if counts and tokens:
            worst = max(worst, spmm_cycles(tokens, counts, cfg, in_features))
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
