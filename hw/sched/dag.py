"""The operator DAG of an encoder layer and its critical-path priority (DAC 2022, Sec. 4.2).

P(v, s) = W(v, s) + max over successors u of P(u, s); a sink has P = W. Listing the
operators by decreasing P gives a topological order (with positive W a predecessor
always outranks its successors), which is the order stages are cut from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from hw.perf.ops import ENCODER_OPS, Op


@dataclass(frozen=True)
class Dag:
    """Nodes in a fixed order and, per node, its successors."""

    nodes: tuple[str, ...]
    successors: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_deps(cls, deps: Mapping[str, Sequence[str]]) -> Dag:
        """Build from `node -> predecessors`; rejects unknown nodes and cycles."""
        nodes = tuple(deps)
        succ: dict[str, list[str]] = {n: [] for n in nodes}
        for node, preds in deps.items():
            for p in preds:
                if p not in succ:
                    raise ValueError(f"dag: {node!r} depends on unknown node {p!r}")
                succ[p].append(node)
        dag = cls(nodes, {n: tuple(s) for n, s in succ.items()})
        dag.topological()
        return dag

    def topological(self) -> tuple[str, ...]:
        """Nodes in a dependency order (Kahn, ties by node order); raises on a cycle."""
        indeg = {n: 0 for n in self.nodes}
        for n in self.nodes:
            for s in self.successors[n]:
                indeg[s] += 1
        ready = [n for n in self.nodes if indeg[n] == 0]
        order: list[str] = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for s in self.successors[n]:
                indeg[s] -= 1
                if indeg[s] == 0:
                    ready.append(s)
        if len(order) != len(self.nodes):
            raise ValueError(f"dag: cycle among {sorted(set(self.nodes) - set(order))}")
        return tuple(order)


def encoder_dag(ops: Sequence[Op] = ENCODER_OPS) -> Dag:
    return Dag.from_deps({op.name: op.deps for op in ops})


def priorities(dag: Dag, weight: Callable[[str], float]) -> dict[str, float]:
    """P(v) = W(v) + max over successors P(u), computed sinks first."""
    p: dict[str, float] = {}
    for n in reversed(dag.topological()):
        p[n] = weight(n) + max((p[s] for s in dag.successors[n]), default=0.0)
    return p


def priority_order(dag: Dag, p: Mapping[str, float]) -> tuple[str, ...]:
    """Nodes by decreasing priority, ties by node order: a topological order if W > 0."""
    rank = {n: i for i, n in enumerate(dag.nodes)}
    return tuple(sorted(dag.nodes, key=lambda n: (-p[n], rank[n])))
