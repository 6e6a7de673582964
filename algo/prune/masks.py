"""HP masks on torch linears: computed with `algo.hp.hp_mask`, applied after every step.

On the way from dense to a plan, a layer at density d uses the fine level first:
m_t = max(m, ceil(d * bi)) entries per block row and a block keep ratio d * bi / m_t, so
the mask is an HP mask of shape (bo, bi, m_t) at every update and of the plan's shape
(bo, bi, m) once the schedule ends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch

from algo.hp import HPShape, hp_mask
from algo.prune.plan import PrunePlan

# Tolerance when rounding a density to whole fine-level entries.
_DENSITY_EPS = 1e-9


def scheduled_density(plan: PrunePlan, name: str, fraction: float) -> float:
    """The density of `name` when `fraction` (0..1) of its way from dense to the plan's
    density has been pruned."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"schedule fraction must be in [0, 1], got {fraction}")
    return 1.0 - fraction * (1.0 - plan.density(name))


def scheduled_shape(plan: PrunePlan, name: str, fraction: float) -> tuple[HPShape, float]:
    """The HP shape and block keep ratio for `name` at that point of the schedule."""
    density = scheduled_density(plan, name, fraction)
    s = plan.shape
    if fraction >= 1.0:
        return s, plan.keep_ratio(name)
    m_t = max(s.m, min(s.bi, math.ceil(density * s.bi - _DENSITY_EPS)))
    return HPShape(s.bo, s.bi, m_t), min(1.0, density * s.bi / m_t)


def layer_mask(weight: torch.Tensor, shape: HPShape, keep_ratio: float,
               block_scores: np.ndarray | None = None) -> torch.Tensor:
    """The HP mask of a torch weight, as a bool tensor on the weight's device."""
    w = weight.detach().to("cpu", torch.float32).numpy()
    return torch.from_numpy(hp_mask(w, shape, keep_ratio, block_scores)).to(weight.device)


class MaskSet:
    """Masks for named linears; `apply` zeroes the pruned weights in place."""

    def __init__(self, linears: Mapping[str, torch.nn.Linear]) -> None:
        self.linears = dict(linears)
        self.masks: dict[str, torch.Tensor] = {}
        self.shapes: dict[str, HPShape] = {}

    def update(self, plan: PrunePlan, fraction: float,
               block_scores: Mapping[str, np.ndarray] | None = None) -> None:
        """Recompute every mask from the current weights, then apply them."""
        for name, lin in self.linears.items():
            shape, keep = scheduled_shape(plan, name, fraction)
            scores = None if block_scores is None else block_scores[name]
            self.masks[name] = layer_mask(lin.weight, shape, keep, scores)
            self.shapes[name] = shape
        self.apply()

    @torch.no_grad()
    def apply(self) -> None:
        for name, mask in self.masks.items():
            self.linears[name].weight.mul_(mask.to(self.linears[name].weight.dtype))

    def state_dict(self) -> dict:
        return {"masks": {n: m.cpu() for n, m in self.masks.items()},
                "shapes": {n: (s.bo, s.bi, s.m) for n, s in self.shapes.items()}}

    def load_state_dict(self, state: Mapping) -> None:
        unknown = set(state["masks"]) - set(self.linears)
        if unknown:
            raise ValueError(f"mask state names unknown layers: {sorted(unknown)[:5]}")
        self.masks = {n: m.to(self.linears[n].weight.device) for n, m in state["masks"].items()}
        self.shapes = {n: HPShape(*s) for n, s in state["shapes"].items()}
        self.apply()


class MagnitudeMasks(MaskSet):
    """Unstructured masks: the largest-|w| weights of each layer, at the plan's per-layer
    density (scheduled like the HP masks). A reference for what the HP structure costs;
    the accelerator cannot run these."""

    def update(self, plan: PrunePlan, fraction: float,
               block_scores: Mapping[str, np.ndarray] | None = None) -> None:
        if block_scores is not None:
            raise ValueError("unstructured masks take no block scores")
        for name, lin in self.linears.items():
            self.masks[name] = magnitude_mask(lin.weight,
                                              scheduled_density(plan, name, fraction))
            self.shapes[name] = plan.shape
        self.apply()


def magnitude_mask(weight: torch.Tensor, density: float) -> torch.Tensor:
    """Keeps the round(density * size) largest-magnitude entries (at least one)."""
    w = weight.detach().abs().flatten()
    keep = max(1, min(w.numel(), math.floor(density * w.numel() + 0.5)))
    mask = torch.zeros_like(w, dtype=torch.bool)
    mask[torch.topk(w, keep, sorted=False).indices] = True
    return mask.view_as(weight)


def measured_sparsity(linears: Mapping[str, torch.nn.Linear]) -> float:
    """The fraction of zero weights over all the given linears (by parameter count)."""
    zeros = sum(int((lin.weight == 0).sum()) for lin in linears.values())
    total = sum(lin.weight.numel() for lin in linears.values())
    return zeros / total


def linear_sizes(linears: Mapping[str, torch.nn.Linear]) -> dict[str, tuple[int, int]]:
    return {n: (lin.out_features, lin.in_features) for n, lin in linears.items()}
