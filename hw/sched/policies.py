"""Three ways to feed the same pipeline with a length trace, and the schedule table.

- pad_to_max: kernel calls of `batch` sequences, every one padded to max_length; one
  static allocation balanced at max_length.
- pad_to_batch_max: kernel calls of `batch` sequences padded to the batch's longest;
  one static allocation balanced at the mean padded length.
- length_aware: no padding (engines run to the real length); sequences grouped by
  length bucket, longest first inside a bucket; per bucket an allocation balanced at the
  bucket's mean length (P(v, s_avg)); results stream back one by one; the pipeline
  drains only when the allocation changes between buckets, and then reloads the weights
  from DDR into the re-allocated groups.
The hardware (G groups, the stages, the in-flight window) is the same for all three.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from algo.buckets import assign
from hw.perf.model import MS_PER_S, Design
from hw.perf.ops import ATTENTION, ENCODER_OPS, OPS_BY_NAME, Op
from hw.sched.dag import encoder_dag, priorities, priority_order
from hw.sched.simulate import SimResult, SimSeq, simulate
from hw.sched.stages import allocate, partition

PAD_TO_MAX, PAD_TO_BATCH_MAX, LENGTH_AWARE = "pad_to_max", "pad_to_batch_max", "length_aware"
POLICIES = (PAD_TO_MAX, PAD_TO_BATCH_MAX, LENGTH_AWARE)
DEFAULT_STAGES = 4
DEFAULT_BATCH = 8
P99 = 99


@dataclass(frozen=True)
class Pipeline:
    """A design cut into stages; priorities come from the operator DAG."""

    design: Design
    stages: tuple[tuple[Op, ...], ...]
    _prio: dict[tuple[int, int, int], float] = field(default_factory=dict, compare=False)

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    def stage_cycles(self, layer: int, stage: int, length: int, groups: int) -> int:
        return self.design.cost.stage_cycles(self.stages[stage], layer, length, groups)

    def layer_priorities(self, layer: int, length: int) -> dict[str, float]:
        """P(v, s) over one layer's operators, W on a single group."""
        cost = self.design.cost
        return priorities(encoder_dag(), lambda v: cost.op_cycles(OPS_BY_NAME[v], layer,
                                                                    length, 1))

    def stage_priority(self, layer: int, stage: int, length: int) -> float:
        """A stage job's priority: the largest P(v, s) among its operators."""
        key = (layer, stage, length)
        if key not in self._prio:
            p = self.layer_priorities(layer, length)
            self._prio[key] = max(p[op.name] for op in self.stages[stage])
        return self._prio[key]

    def needs_groups(self, stage: int) -> bool:
        """Attention runs on the attention engines; every other operator on PE groups."""
        return any(op.kind != ATTENTION for op in self.stages[stage])

    def units(self, groups: Sequence[int]) -> tuple[int, ...]:
        """Engines busy in each stage: its PE groups, plus the attention engines in its own."""
        a = self.design.cfg.attn_heads_parallel
        return tuple(g + (a if any(op.kind == ATTENTION for op in st) else 0)
                     for g, st in zip(groups, self.stages, strict=True))

    @property
    def total_units(self) -> int:
        return self.design.groups + self.design.cfg.attn_heads_parallel

    def allocation(self, length: int) -> tuple[int, ...]:
        """Groups per stage balancing the stages' total time (all layers) at `length`."""
        layers = range(self.design.cfg.model.layers)
        minimum = [int(self.needs_groups(st)) for st in range(self.n_stages)]
        return allocate(lambda st, g: sum(self.stage_cycles(la, st, length, g) for la in layers),
                        self.n_stages, self.design.groups, minimum)


def make_pipeline(design: Design, mean_length: int, n_stages: int = DEFAULT_STAGES) -> Pipeline:
    """Cut the priority order of layer 0 at the trace's mean length into `n_stages` stages.

    Operators are weighed on the share of groups a stage would get if all were equal.
    """
    cost = design.cost
    share = max(1, design.groups // n_stages)
    w = {op.name: float(cost.op_cycles(op, 0, mean_length, share)) for op in ENCODER_OPS}
    dag = encoder_dag()
    order = priority_order(dag, priorities(dag, w.__getitem__))
    cut = partition(order, w, n_stages)
    return Pipeline(design, tuple(tuple(OPS_BY_NAME[n] for n in stage) for stage in cut))


def plan(policy: str, lengths: np.ndarray, max_length: int, batch: int,
         edges: Sequence[int]) -> tuple[list[SimSeq], dict[int, int]]:
    """The admission order and, per segment, the length its allocation is balanced at."""
    lengths = np.minimum(np.asarray(lengths, dtype=np.int64), max_length)
    n = lengths.size
    if policy == PAD_TO_MAX or policy == PAD_TO_BATCH_MAX:
        batches = np.arange(n) // batch
        if policy == PAD_TO_MAX:
            run = np.full(n, max_length)
        else:
            run = np.maximum.reduceat(lengths, np.arange(0, n, batch))[batches]
        balance = max_length if policy == PAD_TO_MAX else round(float(run.mean()))
        seqs = [SimSeq(i, int(lengths[i]), int(run[i]), int(batches[i]), int(batches[i]))
                for i in range(n)]
        return seqs, {int(b): balance for b in np.unique(batches)}
    if policy != LENGTH_AWARE:
        raise ValueError(f"policy: {policy!r} is not one of {POLICIES}")
    edges = tuple(int(e) for e in edges)
    if not edges or edges[0] < 1 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"edges: must be positive and strictly ascending, got {list(edges)}")
    if n and edges[-1] < int(lengths.max()):
        raise ValueError(f"edges: the last edge {edges[-1]} is shorter than the longest "
                         f"sequence ({int(lengths.max())} tokens, after truncation to "
                         f"max_length={max_length}); end the edges at {max_length}")
    bucket = assign(lengths, edges)
    order = np.lexsort((np.arange(n), -lengths, bucket))
    seqs = [SimSeq(int(i), int(lengths[i]), int(lengths[i]), int(bucket[i]), int(i))
            for i in order]
    balance = {int(e): round(float(lengths[bucket == e].mean())) for e in np.unique(bucket)}
    return seqs, balance


@dataclass
class PolicyRun:
    """One policy's admission order, allocations per segment and simulated outcome."""

    policy: str
    seqs: list[SimSeq]
    allocations: dict[int, tuple[int, ...]]
    result: SimResult

    def metrics(self, clock_hz: float) -> dict[str, Any]:
        r = self.result
        lat_ms = r.latency / clock_hz * MS_PER_S
        return {
            "throughput_seq_s": len(self.seqs) / (r.makespan / clock_hz),
            "mean_latency_ms": float(lat_ms.mean()),
            "p99_latency_ms": float(np.percentile(lat_ms, P99)),
            "slot_utilization": r.slot_utilization,
            "busy_utilization": r.busy / (r.total_units * r.makespan),
            "makespan_ms": r.makespan / clock_hz * MS_PER_S,
        }

    def table(self) -> list[dict[str, Any]]:
        """The schedule table for the host, per sequence in admission order: its length, its
        bucket (the edge; the padded length under padding), the configuration (PE groups per
        stage) it runs with, and when it enters and leaves the pipeline."""
        return [{"seq": s.seq, "length": s.length,
                 "bucket": s.segment if self.policy == LENGTH_AWARE else s.run_length,
                 "run_length": s.run_length, "segment": s.segment,
                 "groups": list(self.allocations[s.segment]),
                 "admit_cycle": int(self.result.admit[i]),
                 "finish_cycle": int(self.result.finish[i])}
                for i, s in enumerate(self.seqs)]


def run_policy(pipe: Pipeline, policy: str, lengths: np.ndarray, batch: int = DEFAULT_BATCH,
               edges: Sequence[int] | None = None, window: int | None = None) -> PolicyRun:
    """Plan, allocate per segment (once per distinct balance length) and simulate."""
    cfg = pipe.design.cfg
    seqs, balance = plan(policy, lengths, cfg.max_length, batch,
                         tuple(edges or cfg.bucket_edges))
    by_length: dict[int, tuple[int, ...]] = {}
    allocations = {}
    for seg, s in balance.items():
        if s not in by_length:
            by_length[s] = pipe.allocation(s)
        allocations[seg] = by_length[s]

    def cycles(seg: int, layer: int, stage: int, length: int) -> int:
        return pipe.stage_cycles(layer, stage, length, allocations[seg][stage])

    reload = pipe.design.weight_reload_cycles()

    def switch(prev: int, nxt: int) -> int:
        return 0 if allocations[prev] == allocations[nxt] else reload

    units = {seg: pipe.units(a) for seg, a in allocations.items()}
    result = simulate(seqs, cfg.model.layers, pipe.n_stages, cycles, units.__getitem__,
                      pipe.stage_priority, window or batch, pipe.total_units, switch)
    return PolicyRun(policy, seqs, allocations, result)


def compare(pipe: Pipeline, lengths: np.ndarray, batch: int = DEFAULT_BATCH,
            edges: Sequence[int] | None = None) -> dict[str, PolicyRun]:
    """All three policies on the same pipeline and trace."""
    return {p: run_policy(pipe, p, lengths, batch, edges) for p in POLICIES}
