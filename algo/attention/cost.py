"""Multiply-accumulates of one attention layer: dense, the 4-bit estimate, the exact top-k part.

Counted analytically (a model, not a measurement). Per head of width d, for L queries:
  dense     Q K^T and P V:                  2 * L * L * d
  estimate  4x4-bit products (LUT reads):       L * L * d
  exact     k scores and k V rows per query: 2 * L * k * d,  k = topk_count(L, ...)
The projections and the FFN are the same for all three and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.golden.sparse_attention import topk_count

MATMULS_PER_ATTENTION = 2  # Q K^T and P V


@dataclass(frozen=True)
class AttentionMacs:
    length: int
    k: int  # keys kept per query at this length
    dense: int
    estimate: int
    exact: int


def attention_macs(length: int, heads: int, head_dim: int, k: int | None = None,
                   fraction: float | None = None, k_min: int = 1) -> AttentionMacs:
    """MACs of one layer's attention at sequence length `length` (all heads)."""
    kk = topk_count(length, k, fraction, k_min)
    per_head_dense = MATMULS_PER_ATTENTION * length * length * head_dim
    return AttentionMacs(
        length=length,
        k=kk,
        dense=heads * per_head_dense,
        estimate=heads * length * length * head_dim,
        exact=heads * MATMULS_PER_ATTENTION * length * kk * head_dim,
    )


def growth_exponent(lengths: np.ndarray, macs: np.ndarray) -> float:
    """The least-squares slope of log(macs) against log(length): the p in macs ~ L**p."""
    slope, _ = np.polyfit(np.log(np.asarray(lengths, float)), np.log(np.asarray(macs, float)), 1)
    return float(slope)
