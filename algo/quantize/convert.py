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
from sim.golden.requant import ACC_MAX, ACC_MIN, quantize_multipliers

if TYPE_CHECKING:
    import torch

WEIGHT_BITS = 8
WEIGHT_MAX = (1 << (WEIGHT_BITS - 1)) - 1  # symmetric: -127..127
# Headroom of the 16-bit tensors over their calibrated maximum.
WIDE_MARGIN = 2.0
# SmoothQuant migration strength for LayerNorm/GELU outputs (0: none, 1: all into weights);
# 0.85 scored best of {0.5, 0.7, 0.85, 1.0} in an SST-2 sweep that no committed script records.
SMOOTH_ALPHA = 0.85
# A channel's scale is at least this share of the tensor's largest channel scale: a channel
# that is (almost) always 0, like one of MiniLM's last LayerNorm outputs, must not get a
# scale so fine that its requantization multiplier overflows.
CHANNEL_SCALE_FLOOR = 2.0 ** -10
# Floor of a weight column maximum in the smoothing factor (an all-zero pruned column).
TINY = 1e-12


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


def quantize_linear(hp: HPMatrix, bias: np.ndarray, s_in: float, s_out: float | np.ndarray,
                    out_bits: int = ACT_BITS, smooth: np.ndarray | None = None) -> QLinear:
    """An HP float linear (y = W x + b) -> QLinear from input scale s_in to s_out.

    `smooth` [in] are the per-input-channel smoothing factors f of an input carried as
    x = f * x~: the weight columns absorb them (W~ = W f), and s_in is the scale of x~.
    """
    if smooth is not None:
        hp = hp.with_values((hp.values * smooth[hp.columns()]).astype(np.float64))
    qhp, s_w = quantize_weight(hp)
    acc_scale = s_in * s_w
    qbias = np.clip(np.round(np.asarray(bias, np.float64) / acc_scale), ACC_MIN, ACC_MAX)
    mult, shift = quantize_multipliers(acc_scale / s_out)
    return QLinear(qhp, qbias.astype(np.int64), mult, shift, out_bits)


def quantize_layernorm(gamma: np.ndarray, beta: np.ndarray, s_out: np.ndarray,
                       out_bits: int = ACT_BITS) -> LayerNormParams:
    """Integer gamma (GAMMA_BITS, one scale), beta at the accumulator scale, and the final
    requantization to the per-channel output scales `s_out` [n]."""
    gamma = np.asarray(gamma, np.float64)
    gmax = float(np.abs(gamma).max())
    s_gamma = (gmax if gmax > 0 else 1.0) / ((1 << (GAMMA_BITS - 1)) - 1)
    s_acc = math.sqrt(gamma.shape[0]) / (1 << LN_NORM_BITS) * s_gamma
    beta_int = np.clip(np.round(np.asarray(beta, np.float64) / s_acc), ACC_MIN, ACC_MAX)
    mult, shift = quantize_multipliers(s_acc / np.asarray(s_out, np.float64))
    return LayerNormParams(np.round(gamma / s_gamma).astype(np.int64), beta_int.astype(np.int64),
                           mult, shift, out_bits)


def dense_hp(weight: np.ndarray, shape: HPShape) -> HPMatrix:
    """A dense weight as HP storage with every block kept and m = bi."""
    full = HPShape(shape.bo, shape.bi, shape.bi)
    return encode(weight, np.ones(weight.shape, dtype=bool), full)


def smoothing(x_max: np.ndarray, w_col_max: np.ndarray,
              alpha: float = SMOOTH_ALPHA) -> np.ndarray:
    """SmoothQuant factors f = x_max^alpha / w_max^(1-alpha), per channel (1 where degenerate)."""
    f = np.power(x_max, alpha) / np.power(np.maximum(w_col_max, TINY), 1.0 - alpha)
    f = np.where((x_max > 0) & (w_col_max > 0), f, 1.0)
    return floor_channels(f)


def channel_scales(x_max: np.ndarray, f: np.ndarray) -> tuple[float, np.ndarray]:
    """(s~, s_c): one int8 scale for x~ = x / f, and the resulting per-channel scales f * s~."""
    s_t = act_scale(float(np.max(x_max / f)), ACT_BITS)
    return s_t, f * s_t


def floor_channels(scale: np.ndarray) -> np.ndarray:
    """Per-channel scales raised to at least CHANNEL_SCALE_FLOOR times the largest one."""
    return np.maximum(scale, CHANNEL_SCALE_FLOOR * float(np.max(scale)))


def _col_max(hps: list[HPMatrix]) -> np.ndarray:
    return np.max([np.abs(decode(hp).astype(np.float64)).max(axis=0) for hp in hps], axis=0)


def quantize_model(model: torch.nn.Module, stats: dict[str, np.ndarray],
                   hp_layers: dict[str, HPMatrix] | None = None,
                   dense_shape: HPShape | None = None,
                   alpha: float = SMOOTH_ALPHA) -> QuantizedModel:
    """The integer model of `model` (its encoder linears as HP float storage, or dense).

    `stats` comes from `calibrate`. `hp_layers` (from `prune_model_oneshot` or an HP
    artifact) gives the pruned layers; any encoder linear not in it is stored dense (every
    block kept, m = bi) with the block geometry of `dense_shape` (default: the default
    DesignConfig's bo x bi).

    The int8 tensors that feed linears from a LayerNorm or GELU (layer inputs, LN1 output,
    FFN2 input) carry per-channel scales f_c * s~ with SmoothQuant factors f (`alpha`),
    folded into the consuming weights' columns: BERT's LayerNorm outputs have a few
    channels ten times larger than the rest, which one int8 scale cannot resolve (see
    docs/numerics.md). Their producers (LayerNorm, the GELU requantization, the residual
    skips) requantize per channel, so no float is needed anywhere.
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

    def float_hp(name: str) -> HPMatrix:
        if name in hp_layers:
            return hp_layers[name]
        return dense_hp(linears[name].weight.detach().cpu().numpy().astype(np.float64),
                        dense_shape)

    hps = {name: float_hp(name) for name in linears}

    def smoothed(i: int, tensor: str, consumers: tuple[str, ...]) -> tuple[np.ndarray, float,
                                                                            np.ndarray]:
        x_max = stats[f"layer.{i}.{tensor}"]
        f = smoothing(x_max, _col_max([hps[f"layer.{i}.{c}"] for c in consumers]), alpha)
        return (f, *channel_scales(x_max, f))

    qkv = ("attention.self.query", "attention.self.key", "attention.self.value")
    inputs = [smoothed(i, "input", qkv) for i in range(n_layers)]
    last_max = stats[f"layer.{n_layers - 1}.output"]
    final_scale = floor_channels(act_scale(1.0, ACT_BITS) * last_max)
    layers, scales = [], {}
    for i in range(n_layers):
        s = layer_scales(stats, i)
        f_in, s["input"], s["input_channels"] = inputs[i]
        f_ln1, s["ln1"], s["ln1_channels"] = smoothed(i, "ln1", ("intermediate.dense",))
        f_mid, s["ffn_mid"], s["ffn_mid_channels"] = smoothed(i, "ffn_mid", ("output.dense",))
        s["output_channels"] = inputs[i + 1][2] if i + 1 < n_layers else final_scale
        scales.update({f"layer.{i}.{k}": v for k, v in s.items()})

        def lin(rel: str, s_in: float, s_out: float, bits: int = ACT_BITS,
                smooth: np.ndarray | None = None, i: int = i) -> QLinear:
            name = f"layer.{i}.{rel}"
            return quantize_linear(hps[name], linears[name].bias.detach().cpu().numpy(),
                                   s_in, s_out, bits, smooth)

        def ln(owner: str, s_out: np.ndarray, i: int = i) -> LayerNormParams:
            norm = model.get_submodule(f"{prefix}layer.{i}.{owner}.LayerNorm")
            return quantize_layernorm(norm.weight.detach().cpu().numpy(),
                                      norm.bias.detach().cpu().numpy(), s_out)

        d = hidden // heads
        gelu = GeluParams.derive(s["ffn_in"])
        layers.append(QEncoderLayer(
            query=lin("attention.self.query", s["input"], s["query"], smooth=f_in),
            key=lin("attention.self.key", s["input"], s["key"], smooth=f_in),
            value=lin("attention.self.value", s["input"], s["value"], smooth=f_in),
            attention=QAttention(
                heads=heads,
                score=Requant.derive(s["query"] * s["key"] / math.sqrt(d), SCORE_SCALE,
                                     SCORE_BITS),
                exp=ExpParams.derive(SCORE_SCALE),
                context=Requant.derive(s["value"] / (1 << PROB_BITS), s["context"], ACT_BITS)),
            attn_out=lin("attention.output.dense", s["context"], s["residual1"], RES_BITS),
            residual1=Requant.derive(s["input_channels"], s["residual1"], RES_BITS),
            ln1=ln("attention.output", s["ln1_channels"]),
            ffn_in=lin("intermediate.dense", s["ln1"], s["ffn_in"], GELU_IN_BITS, f_ln1),
            gelu=gelu,
            gelu_out=Requant.derive(gelu.out_scale, s["ffn_mid_channels"], ACT_BITS),
            ffn_out=lin("output.dense", s["ffn_mid"], s["residual2"], RES_BITS, f_mid),
            residual2=Requant.derive(s["ln1_channels"], s["residual2"], RES_BITS),
            ln2=ln("output", s["output_channels"]),
        ))
    host = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()
            if not k.startswith(prefix)}
    return QuantizedModel(layers=layers, input_scale=inputs[0][2], output_scale=final_scale,
                          scales=scales, host=host,
                          meta={"config": cfg.to_dict(), "encoder_prefix": prefix})


def layer_scales(stats: dict[str, np.ndarray], i: int) -> dict[str, float]:
    """The per-tensor real scales of layer i's integer tensors, from the calibration maxima."""
    def mx(*names: str) -> float:
        return max(float(np.max(stats[f"layer.{i}.{n}"])) for n in names)

    return {
        "query": act_scale(mx("query"), ACT_BITS),
        "key": act_scale(mx("key"), ACT_BITS),
        "value": act_scale(mx("value"), ACT_BITS),
        "context": act_scale(mx("context"), ACT_BITS),
        # a residual scale covers the branch, the skip and their sum
        "residual1": act_scale(mx("attn_out", "residual1", "input"), RES_BITS),
        "ffn_in": act_scale(mx("ffn_in"), GELU_IN_BITS),
        "residual2": act_scale(mx("ffn_out", "residual2", "ln1"), RES_BITS),
    }
