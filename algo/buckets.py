"""Length buckets: bucket edges chosen from the length histogram, exactly, by dynamic programming.

Each sequence is padded to the upper edge of its bucket (the smallest edge >= its length);
the last edge is the maximum length, so every sequence fits. For a given number of edges
the chosen edges minimise the total cost of the padded sequences, where a sequence padded
to E costs `SlotCost.of(E)` = linear * E + attention * E**2 (the default counts token slots;
the attention term models the L^2 work of dense attention).

Why the DP may only consider lengths that occur: moving an edge down to the longest length
in its bucket lowers every cost in that bucket and changes no other, so some optimum has
every edge but the last at an observed length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SlotCost:
    """Cost of one sequence padded to E: linear * E + attention * E**2."""

    linear: float = 1.0
    attention: float = 0.0

    def __post_init__(self) -> None:
        if self.linear < 0 or self.attention < 0 or self.linear + self.attention <= 0:
            raise ValueError(f"SlotCost: linear and attention must be >= 0, not both 0: {self}")

    def of(self, padded: np.ndarray | int) -> np.ndarray | float:
        e = np.asarray(padded, dtype=np.float64)
        return self.linear * e + self.attention * e * e


@dataclass(frozen=True)
class BucketPlan:
    """Chosen edges and what they cost; fractions are of the padded token slots."""

    edges: tuple[int, ...]
    counts: tuple[int, ...]  # sequences per bucket
    real_tokens: int
    padded_slots: int
    padding_fraction: float  # (padded_slots - real_tokens) / padded_slots
    pad_to_max_fraction: float  # the same with every sequence padded to max_length
    cost: float  # sum of SlotCost.of(edge) over the sequences


def _histogram(lengths: np.ndarray, max_length: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size == 0:
        raise ValueError(f"lengths: need a non-empty 1-D array, got shape {lengths.shape}")
    if not np.issubdtype(lengths.dtype, np.integer) or lengths.min() < 1:
        raise ValueError("lengths: must be positive integers")
    top = int(lengths.max()) if max_length is None else int(max_length)
    if lengths.max() > top:
        raise ValueError(f"lengths: {int(lengths.max())} exceeds max_length={top}")
    values, counts = np.unique(lengths, return_counts=True)
    return values, counts, top


def assign(lengths: np.ndarray, edges: tuple[int, ...] | list[int]) -> np.ndarray:
    """The edge each sequence is padded to (the smallest edge >= its length)."""
    e = np.asarray(edges)
    pos = np.searchsorted(e, np.asarray(lengths), side="left")
    if np.any(pos >= len(e)):
        raise ValueError(f"edges: the last edge {int(e[-1])} is shorter than a sequence")
    return e[pos]


def evaluate(lengths: np.ndarray, edges: tuple[int, ...] | list[int],
             max_length: int | None = None, cost: SlotCost = SlotCost()) -> BucketPlan:
    """Padding and cost of given edges (ascending; the last must cover every sequence)."""
    _, _, top = _histogram(lengths, max_length)
    edges = tuple(int(e) for e in edges)
    if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"edges: must be strictly ascending, got {edges}")
    lengths = np.asarray(lengths)
    padded = assign(lengths, edges)
    real, slots = int(lengths.sum()), int(padded.sum())
    return BucketPlan(
        edges=edges,
        counts=tuple(int(c) for c in np.bincount(np.searchsorted(edges, lengths),
                                                 minlength=len(edges))),
        real_tokens=real,
        padded_slots=slots,
        padding_fraction=(slots - real) / slots,
        pad_to_max_fraction=1.0 - real / (lengths.size * top),
        cost=float(np.sum(cost.of(padded))),
    )


def optimal_edges(lengths: np.ndarray, n: int, max_length: int | None = None,
                  cost: SlotCost = SlotCost()) -> BucketPlan:
    """The n edges (last = max_length, default the longest sequence) of least total cost.

    O(n m^2) for m distinct lengths. When fewer than n edges are possible (few distinct
    lengths), every possible edge is used and fewer are returned.
    """
    if n < 1:
        raise ValueError(f"n: need at least 1 bucket, got {n}")
    values, counts, top = _histogram(lengths, max_length)
    free = values[values < top]  # candidate edges below the fixed last one
    n_free = min(n - 1, free.size)
    # below[i]: sequences with length <= free[i]; a bucket (free[p], free[i]] holds
    # below[i] - below[p] of them, each costing cost.of(free[i]).
    below = np.cumsum(counts)[: free.size]
    edge_cost = np.asarray(cost.of(free))
    best = np.full((n_free + 1, free.size), np.inf)  # best[j][i]: j free edges, last at free[i]
    back = np.zeros((n_free + 1, free.size), dtype=np.int64)
    if n_free:
        best[1] = below * edge_cost
    for j in range(2, n_free + 1):
        for i in range(j - 1, free.size):
            cand = best[j - 1, :i] + (below[i] - below[:i]) * edge_cost[i]
            p = int(np.argmin(cand))
            best[j, i], back[j, i] = cand[p], p
    total = int(counts.sum())
    top_cost = float(cost.of(top))
    if n_free == 0:
        chosen: list[int] = []
    else:
        finals = best[n_free] + (total - below) * top_cost
        i = int(np.argmin(finals))
        chosen = [i]
        for j in range(n_free, 1, -1):
            i = int(back[j, i])
            chosen.append(i)
        chosen.reverse()
    edges = tuple(int(free[i]) for i in chosen) + (top,)
    return evaluate(lengths, edges, top, cost)


def tile_overhead(lengths: np.ndarray, tile: int) -> float:
    """Extra slots, as a fraction of the tiled slots, when each sequence is only rounded up
    to a multiple of `tile` tokens (the accelerator's own granularity, no buckets)."""
    if tile < 1:
        raise ValueError(f"tile: must be >= 1, got {tile}")
    lengths = np.asarray(lengths, dtype=np.int64)
    tiled = -(-lengths // tile) * tile
    return float((tiled.sum() - lengths.sum()) / tiled.sum())
