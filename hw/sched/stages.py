"""Coarse pipeline stages and the allocation of PE groups to them.

Stages are contiguous runs of the priority order, cut so that the heaviest stage is as
light as possible (linear partition by dynamic programming). Groups are then given to
stages so that the slowest stage is as fast as possible: start with one group each and
repeatedly give the current bottleneck the fewest extra groups that make it faster. For
stage times that never grow with more groups this greedy is optimal for the min-max.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence


def partition(order: Sequence[str], weight: Mapping[str, float],
              n_stages: int) -> tuple[tuple[str, ...], ...]:
    """Cut `order` into `n_stages` contiguous non-empty stages minimising the largest sum.

    Among equally good cuts the one with the earliest cut points wins (deterministic).
    """
    n = len(order)
    if not 1 <= n_stages <= n:
        raise ValueError(f"stages: need 1..{n} stages for {n} operators, got {n_stages}")
    prefix = [0.0]
    for node in order:
        prefix.append(prefix[-1] + weight[node])
    inf = float("inf")
    # best[k][i]: least max-stage weight of the first i nodes in k stages
    best = [[inf] * (n + 1) for _ in range(n_stages + 1)]
    cut = [[0] * (n + 1) for _ in range(n_stages + 1)]
    best[0][0] = 0.0
    for k in range(1, n_stages + 1):
        for i in range(k, n + 1):
            for j in range(k - 1, i):
                cand = max(best[k - 1][j], prefix[i] - prefix[j])
                if cand < best[k][i]:
                    best[k][i], cut[k][i] = cand, j
    bounds, i = [], n
    for k in range(n_stages, 0, -1):
        j = cut[k][i]
        bounds.append((j, i))
        i = j
    return tuple(tuple(order[a:b]) for a, b in reversed(bounds))


def allocate(stage_time: Callable[[int, int], float], n_stages: int, total_groups: int,
             minimum: Sequence[int] | None = None) -> tuple[int, ...]:
    """Groups per stage minimising the slowest stage; `stage_time(stage, groups)`.

    Every stage starts with `minimum[stage]` groups (default one; zero suits a stage whose
    operators need no group). Groups that cannot make the bottleneck faster stay idle.
    """
    groups = list(minimum) if minimum is not None else [1] * n_stages
    if len(groups) != n_stages or sum(groups) > total_groups:
        raise ValueError(f"pe_groups: {total_groups} groups cannot give {n_stages} stages "
                         f"their minimum {groups}")
    times = [stage_time(i, groups[i]) for i in range(n_stages)]
    spare = total_groups - sum(groups)
    while spare:
        b = max(range(n_stages), key=lambda i: (times[i], -i))
        for extra in range(1, spare + 1):
            t = stage_time(b, groups[b] + extra)
            if t < times[b]:
                groups[b] += extra
                times[b] = t
                spare -= extra
                break
        else:
            break
    return tuple(groups)
