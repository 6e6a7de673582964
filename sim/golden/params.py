"""The typed integer parameters the golden model runs: one dataclass per engine.

`algo.quantize` derives them from a float model and stores them in the artifact; the
golden model, the HLS kernels and the RTL engines take them as they are. Every field is
an integer (or an integer array) except the `*_scale` fields, which only say what the
integers mean in real numbers (for dequantizing results and deriving the next constants).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from algo.hp.format import HPMatrix
from sim.golden.nonlinear import ExpParams, GeluParams, LayerNormParams
from sim.golden.requant import quantize_multiplier, quantize_multipliers

# Widths of the intermediate integer tensors between engines.
ACT_BITS = 8  # activations fed to every matmul
RES_BITS = 16  # residual sums (LayerNorm inputs), SAT_RESIDUAL
GELU_IN_BITS = 16  # FFN1 output fed to i-GELU
SCORE_BITS = 16  # attention scores fed to the softmax, SAT_SCORE
# Scores are requantized to the fixed scale 2**-SCORE_FRAC_BITS (in logits, after the
# 1/sqrt(d) of attention), so the i-exp constants are the same for every layer and head
# and SCORE_BITS covers +-64 logits (MiniLM layer 0 reaches about 31 on calibration text).
SCORE_FRAC_BITS = 9
SCORE_SCALE = 2.0 ** -SCORE_FRAC_BITS


@dataclass(frozen=True)
class Requant:
    """A per-tensor rescale, requantize(acc, mult, shift, bits): one scale to another."""

    mult: int | np.ndarray  # a scalar, or one per channel (last axis)
    shift: int | np.ndarray
    bits: int

    @classmethod
    def derive(cls, scale_in: float | np.ndarray, scale_out: float | np.ndarray,
               bits: int) -> Requant:
        ratio = np.asarray(scale_in, np.float64) / np.asarray(scale_out, np.float64)
        if ratio.ndim == 0:
            m, s = quantize_multiplier(float(ratio))
            return cls(m, s, bits)
        m, s = quantize_multipliers(ratio)
        return cls(m, s, bits)


@dataclass(frozen=True)
class QLinear:
    """An HP linear in integers: int8 HP weight, int32 bias, per-output-row (mult, shift)."""

    hp: HPMatrix
    bias: np.ndarray  # int64 [out], int32 range
    mult: np.ndarray  # int64 [out]
    shift: np.ndarray  # int64 [out]
    out_bits: int = ACT_BITS


@dataclass(frozen=True)
class QAttention:
    """Dense multi-head attention constants: scores, softmax, context."""

    heads: int
    score: Requant  # Q.K (scale s_q s_k) -> SCORE_BITS at SCORE_SCALE, includes 1/sqrt(d)
    exp: ExpParams  # i-exp constants for SCORE_SCALE
    context: Requant  # P.V (scale 2**-PROB_BITS s_v) -> int8 at the context scale


@dataclass(frozen=True)
class QEncoderLayer:
    """One BERT encoder layer, in dataflow order."""

    query: QLinear
    key: QLinear
    value: QLinear
    attention: QAttention
    attn_out: QLinear  # out_bits = RES_BITS at the residual-1 scale
    residual1: Requant  # layer input int8 -> residual-1 scale (RES_BITS)
    ln1: LayerNormParams
    ffn_in: QLinear  # out_bits = GELU_IN_BITS at the GELU input scale
    gelu: GeluParams
    gelu_out: Requant  # i-GELU result -> int8 FFN2 input
    ffn_out: QLinear  # out_bits = RES_BITS at the residual-2 scale
    residual2: Requant  # LayerNorm-1 output int8 -> residual-2 scale
    ln2: LayerNormParams


@dataclass
class QuantizedModel:
    """The integer encoder stack plus what the host keeps in float.

    The host embeds tokens in float, quantizes them to int8 with the per-channel
    `input_scale`, runs the stack, and dequantizes its int8 output with `output_scale`.
    `host` holds the float tensors it needs (embeddings, pooler, classifier) under their
    state-dict names; `scales` records every calibrated real scale by name.
    """

    layers: list[QEncoderLayer]
    input_scale: np.ndarray  # [hidden], per channel
    output_scale: np.ndarray  # [hidden], per channel
    scales: dict[str, float | np.ndarray] = field(default_factory=dict)
    host: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def heads(self) -> int:
        return self.layers[0].attention.heads
