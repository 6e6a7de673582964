"""Per-layer HP budgets: how many Bo x Bi blocks each encoder linear keeps.

A plan counts kept blocks rather than ratios, so the overall density of a plan is exact
by parameter count: every kept block holds Bo x m weights in every layer, hence
density = (sum of kept blocks) * Bo * m / (sum of layer sizes). Uniform plans and
sampled (searched) plans for one target keep the same total number of blocks, so they
compare at exactly the same overall sparsity.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from algo.hp import HPShape

# The mask structures a plan can be pruned to (algo.prune.recipes.structure_shape): HP
# itself, its two levels alone, and unstructured magnitude pruning, the bound no structure
# can beat (the pruning diagnosis of docs/pruning.md).
STRUCTURES = ("hp", "fine", "blocks", "unstructured")

# Bisection steps for the water-filling scale; 200 halvings reach float precision.
_BISECT_STEPS = 200


@dataclass(frozen=True)
class PrunePlan:
    """Kept blocks per layer under one global HP shape."""

    shape: HPShape
    sizes: dict[str, tuple[int, int]]  # layer name -> (out_features, in_features)
    keep_blocks: dict[str, int]

    def __post_init__(self) -> None:
        if set(self.sizes) != set(self.keep_blocks):
            raise ValueError("plan: sizes and keep_blocks name different layers")
        for name, k in self.keep_blocks.items():
            n = self.n_blocks(name)
            if not 1 <= k <= n:
                raise ValueError(f"plan: layer {name!r} keeps {k} blocks, allowed 1..{n}")

    def n_blocks(self, name: str) -> int:
        out_f, in_f = self.sizes[name]
        self.shape.check_divides(out_f, in_f)
        return (out_f // self.shape.bo) * (in_f // self.shape.bi)

    def keep_ratio(self, name: str) -> float:
        """The block keep ratio for `algo.hp.hp_mask` (which rounds it back to the count)."""
        return self.keep_blocks[name] / self.n_blocks(name)

    def density(self, name: str) -> float:
        return self.keep_ratio(name) * self.shape.m / self.shape.bi

    @property
    def total_params(self) -> int:
        return sum(o * i for o, i in self.sizes.values())

    @property
    def kept_params(self) -> int:
        return sum(self.keep_blocks.values()) * self.shape.bo * self.shape.m

    @property
    def overall_density(self) -> float:
        return self.kept_params / self.total_params

    @property
    def overall_sparsity(self) -> float:
        return 1.0 - self.overall_density

    def to_dict(self) -> dict:
        return {"bo": self.shape.bo, "bi": self.shape.bi, "m": self.shape.m,
                "overall_sparsity": self.overall_sparsity,
                "layers": {n: {"shape": list(self.sizes[n]), "keep_blocks": self.keep_blocks[n],
                               "density": self.density(n)} for n in self.sizes}}

    @classmethod
    def from_dict(cls, d: Mapping) -> PrunePlan:
        try:
            shape = HPShape(int(d["bo"]), int(d["bi"]), int(d["m"]))
            layers = d["layers"]
            return cls(shape, {n: tuple(v["shape"]) for n, v in layers.items()},
                       {n: int(v["keep_blocks"]) for n, v in layers.items()})
        except (KeyError, TypeError) as e:
            raise ValueError(f"plan: missing or malformed field {e}") from None

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> PrunePlan:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError, ValueError) as e:
            raise ValueError(f"{path}: not a prune plan ({e})") from None


def target_blocks(sizes: Mapping[str, tuple[int, int]], density: float, shape: HPShape) -> int:
    """Total kept blocks for an overall `density` (nearest count; exact by parameter count)."""
    total = sum(o * i for o, i in sizes.values())
    k = math.floor(density * total / (shape.bo * shape.m) + 0.5)
    n_max = sum((o // shape.bo) * (i // shape.bi) for o, i in sizes.values())
    if not len(sizes) <= k <= n_max:
        raise ValueError(f"density {density} needs {k} kept blocks, possible "
                         f"{len(sizes)}..{n_max} with m={shape.m} of bi={shape.bi}; change m")
    return k


def allocate(total: int, weights: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Integers in [1, cap] summing exactly to `total`, proportional to `weights` as far as
    the bounds allow (water-filling, then largest remainders; ties to the lower index)."""
    weights = np.asarray(weights, dtype=np.float64)
    caps = np.asarray(caps, dtype=np.int64)
    if not len(caps) <= total <= caps.sum():
        raise ValueError(f"cannot allocate {total} within bounds 1..{caps.tolist()}")
    if np.any(weights <= 0):
        raise ValueError("allocation weights must be positive")

    def filled(scale: float) -> np.ndarray:
        return np.clip(scale * weights, 1.0, caps)

    lo, hi = 0.0, float(caps.max() / weights.min())
    for _ in range(_BISECT_STEPS):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if filled(mid).sum() < total else (lo, mid)
    real = filled(hi)
    k = np.clip(np.floor(real).astype(np.int64), 1, caps)
    deficit = total - int(k.sum())
    order = np.argsort(-(real - k), kind="stable")
    for i in order:
        if deficit == 0:
            break
        step = 1 if deficit > 0 else -1
        if 1 <= k[i] + step <= caps[i]:
            k[i] += step
            deficit -= step
    if deficit:
        raise AssertionError(f"allocation left {deficit} blocks over")  # cannot happen
    return k


def _plan(sizes: Mapping[str, tuple[int, int]], shape: HPShape, total: int,
          weights: np.ndarray) -> PrunePlan:
    names = list(sizes)
    caps = np.array([(sizes[n][0] // shape.bo) * (sizes[n][1] // shape.bi) for n in names])
    k = allocate(total, weights * caps, caps)
    return PrunePlan(shape, dict(sizes), {n: int(v) for n, v in zip(names, k, strict=True)})


def uniform_plan(sizes: Mapping[str, tuple[int, int]], density: float,
                 shape: HPShape) -> PrunePlan:
    """The same keep ratio in every layer (as equal as whole blocks allow)."""
    return _plan(sizes, shape, target_blocks(sizes, density, shape), np.ones(len(sizes)))


def sample_plan(sizes: Mapping[str, tuple[int, int]], density: float, shape: HPShape,
                rng: np.random.Generator, spread: float) -> PrunePlan:
    """A random per-layer plan with exactly the uniform plan's total of kept blocks.

    Each layer's keep ratio is scaled by a log-normal factor exp(spread * z), z ~ N(0, 1);
    the allocation then meets the total exactly and keeps every layer within 1..all blocks.
    """
    factors = np.exp(spread * rng.standard_normal(len(sizes)))
    return _plan(sizes, shape, target_blocks(sizes, density, shape), factors)
