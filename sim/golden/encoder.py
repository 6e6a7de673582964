"""The integer BERT encoder: dense attention, residual adds, one layer, the stack.

Tokens of several sequences travel as one matrix x [N, hidden] (sequences one after
another, `lengths` giving each one's real length, no padding): linears and LayerNorms
work token by token on all of them at once, attention works per sequence, vectorised
over sequences of equal length.

Pass `trace={}` to record every intermediate integer tensor by name (see
`LAYER_TRACE_NAMES`), so an HLS or RTL engine can be compared with its golden input and
output. Attention tensors of shape [heads, L, L] are recorded as one list entry per
sequence, in input order; the stack prefixes names with `layer.<i>.`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from tqdm import tqdm

from sim.golden.linear import exact_matmul, hp_linear
from sim.golden.nonlinear import int_gelu, int_layernorm, int_softmax
from sim.golden.params import (
    ACT_BITS,
    RES_BITS,
    QAttention,
    QEncoderLayer,
    QLinear,
    QuantizedModel,
    Requant,
)
from sim.golden.requant import requantize, saturate

Trace = dict[str, object]
# Tokens per chunk of `encoder_batched`: intermediates stay in cache-sized arrays.
CHUNK_TOKENS = 2048
# What `encoder_layer` records, in dataflow order.
LAYER_TRACE_NAMES = (
    "input", "query", "key", "value", "scores", "probs", "context", "attn_out",
    "residual1", "ln1", "ffn_in", "gelu", "ffn_mid", "ffn_out", "residual2", "output",
)
# An attention function: (q, k, v int8 [N, hidden], lengths, params, trace) -> int8 [N, hidden].
AttentionFn = Callable[[np.ndarray, np.ndarray, np.ndarray, Sequence[int], QAttention,
                        Trace | None], np.ndarray]


def linear(x: np.ndarray, p: QLinear) -> np.ndarray:
    """`hp_linear` with the parameters of one QLinear."""
    return hp_linear(x, p.hp, p.bias, p.mult, p.shift, p.out_bits)


def rescale(x: np.ndarray, r: Requant) -> np.ndarray:
    """requantize(x, r.mult, r.shift, r.bits): move x to another scale and width."""
    return requantize(x, r.mult, r.shift, r.bits)


def residual_add(branch: np.ndarray, skip: np.ndarray, align: Requant) -> np.ndarray:
    """branch + skip on the branch's scale, RES_BITS wide (SAT_RESIDUAL).

    `branch` already has the residual scale (its linear requantized to it); the int8
    `skip` is aligned to it by `align` (a rescale that may also widen), then they add.
    """
    return saturate(branch + rescale(skip, align), RES_BITS)


def _sequence_groups(lengths: Sequence[int]) -> dict[int, tuple[list[int], np.ndarray]]:
    """For each distinct length L: the indices of its sequences and their token rows [n, L]."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    ids: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        ids.setdefault(int(n), []).append(i)
    return {n: (seqs, starts[np.asarray(seqs)][:, None] + np.arange(n))
            for n, seqs in ids.items()}


def dense_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, lengths: Sequence[int],
                    p: QAttention, trace: Trace | None = None) -> np.ndarray:
    """Multi-head attention over each sequence's own tokens, in integers.

    Per head (d = hidden / heads):
        scores  = requantize(Q K^T, score) -> SCORE_BITS at SCORE_SCALE    int32 acc, SAT_SCORE
        probs   = int_softmax(scores, exp)   uint8 range, scale 2**-8
        context = requantize(probs V, context) -> int8                     int32 acc, SAT_REQUANT
    """
    n_tok, hidden = q.shape
    d = hidden // p.heads
    out = np.zeros((n_tok, hidden), dtype=np.int64)
    scores_of: list = [None] * len(lengths)
    probs_of: list = [None] * len(lengths)
    for n, (seqs, rows) in _sequence_groups(lengths).items():
        def heads(t: np.ndarray, rows: np.ndarray = rows, n: int = n) -> np.ndarray:
            return t[rows].reshape(len(rows), n, p.heads, d).transpose(0, 2, 1, 3)

        qh, kh, vh = heads(q), heads(k), heads(v)  # [B, h, L, d]
        scores = rescale(exact_matmul(qh, kh.transpose(0, 1, 3, 2)), p.score)
        probs = int_softmax(scores, p.exp)
        ctx = rescale(exact_matmul(probs, vh), p.context)  # [B, h, L, d]
        out[rows] = ctx.transpose(0, 2, 1, 3).reshape(len(rows), n, hidden)
        for j, s in enumerate(seqs):
            scores_of[s], probs_of[s] = scores[j], probs[j]
    if trace is not None:
        trace.update({"scores": scores_of, "probs": probs_of})
    return out


def encoder_layer(x: np.ndarray, layer: QEncoderLayer, lengths: Sequence[int] | None = None,
                  trace: Trace | None = None,
                  attention: AttentionFn = dense_attention) -> np.ndarray:
    """One encoder layer: int8 x [N, hidden] -> int8 [N, hidden] (see module doc for lengths).

        q, k, v   = linear(x)                           int8
        context   = attention(q, k, v)                  int8
        residual1 = residual_add(linear(context), x)    RES_BITS
        ln1       = int_layernorm(residual1)            int8
        ffn_in    = linear(ln1)                         GELU_IN_BITS
        ffn_mid   = rescale(int_gelu(ffn_in))           int8
        residual2 = residual_add(linear(ffn_mid), ln1)  RES_BITS
        output    = int_layernorm(residual2)            int8
    """
    x = np.asarray(x, dtype=np.int64)
    lengths = [x.shape[0]] if lengths is None else list(lengths)
    if sum(lengths) != x.shape[0]:
        raise ValueError(f"lengths sum to {sum(lengths)} but x has {x.shape[0]} tokens")
    t: Trace = {"input": x}
    t["query"], t["key"], t["value"] = (linear(x, layer.query), linear(x, layer.key),
                                        linear(x, layer.value))
    t["context"] = attention(t["query"], t["key"], t["value"], lengths, layer.attention, t)
    t["attn_out"] = linear(t["context"], layer.attn_out)
    t["residual1"] = residual_add(t["attn_out"], x, layer.residual1)
    t["ln1"] = int_layernorm(t["residual1"], layer.ln1)
    t["ffn_in"] = linear(t["ln1"], layer.ffn_in)
    t["gelu"] = int_gelu(t["ffn_in"], layer.gelu)
    t["ffn_mid"] = rescale(t["gelu"], layer.gelu_out)
    t["ffn_out"] = linear(t["ffn_mid"], layer.ffn_out)
    t["residual2"] = residual_add(t["ffn_out"], t["ln1"], layer.residual2)
    t["output"] = int_layernorm(t["residual2"], layer.ln2)
    if trace is not None:
        trace.update(t)
    return t["output"]


def encoder(x: np.ndarray, model: QuantizedModel, lengths: Sequence[int] | None = None,
            trace: Trace | None = None, attention: AttentionFn = dense_attention) -> np.ndarray:
    """The whole stack: int8 x [N, hidden] -> int8 [N, hidden] at `model.output_scale`."""
    x = np.asarray(x, dtype=np.int64)
    if not np.array_equal(x, saturate(x, ACT_BITS)):
        raise ValueError(f"encoder input must be int{ACT_BITS} (quantize with input_scale)")
    for i, layer in enumerate(model.layers):
        t: Trace | None = {} if trace is not None else None
        x = encoder_layer(x, layer, lengths, t, attention)
        if trace is not None:
            trace.update({f"layer.{i}.{k}": v for k, v in t.items()})
    return x


def encoder_batched(x: np.ndarray, model: QuantizedModel, lengths: Sequence[int],
                    chunk_tokens: int = CHUNK_TOKENS, progress: bool = False,
                    attention: AttentionFn = dense_attention) -> np.ndarray:
    """`encoder` over many sequences, in chunks of about `chunk_tokens` tokens.

    Sequences are sorted by length (so each chunk has few distinct lengths for attention)
    and chunked (so intermediate tensors stay small); the result is in the input order and
    equals one `encoder` call, since sequences never interact.
    """
    x = np.asarray(x, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    order = np.argsort(lengths, kind="stable")
    chunks, current, size = [], [], 0
    for i in order:
        if current and size + lengths[i] > chunk_tokens:
            chunks.append(current)
            current, size = [], 0
        current.append(int(i))
        size += int(lengths[i])
    if current:
        chunks.append(current)
    out = np.empty_like(x)
    for chunk in tqdm(chunks, desc="golden model", disable=not progress):
        rows = np.concatenate([np.arange(starts[i], starts[i] + lengths[i]) for i in chunk])
        out[rows] = encoder(x[rows], model, lengths[chunk].tolist(), attention=attention)
    return out
