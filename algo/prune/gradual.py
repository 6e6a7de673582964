"""Gradual HP pruning: the cubic schedule with several mask updates during fine-tuning.

Between `start` and `end` (fractions of the run) the masks are recomputed `n_updates`
times from the current weights; layer l is pruned the same fraction of its way to its
plan density as the overall cubic schedule is of its way to the target, so the overall
sparsity follows the cubic curve exactly whatever the per-layer ratios. After `end` the
masks stay fixed and the rest of the run recovers accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from algo.prune.masks import MaskSet
from algo.prune.plan import PrunePlan
from algo.prune.schedule import cubic_sparsity, update_steps
from algo.train import TrainHook

DEFAULT_START = 0.0
DEFAULT_END = 0.7
DEFAULT_UPDATES = 10


class GradualPruner(TrainHook):
    """Prunes `linears` to `plan` along the cubic schedule; masks are HP at every update."""

    def __init__(self, linears: Mapping[str, torch.nn.Linear], plan: PrunePlan,
                 start: float = DEFAULT_START, end: float = DEFAULT_END,
                 n_updates: int = DEFAULT_UPDATES, masks: MaskSet | None = None) -> None:
        """`masks`: the mask kind to schedule (HP masks on `linears` unless given)."""
        if not 0.0 <= start < end <= 1.0:
            raise ValueError(f"need 0 <= start < end <= 1, got start={start}, end={end}")
        self.masks = MaskSet(linears) if masks is None else masks
        self.plan = plan
        self.start, self.end, self.n_updates = start, end, n_updates
        self.steps: list[int] = []
        self.s_start = self.s_end = 0

    def begin(self, model: torch.nn.Module, total_steps: int) -> None:
        # Mask updates fall after optimizer steps 0..total-1; the last one is at s_end - 1.
        self.s_start = round(self.start * total_steps)
        self.s_end = max(self.s_start + 1, round(self.end * total_steps))
        self.steps = update_steps(self.s_start, self.s_end, self.n_updates)

    def fraction(self, step: int) -> float:
        """How far (0..1) the schedule has moved from dense to the plan after `step` steps."""
        final = self.plan.overall_sparsity
        return cubic_sparsity(step, final, self.s_start, self.s_end) / final

    def after_step(self, model: torch.nn.Module, step: int) -> None:
        done = step + 1
        if done in self.steps:
            self.masks.update(self.plan, self.fraction(done))
        else:
            self.masks.apply()

    def state_dict(self) -> dict:
        return self.masks.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.masks.load_state_dict(state)


class FixedMasks(TrainHook):
    """Retraining with the masks fixed: the pruned weights stay zero after every step."""

    def __init__(self, masks: MaskSet) -> None:
        self.masks = masks

    def begin(self, model: torch.nn.Module, total_steps: int) -> None:
        self.masks.apply()

    def after_step(self, model: torch.nn.Module, step: int) -> None:
        self.masks.apply()

    def state_dict(self) -> dict:
        return self.masks.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.masks.load_state_dict(state)
