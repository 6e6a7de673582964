"""Design-space exploration: the Pareto front of latency, throughput and resources.

For a board and a length trace, every point of the space (PE array shape bo x m, block
width bi, top-k k, attention engines, number of pipeline stages, share of the board's PE
groups) and every pruned variant of the accuracy table (or one `--density`) is sized,
placed and scheduled with the length-aware policy on a sample of the trace. A point stays
on the front when no other point is at least as good on every objective (p99 latency,
throughput, resource fraction, and accuracy drop when a table is given) and better on
one. Large sweeps can run on Ray (`use_ray=True`, imported only then).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hw.config import ConfigError, DesignConfig
from hw.perf.model import MODEL_NAME, build_design, estimate, max_groups, place
from hw.perf.ops import uniform_weights, with_density
from hw.sched import LENGTH_AWARE, make_pipeline, run_policy

DEFAULT_SPACE: dict[str, tuple] = {
    "bo": (8, 16, 32),
    "bi": (8, 16, 32),
    "m": (4, 8),
    "attn_k": (16,),  # the accuracy table does not say what a smaller k costs
    "attn_heads_parallel": (4, 12),  # must divide the model's heads
    "stages": (3, 4),
    "group_share": (0.5, 1.0),
}
SPACE_KEYS = ("bo", "bi", "m", "attn_k", "attn_heads_parallel", "stages", "group_share")
SAMPLE_SEED = 0
DEFAULT_SAMPLE = 128
# objective -> +1 to maximise, -1 to minimise
OBJECTIVES = {"p99_latency_ms": -1, "throughput_seq_s": 1, "resource_fraction": -1,
              "accuracy_drop": -1}


@dataclass(frozen=True)
class Point:
    """One design to evaluate."""

    bo: int
    bi: int
    m: int
    attn_k: int
    attn_heads_parallel: int
    stages: int
    group_share: float
    density: float
    accuracy_drop: float | None = None


def points(space: dict[str, Sequence], densities: Iterable[tuple[float, float | None]]
           ) -> list[Point]:
    """Every combination of the space and the (density, accuracy drop) variants."""
    return [Point(*combo, density=d, accuracy_drop=drop)
            for combo in itertools.product(*(space[k] for k in SPACE_KEYS))
            for d, drop in densities]


def evaluate(base: DesignConfig, board: Any, lengths: np.ndarray, p: Point,
             batch: int) -> dict[str, Any] | None:
    """Modeled figures of one point, or None when it is not a valid design on the board."""
    try:
        cfg = base.replace(bo=p.bo, bi=p.bi, m=p.m, attn_k=p.attn_k,
                           attn_heads_parallel=p.attn_heads_parallel)
        if cfg.m != with_density(cfg, p.density).m:
            return None  # this m cannot reach the variant's density
        weights = uniform_weights(cfg, p.density)
        # the scheduler's stage overlap is the analytical machine's, not the RTL's
        fit = max_groups(cfg, board, place(cfg, board, weights))
        groups = max(p.stages, int(fit * p.group_share))
        design = build_design(cfg, board, weights, groups, machine="analytical")
    except (ConfigError, ValueError):
        return None
    est = estimate(design, [cfg.max_length])
    mean = round(float(lengths.mean()))
    pipe = make_pipeline(design, mean, p.stages)
    metrics = run_policy(pipe, LENGTH_AWARE, lengths, batch).metrics(design.clock_hz)
    res = est["resources"]
    return {
        "bo": p.bo, "bi": p.bi, "m": p.m, "attn_k": p.attn_k,
        "attn_heads_parallel": p.attn_heads_parallel, "stages": p.stages,
        "pe_groups": groups, "density": p.density, "accuracy_drop": p.accuracy_drop,
        "allocation_at_mean_length": list(pipe.allocation(mean)),
        "p99_latency_ms": metrics["p99_latency_ms"],
        "mean_latency_ms": metrics["mean_latency_ms"],
        "throughput_seq_s": metrics["throughput_seq_s"],
        "slot_utilization": metrics["slot_utilization"],
        "latency_at_max_length_ms": est["per_length"][0]["latency_ms"],
        "weights_on_chip": est["weights"]["on_chip"],
        "resources": {k: v["used"] for k, v in res.items()},
        "resource_fraction": max(v["fraction"] for v in res.values()),
    }


def pareto(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows no other row dominates on OBJECTIVES (None-valued objectives are ignored)."""
    keys = [k for k in OBJECTIVES if all(r.get(k) is not None for r in rows)]

    def dominates(a: dict[str, Any], b: dict[str, Any]) -> bool:
        better = [OBJECTIVES[k] * (a[k] - b[k]) for k in keys]
        return all(x >= 0 for x in better) and any(x > 0 for x in better)

    return [r for r in rows if not any(dominates(o, r) for o in rows if o is not r)]


def explore(base: DesignConfig, board: Any, lengths: np.ndarray,
            densities: Iterable[tuple[float, float | None]],
            space: dict[str, Sequence] | None = None, sample: int = DEFAULT_SAMPLE,
            batch: int = 8, use_ray: bool = False, progress: bool = False) -> dict[str, Any]:
    """Evaluate the space on a seeded sample of the trace; return all points and the front."""
    lengths = np.minimum(np.asarray(lengths, dtype=np.int64), base.max_length)
    if sample and lengths.size > sample:
        rng = np.random.default_rng(SAMPLE_SEED)
        lengths = rng.choice(lengths, size=sample, replace=False)
    todo = points(space or DEFAULT_SPACE, list(densities))
    if use_ray:
        rows = _run_ray(base, board, lengths, todo, batch)
    else:
        from tqdm import tqdm

        rows = [evaluate(base, board, lengths, p, batch)
                for p in tqdm(todo, desc="explore", disable=not progress)]
    valid = [r for r in rows if r is not None]
    return {"board": board.name, "model": MODEL_NAME, "figures": "modeled",
            "policy": LENGTH_AWARE, "sequences": int(lengths.size),
            "evaluated": len(todo), "valid": len(valid), "points": valid,
            "pareto": sorted(pareto(valid), key=lambda r: r["p99_latency_ms"])}


def _run_ray(base: DesignConfig, board: Any, lengths: np.ndarray, todo: list[Point],
             batch: int) -> list[dict[str, Any] | None]:
    try:
        import ray
    except ImportError:
        raise RuntimeError("ray is not installed: pip install 'ray>=2.9' (extra 'ray'), "
                           "or explore without --ray") from None
    ray.init(ignore_reinit_error=True)
    remote = ray.remote(evaluate)
    return ray.get([remote.remote(base, board, lengths, p, batch) for p in todo])


def plot_front(result: dict[str, Any], path: str) -> None:
    """Throughput against p99 latency; colour is the resource fraction, rings the front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts, front = result["points"], result["pareto"]
    fig, ax = plt.subplots(figsize=(7, 5))
    sc = ax.scatter([r["p99_latency_ms"] for r in pts], [r["throughput_seq_s"] for r in pts],
                    c=[r["resource_fraction"] for r in pts], cmap="viridis", s=18)
    ax.scatter([r["p99_latency_ms"] for r in front], [r["throughput_seq_s"] for r in front],
               facecolors="none", edgecolors="red", s=70, label="Pareto front")
    fig.colorbar(sc, label="largest fraction of a kernel resource")
    ax.set_xlabel("p99 latency (ms, modeled)")
    ax.set_ylabel("throughput (seq/s, modeled)")
    ax.set_title(f"design space on {result['board']} ({result['sequences']} sequences)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
