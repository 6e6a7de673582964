"""The golden encoder with top-k sparse attention: what the rendered kernel must equal.

`sim.golden.encoder` takes the attention as a function; this module supplies the top-k
one of `sim.golden.sparse_attention`, run per sequence with its real length, with the
layer's dense-attention constants (score, exp, context) as its AttentionQuant.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.golden.encoder import AttentionFn, Trace
from sim.golden.params import QAttention
from sim.golden.sparse_attention import AttentionQuant, sparse_attention


def attention_quant(p: QAttention) -> AttentionQuant:
    """The sparse attention's constants from a layer's QAttention (the same rescales)."""
    return AttentionQuant(p.score.mult, p.score.shift, p.exp, p.context.mult,
                          p.context.shift)


def topk_attention(k: int) -> AttentionFn:
    """An `encoder_layer` attention function keeping k keys per query (min(k, L))."""

    def attend(q: np.ndarray, kk: np.ndarray, v: np.ndarray, lengths: Sequence[int],
               p: QAttention, trace: Trace | None = None) -> np.ndarray:
        quant = attention_quant(p)
        out, start = [], 0
        for n in lengths:
            rows = slice(start, start + n)
            out.append(sparse_attention(q[rows].astype(np.int8), kk[rows].astype(np.int8),
                                        v[rows].astype(np.int8), p.heads, k, quant))
            start += n
        return np.concatenate(out).astype(np.int64)

    return attend
