"""Pictures of a schedule: a Gantt chart of the first sequences and per-stage utilisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hw.sched.policies import PolicyRun

GANTT_SEQUENCES = 8  # sequences shown in each Gantt chart
US_PER_S = 1e6
OTHERS_COLOUR = "0.85"


def stage_utilization(run: PolicyRun, n_stages: int) -> tuple[np.ndarray, np.ndarray]:
    """Per stage: busy and useful (unpadded) time as fractions of the makespan."""
    busy, useful = np.zeros(n_stages), np.zeros(n_stages)
    for j in run.result.jobs:
        busy[j.stage] += j.end - j.start
        useful[j.stage] += j.useful
    span = max(run.result.makespan, 1)
    return busy / span, useful / span


def plot_schedule(runs: dict[str, PolicyRun], n_stages: int, clock_hz: float,
                  path: str | Path) -> Path:
    """One Gantt row per policy (first sequences admitted) and a utilisation bar chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(runs) + 1, 1, figsize=(11, 2.6 * (len(runs) + 1)))
    cmap = plt.get_cmap("tab10")
    for ax, (name, run) in zip(axes, runs.items(), strict=False):
        shown = {s.seq: i for i, s in enumerate(run.seqs[:GANTT_SEQUENCES])}
        horizon = max(int(run.result.finish[: len(shown)].max()), 1)
        for j in run.result.jobs:
            if j.start < horizon:
                colour = cmap(shown[j.seq] % cmap.N) if j.seq in shown else OTHERS_COLOUR
                ax.broken_barh([(j.start / clock_hz * US_PER_S,
                                 (j.end - j.start) / clock_hz * US_PER_S)],
                               (j.stage - 0.4, 0.8), color=colour)
        ax.set_yticks(range(n_stages), [f"stage {i}" for i in range(n_stages)])
        ax.invert_yaxis()
        ax.set_title(f"{name}: first {len(shown)} sequences in colour, later ones grey")
        ax.set_xlabel("time (us, modeled)")
    ax = axes[-1]
    width = 0.8 / len(runs)
    for k, (name, run) in enumerate(runs.items()):
        busy, useful = stage_utilization(run, n_stages)
        x = np.arange(n_stages) + k * width
        ax.bar(x, busy, width, color=cmap(k), alpha=0.35)
        ax.bar(x, useful, width, color=cmap(k), label=f"{name} (solid: useful, pale: padded)")
    ax.set_xticks(np.arange(n_stages) + 0.4 - width / 2, [f"stage {i}" for i in range(n_stages)])
    ax.set_ylabel("fraction of makespan")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
