"""The length-aware scheduler: operator DAG, stages, PE-group allocation, pipeline simulation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hw.perf.model import Design
from hw.sched.policies import (
    DEFAULT_BATCH,
    DEFAULT_STAGES,
    LENGTH_AWARE,
    POLICIES,
    Pipeline,
    PolicyRun,
    compare,
    make_pipeline,
    run_policy,
)


def schedule_trace(design: Design, lengths: Sequence[int], policy: str = LENGTH_AWARE,
                   batch: int = DEFAULT_BATCH, n_stages: int = DEFAULT_STAGES,
                   edges: Sequence[int] | None = None) -> dict[str, Any]:
    """Metrics of one policy over a length trace (throughput_seq_s, latencies, utilisation)."""
    arr = np.asarray(lengths, dtype=np.int64)
    pipe = make_pipeline(design, round(float(np.minimum(arr, design.cfg.max_length).mean())),
                         n_stages)
    return run_policy(pipe, policy, arr, batch, edges).metrics(design.clock_hz)


__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_STAGES",
    "LENGTH_AWARE",
    "POLICIES",
    "Pipeline",
    "PolicyRun",
    "compare",
    "make_pipeline",
    "run_policy",
    "schedule_trace",
]
