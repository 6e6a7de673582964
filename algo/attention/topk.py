"""Top-k sparse attention in PyTorch, with the selection rule of the integer golden model.

Per head and query: Q and K are quantized to signed 4-bit (Q per query row, K per head
over the valid keys, as in `sim.golden.sparse_attention`), all scores are estimated from
the 4-bit products, the top-k keys are kept (ties to the lower key index, masked keys never),
and the exact float scores, the softmax and the weighted sum of V run over those k only.

The exact scores are gathered from the dense Q K^T: the same numbers as computing k dot
products, cheaper in PyTorch, and gradients flow through them and through V. The O(L k d)
cost saving is the accelerator's (see benchmarks/attention_cost.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from sim.golden.sparse_attention import FRACTION_DECIMALS, Q4_MAX, topk_count


@dataclass(frozen=True)
class TopK:
    """How many keys a query keeps: a fixed `k`, or ceil(`fraction` * L) but at least `k_min`.

    L is the number of keys the query may attend to (its sequence's real length), so a
    padded batch keeps as many keys per sequence as an unpadded run would.
    """

    k: int | None = None
    fraction: float | None = None
    k_min: int = 1

    def __post_init__(self) -> None:
        topk_count(1, self.k, self.fraction, self.k_min)  # validates the fields

    def count(self, lengths: torch.Tensor) -> torch.Tensor:
        """Vectorised `topk_count` over a tensor of valid-key counts."""
        if self.k is not None:
            return lengths.clamp(max=self.k)
        scaled = torch.round(lengths.double() * self.fraction, decimals=FRACTION_DECIMALS)
        return torch.minimum(lengths, torch.ceil(scaled).long().clamp(min=self.k_min))


def quantize4(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """sign(x) * floor(Q4_MAX * |x| / m + 1/2), 0 where m = 0 (the golden `quantize4` rule)."""
    safe = torch.where(m > 0, m, torch.ones_like(m))
    q = torch.sign(x) * torch.floor(Q4_MAX * x.abs() / safe + 0.5)
    return torch.where(m > 0, q, torch.zeros_like(q))


def estimate_scores(query: torch.Tensor, key: torch.Tensor, key_valid: torch.Tensor
                    ) -> torch.Tensor:
    """4-bit estimated scores [B, H, Lq, Lk] as exact small integers (float64).

    query [B, H, Lq, d] is quantized per row; key [B, H, Lk, d] per (batch, head) over the
    keys in `key_valid` [B, H, Lk], so padding never sets the scale.
    """
    q_max = query.abs().amax(dim=-1, keepdim=True)
    k_abs = key.abs().amax(dim=-1) * key_valid
    k_max = k_abs.amax(dim=-1, keepdim=True)[..., None]
    q4 = quantize4(query.double(), q_max.double())
    k4 = quantize4(key.double(), k_max.double())
    return q4 @ k4.transpose(-1, -2)


def select_topk(est: torch.Tensor, valid: torch.Tensor, k_row: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices [..., kmax] of the top keys per row and a mask of those actually kept.

    Ranking is by (estimate desc, key index asc): the estimate and the reversed index are
    packed into one unique int64 key, so torch.topk has no ties to break. A row keeps its
    first k_row[...] entries, and only valid keys.
    """
    n_keys = est.shape[-1]
    kmax = max(int(k_row.max()) if k_row.numel() else 0, 1)
    kmax = min(kmax, n_keys)
    reverse_index = torch.arange(n_keys - 1, -1, -1, device=est.device)
    rank_key = est.round().long() * n_keys + reverse_index
    rank_key = rank_key.masked_fill(~valid, torch.iinfo(torch.long).min)
    _, idx = torch.topk(rank_key, kmax, dim=-1, sorted=True)
    rank = torch.arange(kmax, device=est.device)
    kept = (rank < k_row[..., None]) & valid.gather(-1, idx)
    return idx, kept


def _valid_and_bias(attention_mask: torch.Tensor | None, shape: torch.Size, dtype: torch.dtype
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Boolean masks (True = attend) or additive float masks (finfo.min = masked) -> valid, bias."""
    if attention_mask is None:
        return torch.ones(shape, dtype=torch.bool), None
    if attention_mask.dtype == torch.bool:
        return attention_mask.expand(shape), None
    bias = attention_mask.expand(shape).to(dtype)
    valid = bias > torch.finfo(bias.dtype).min / 2
    return valid, bias


def topk_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                   attention_mask: torch.Tensor | None, topk: TopK,
                   scaling: float | None = None, dropout: float = 0.0,
                   training: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k sparse attention on [B, H, L, d] tensors.

    Returns (context [B, H, Lq, d], probabilities [B, H, Lq, Lk] with zeros off the kept
    keys). A query with no valid key gets a zero context. With k >= L this is dense
    softmax attention.
    """
    if scaling is None:
        scaling = 1.0 / math.sqrt(query.shape[-1])
    b, h, lq, _ = query.shape
    lk = key.shape[-2]
    valid, bias = _valid_and_bias(attention_mask, torch.Size((b, h, lq, lk)), query.dtype)
    valid = valid.to(query.device)
    with torch.no_grad():
        key_valid = valid.any(dim=-2)
        est = estimate_scores(query, key, key_valid)
        idx, kept = select_topk(est, valid, topk.count(valid.sum(dim=-1)))

    scores = (query @ key.transpose(-1, -2)) * scaling
    if bias is not None:
        scores = scores + bias.masked_fill(~valid, 0.0)
    picked = scores.gather(-1, idx).masked_fill(~kept, float("-inf"))
    has_key = kept.any(dim=-1, keepdim=True)
    probs = torch.softmax(picked.masked_fill(~has_key, 0.0), dim=-1)
    probs = probs.masked_fill(~kept, 0.0)
    probs = torch.nn.functional.dropout(probs, p=dropout, training=training)
    dense = torch.zeros_like(scores).scatter(-1, idx, probs)
    return dense @ value, dense
