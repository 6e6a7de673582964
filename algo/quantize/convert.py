"""Float BERT (dense or HP-pruned) + calibration statistics -> the integer `QuantizedModel`.

Weights: symmetric int8 per output row, scale max|W_row| / 127. Biases: int32 at the
accumulator scale s_in * s_w. Activations: one static scale per tensor from calibration,
max|x| / 127 for int8 tensors and WIDE_MARGIN * max|x| / 32767 for the 16-bit ones
(residual sums, GELU input), which have bits to spare for values beyond the calibration
set. Every rescale between two scales is an integer (mult, shift) from
`quantize_multiplier`; the nonlinear constants come from `sim.golden.nonlinear`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from algo.hp.format import HPMatrix, decode, encode
from algo.hp.mask import HPShape
from algo.hp.model import LAYER_LINEARS, encoder_linears, encoder_prefix
from hw.config import DesignConfig
from sim.golden.nonlinear import (
    GAMMA_BITS,
    LN_NORM_BITS,
    PROB_BITS,
    ExpParams,
    GeluParams,
    LayerNormParams,
)
from sim.golden.params import (
    ACT_BITS,
    GELU_IN_BITS,
    RES_BITS,
    SCORE_BITS,
    SCORE_SCALE,
    QAttention,
    QEncoderLayer,
    QLinear,
    QuantizedModel,
    Requant,
)
from sim.golden.requant import ACC_MAX, ACC_MIN, quantize_multiplier, quantize_multipliers

if TYPE_CHECKING:
    import torch

WEIGHT_BITS = 8
WEIGHT_MAX = (1 << (WEIGHT_BITS - 1)) - 1  # symmetric: -127..127
# Headroom of the 16-bit tensors over their calibrated maximum.
WIDE_MARGIN = 2.0


def act_scale(max_abs: float, bits: int) -> float:
    """The scale of a signed `bits`-wide tensor whose calibrated max |x| is `max_abs`."""
    qmax = (1 << (bits - 1)) - 1
    margin = 1.0 if bits == ACT_BITS else WIDE_MARGIN
    if not max_abs > 0:
        raise ValueError(f"calibrated max |x| must be > 0, got {max_abs}")
    return margin * max_abs / qmax


def quantize_weight(hp: HPMatrix) -> tuple[HPMatrix, np.ndarray]:
    """int8 HP values with the same pattern, and the per-output-row scales (float64 [out])."""
    row_max = np.abs(decode(hp).astype(np.float64)).max(axis=1)
    scale = np.where(row_max > 0, row_max / WEIGHT_MAX, 1.0)  # an all-zero row stays zero
    rows = hp.block_rows()[:, None, None] * hp.shape.bo + np.arange(hp.shape.bo)[None, :, None]
    q = np.clip(np.round(hp.values / scale[rows]), -WEIGHT_MAX, WEIGHT_MAX).astype(np.int8)
    return hp.with_values(q), scale


def quantize_linear(hp: HPMatrix, bias: np.ndarray, s_in: float, s_out: float,
                    out_bits: int = ACT_BITS) -> QLinear:
    """An HP float linear (y = W x + b) with input scale s_in -> QLinear to s_out."""
    qhp, s_w = quantize_weight(hp)
    acc_scale = s_in * s_w
    qbias = np.clip(np.round(np.asarray(bias, np.float64) / acc_scale), ACC_MIN, ACC_MAX)
    mult, shift = quantize_multipliers(acc_scale / s_out)
    return QLinear(qhp, qbias.astype(np.int64), mult, shift, out_bits)


def quantize_layernorm(gamma: np.ndarray, beta: np.ndarray, s_out: float,
                       out_bits: int = ACT_BITS) -> LayerNormParams:
    """Integer gamma (GAMMA_BITS, one scale), beta at the accumulator scale, final requant."""
    gamma = np.asarray(gamma, np.float64)
    gmax = float(np.abs(gamma).max())
    s_gamma = (gmax if gmax > 0 else 1.0) / ((1 << (GAMMA_BITS - 1)) - 1)
    s_acc = math.sqrt(gamma.shape[0]) / (1 << LN_NORM_BITS) * s_gamma
    beta_int = np.clip(np.round(np.asarray(beta, np.float64) / s_acc), ACC_MIN, ACC_MAX)
    mult, shift = quantize_multiplier(s_acc / s_out)
    return LayerNormParams(np.round(gamma / s_gamma).astype(np.int64), beta_int.astype(np.int64),
                           mult, shift, out_bits)


def dense_hp(weight: np.ndarray, shape: HPShape) -> HPMatrix:
    """A dense weight as HP storage with every block kept and m = bi."""
    full = HPShape(shape.bo, shape.bi, shape.bi)
    return encode(weight, np.ones(weight.shape, dtype=bool), full)


def layer_scales(stats: dict[str, float], i: int) -> dict[str, float]:
    """The real scale of every integer tensor of layer i, from the calibration maxima."""
    def mx(*names: str) -> float:
        return max(stats[f"layer.{i}.{n}"] for n in names)

    return {
        "input": act_scale(mx("input"), ACT_BITS),
        "query": act_scale(mx("query"), ACT_BITS),
        "key": act_scale(mx("key"), ACT_BITS),
        "value": act_scale(mx("value"), ACT_BITS),
        "context": act_scale(mx("context"), ACT_BITS),
        # a residual scale covers the branch, the skip and their sum
        "residual1": act_scale(mx("attn_out", "residual1", "input"), RES_BITS),
        "ln1": act_scale(mx("ln1"), ACT_BITS),
        "ffn_in": act_scale(mx("ffn_in"), GELU_IN_BITS),
        "ffn_mid": act_scale(mx("ffn_mid"), ACT_BITS),
        "residual2": act_scale(mx("ffn_out", "residual2", "ln1"), RES_BITS),
        "output": act_scale(mx("output"), ACT_BITS),
    }


def quantize_model(model: torch.nn.Module, stats: dict[str, float],
                   hp_layers: dict[str, HPMatrix] | None = None,
                   dense_shape: HPShape | None = None) -> QuantizedModel:
    """The integer model of `model` (its weights as HP float storage, or dense).

    `hp_layers` (from `prune_model_oneshot` or an HP artifact) gives the pruned layers;
    any encoder linear not in it is stored dense (every block kept, m = bi) with the
    block geometry of `dense_shape` (default: the default DesignConfig's bo x bi).
    Consecutive layers share a scale: layer i+1's input scale is layer i's output scale,
    so no rescale sits between layers.
    """
    hp_layers = dict(hp_layers or {})
    if dense_shape is None:
        cfg_hw = DesignConfig()
        dense_shape = HPShape(cfg_hw.bo, cfg_hw.bi, cfg_hw.bi)
    prefix = encoder_prefix(model)
    linears = encoder_linears(model)
    cfg = model.config
    heads, hidden = cfg.num_attention_heads, cfg.hidden_size
    n_layers = len(linears) // len(LAYER_LINEARS)
    layers, scales = [], {}
    prev_out: float | None = None
    for i in range(n_layers):
        s = layer_scales(stats, i)
        if prev_out is not None:  # the chain: this layer reads the last one's output
            s["input"] = prev_out
        scales.update({f"layer.{i}.{k}": v for k, v in s.items()})

        def lin(rel: str, s_in: float, s_out: float, bits: int = ACT_BITS,
                i: int = i) -> QLinear:
            name = f"layer.{i}.{rel}"
            mod = linears[name]
            w = mod.weight.detach().cpu().numpy().astype(np.float32)
            hp = hp_layers[name] if name in hp_layers else dense_hp(w, dense_shape)
            return quantize_linear(hp, mod.bias.detach().cpu().numpy(), s_in, s_out, bits)

        def ln(owner: str, s_out: float, i: int = i) -> LayerNormParams:
            norm = model.get_submodule(f"{prefix}layer.{i}.{owner}.LayerNorm")
            return quantize_layernorm(norm.weight.detach().cpu().numpy(),
                                      norm.bias.detach().cpu().numpy(), s_out)

        d = hidden // heads
        gelu = GeluParams.derive(s["ffn_in"])
        layers.append(QEncoderLayer(
            query=lin("attention.self.query", s["input"], s["query"]),
            key=lin("attention.self.key", s["input"], s["key"]),
            value=lin("attention.self.value", s["input"], s["value"]),
            attention=QAttention(
                heads=heads,
                score=Requant.derive(s["query"] * s["key"] / math.sqrt(d), SCORE_SCALE,
                                     SCORE_BITS),
                exp=ExpParams.derive(SCORE_SCALE),
                context=Requant.derive(s["value"] / (1 << PROB_BITS), s["context"], ACT_BITS)),
            attn_out=lin("attention.output.dense", s["context"], s["residual1"], RES_BITS),
            residual1=Requant.derive(s["input"], s["residual1"], RES_BITS),
            ln1=ln("attention.output", s["ln1"]),
            ffn_in=lin("intermediate.dense", s["ln1"], s["ffn_in"], GELU_IN_BITS),
            gelu=gelu,
            gelu_out=Requant.derive(gelu.out_scale, s["ffn_mid"], ACT_BITS),
            ffn_out=lin("output.dense", s["ffn_mid"], s["residual2"], RES_BITS),
            residual2=Requant.derive(s["ln1"], s["residual2"], RES_BITS),
            ln2=ln("output", s["output"]),
        ))
        prev_out = s["output"]
    host = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()
            if not k.startswith(prefix)}
    return QuantizedModel(layers=layers, input_scale=scales["layer.0.input"],
                          output_scale=prev_out, scales=scales, host=host,
                          meta={"config": cfg.to_dict(), "encoder_prefix": prefix})
