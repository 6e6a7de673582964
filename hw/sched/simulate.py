"""Discrete-event simulation of the coarse-grained pipeline over a sequence trace.

Stages 0..K-1 form a ring: a sequence runs stage 0..K-1 for layer 0, then again for
layer 1, and so on. Each stage serves one job (sequence, layer) at a time; a free stage
takes the waiting job of highest priority, ties going to the sequence admitted first.
At most `window` sequences are in flight (one activation buffer each). Sequences are
admitted in the given order; a new segment (another bucket's allocation, or another
kernel call) is admitted only once the pipeline has drained, and after
`switch(previous, next)` more cycles (reloading weights into re-allocated groups).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SimSeq:
    """One sequence as the pipeline sees it."""

    seq: int  # index in the original trace
    length: int  # real tokens: the useful work
    run_length: int  # tokens processed (padded, or the real length)
    segment: int  # segments run one after another, with a drain between them
    release: int  # sequences with the same release id return together (one kernel call)


@dataclass(frozen=True)
class Job:
    seq: int
    layer: int
    stage: int
    start: int
    end: int
    useful: int  # cycles the same job takes at the real length


@dataclass
class SimResult:
    """What happened, in cycles; `useful` and `busy` are unit-cycles (a unit is a PE group
    or an attention engine)."""

    jobs: list[Job]
    admit: np.ndarray  # per position in the admitted order
    finish: np.ndarray
    release_time: np.ndarray  # when the result is handed back
    start_time: np.ndarray  # when its kernel call (release group) started
    makespan: int
    useful: int
    busy: int
    total_units: int

    @property
    def slot_utilization(self) -> float:
        """Useful (unpadded) unit-cycles over all unit-cycles of the run."""
        return self.useful / (self.total_units * self.makespan) if self.makespan else 0.0

    @property
    def latency(self) -> np.ndarray:
        return self.release_time - self.start_time


WAKE = -1  # event kind: the pipeline may admit the next segment
StageCycles = Callable[[int, int, int, int], int]  # (segment, layer, stage, length)
Priority = Callable[[int, int, int], float]  # (layer, stage, length)


def simulate(seqs: Sequence[SimSeq], n_layers: int, n_stages: int, stage_cycles: StageCycles,
             units: Callable[[int], Sequence[int]], priority: Priority, window: int,
             total_units: int, switch: Callable[[int, int], int] | None = None) -> SimResult:
    """Run the trace; `units(segment)`: the engines each stage holds in that segment."""
    if window < 1:
        raise ValueError(f"window: must be >= 1, got {window}")
    n = len(seqs)
    admit = np.zeros(n, dtype=np.int64)
    finish = np.zeros(n, dtype=np.int64)
    queues: list[list[tuple[float, int, int]]] = [[] for _ in range(n_stages)]
    free = [True] * n_stages
    events: list[tuple[int, int, int, int]] = []  # (time, stage, position, layer)
    wake = -1  # time from which the next segment may enter (after its switch cost)
    jobs: list[Job] = []
    useful = busy = 0
    nxt = in_flight = 0
    segment = seqs[0].segment if n else 0

    def enqueue(pos: int, layer: int, stage: int) -> None:
        s = seqs[pos]
        heapq.heappush(queues[stage], (-priority(layer, stage, s.run_length), pos, layer))

    t = 0
    while True:
        while nxt < n and in_flight < window:
            if seqs[nxt].segment != segment:
                if in_flight:
                    break
                if wake < 0:
                    wake = t + (switch(segment, seqs[nxt].segment) if switch else 0)
                if t < wake:
                    heapq.heappush(events, (wake, WAKE, -1, -1))
                    break
                segment, wake = seqs[nxt].segment, -1
            admit[nxt] = t
            in_flight += 1
            enqueue(nxt, 0, 0)
            nxt += 1
        for stage in range(n_stages):
            if free[stage] and queues[stage]:
                _, pos, layer = heapq.heappop(queues[stage])
                s = seqs[pos]
                dur = stage_cycles(s.segment, layer, stage, s.run_length)
                g = units(s.segment)[stage]
                real = stage_cycles(s.segment, layer, stage, s.length)
                useful += real * g
                busy += dur * g
                free[stage] = False
                jobs.append(Job(s.seq, layer, stage, t, t + dur, real))
                heapq.heappush(events, (t + dur, stage, pos, layer))
        if not events:
            break
        t = events[0][0]
        while events and events[0][0] == t:
            _, stage, pos, layer = heapq.heappop(events)
            if stage == WAKE:
                continue
            free[stage] = True
            if stage + 1 < n_stages:
                enqueue(pos, layer, stage + 1)
            elif layer + 1 < n_layers:
                enqueue(pos, layer + 1, 0)
            else:
                finish[pos] = t
                in_flight -= 1
    release_time, start_time = _release(seqs, admit, finish)
    return SimResult(jobs, admit, finish, release_time, start_time, t, useful, busy,
                     total_units)


def _release(seqs: Sequence[SimSeq], admit: np.ndarray,
             finish: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sequence: when its release group's last result and first admission happened."""
    ids = np.array([s.release for s in seqs], dtype=np.int64)
    if not ids.size:
        return finish.copy(), admit.copy()
    _, inverse = np.unique(ids, return_inverse=True)
    last = np.zeros(inverse.max() + 1, dtype=np.int64)
    first = np.full(inverse.max() + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.maximum.at(last, inverse, finish)
    np.minimum.at(first, inverse, admit)
    return last[inverse], first[inverse]
