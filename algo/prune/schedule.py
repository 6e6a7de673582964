"""The cubic sparsity schedule of gradual pruning (Zhu & Gupta; used by sparse progressive
distillation): s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (t1 - t0))^3.

It prunes fast while the network has redundancy to spare and slowly near the target.
"""

from __future__ import annotations


def cubic_sparsity(step: int, final: float, start: int, end: int, initial: float = 0.0) -> float:
    """Sparsity at `step`: `initial` up to `start`, `final` from `end` on, cubic between."""
    if end <= start:
        raise ValueError(f"schedule end ({end}) must be after its start ({start})")
    if step <= start:
        return initial
    if step >= end:
        return final
    frac = (step - start) / (end - start)
    return final + (initial - final) * (1.0 - frac) ** 3


def update_steps(start: int, end: int, n_updates: int) -> list[int]:
    """The steps at which masks are recomputed: `n_updates` evenly spaced, the last at `end`."""
    if n_updates < 1:
        raise ValueError(f"n_updates must be >= 1, got {n_updates}")
    if end <= start:
        raise ValueError(f"schedule end ({end}) must be after its start ({start})")
    return sorted({start + round((end - start) * (i + 1) / n_updates) for i in range(n_updates)})
