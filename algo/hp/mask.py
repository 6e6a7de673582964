"""HP masks: a coarse block level and a balanced fine level inside kept blocks.

A weight W[out, in] (y = W x) is cut into Bo x Bi blocks. The coarse level keeps the
`n_keep` blocks of largest L2 norm; the fine level keeps, in every row of every kept
block, exactly m of the Bi entries with the largest magnitude. Ties break toward the
lower index, so a mask is a pure function of its inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# In-block column indices are stored as this type (HPMatrix.idx, the artifact, the
# hardware's index banks), so a block may be at most this many columns wide.
INDEX_DTYPE = np.uint8
MAX_BI = int(np.iinfo(INDEX_DTYPE).max) + 1


@dataclass(frozen=True)
class HPShape:
    """The block geometry of an HP layer: Bo rows x Bi columns per block, m kept per row."""

    bo: int
    bi: int
    m: int

    def __post_init__(self) -> None:
        for name in ("bo", "bi", "m"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"HP {name} must be >= 1, got {getattr(self, name)}")
        if self.m > self.bi:
            raise ValueError(f"HP m={self.m} cannot exceed bi={self.bi}")
        if self.bi > MAX_BI:
            raise ValueError(f"HP bi={self.bi} exceeds {MAX_BI}: in-block column indices are "
                             f"stored as {np.dtype(INDEX_DTYPE).name} (0..{MAX_BI - 1}); "
                             f"use --bi <= {MAX_BI}")

    def check_divides(self, out_features: int, in_features: int) -> None:
        if out_features % self.bo or in_features % self.bi:
            raise ValueError(
                f"weight shape ({out_features}, {in_features}) is not divisible into "
                f"blocks of (bo={self.bo}, bi={self.bi})"
            )


def choose_m(density: float, bi: int) -> int:
    """The fine level m for an overall `density`: the smallest m with m / bi >= density.

    Why: removing whole blocks costs far more accuracy than the balanced fine level (on
    MiniLM at 70% sparsity, m = 5 of 16 with 4% of blocks removed scored STS-B Pearson
    62.3 where m = 8 with 40% removed scored 35.2; docs/pruning.md), so the fine level
    takes as much of the sparsity as it can and the coarse level only the rest. Any
    1 <= m <= bi is valid: PE p reads m values and indices of log2(bi) bits from its own
    bank, and the HLS and RTL engines are tested at m = 3.
    """
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    return max(1, min(bi, math.ceil(density * bi - 1e-9)))


def split_density(density: float, shape: HPShape) -> float:
    """The block keep ratio that gives an overall `density` with this shape's fine level.

    density = keep_ratio * m / bi, so keep_ratio = density * bi / m; it must be <= 1.
    """
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    keep = density * shape.bi / shape.m
    if keep > 1.0 + 1e-9:
        raise ValueError(
            f"density {density} is above what m={shape.m} of bi={shape.bi} allows "
            f"({shape.m / shape.bi:.3f}); raise m"
        )
    return min(keep, 1.0)


def block_norms(weight: np.ndarray, shape: HPShape) -> np.ndarray:
    """L2 norm of every block: array [out/bo, in/bi]."""
    out_f, in_f = weight.shape
    shape.check_divides(out_f, in_f)
    w = np.asarray(weight, dtype=np.float64).reshape(out_f // shape.bo, shape.bo,
                                                     in_f // shape.bi, shape.bi)
    return np.sqrt((w * w).sum(axis=(1, 3)))


def _top_mask(scores: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Boolean mask of the k largest along `axis`, ties to the lower index."""
    order = np.argsort(-scores, axis=axis, kind="stable")
    ranks = np.argsort(order, axis=axis, kind="stable")
    return ranks < k


def hp_mask(weight: np.ndarray, shape: HPShape, keep_ratio: float,
            block_scores: np.ndarray | None = None) -> np.ndarray:
    """The HP mask (bool, same shape as `weight`) keeping round(keep_ratio * blocks) blocks.

    `block_scores` overrides the block L2 norms (e.g. group-lasso-weighted scores).
    At least one block is kept.
    """
    if not 0.0 < keep_ratio <= 1.0:
        raise ValueError(f"block keep ratio must be in (0, 1], got {keep_ratio}")
    weight = np.asarray(weight)
    if weight.ndim != 2:
        raise ValueError(f"HP needs a 2-D weight, got shape {weight.shape}")
    out_f, in_f = weight.shape
    shape.check_divides(out_f, in_f)
    nbr, nbc = out_f // shape.bo, in_f // shape.bi
    scores = block_norms(weight, shape) if block_scores is None else np.asarray(block_scores)
    if scores.shape != (nbr, nbc):
        raise ValueError(f"block_scores shape {scores.shape} != blocks ({nbr}, {nbc})")
    n_keep = max(1, min(nbr * nbc, math.floor(keep_ratio * nbr * nbc + 0.5)))
    keep_blocks = _top_mask(scores.ravel(), n_keep, axis=0).reshape(nbr, nbc)
    mag = np.abs(np.asarray(weight, dtype=np.float64)).reshape(nbr, shape.bo, nbc, shape.bi)
    fine = _top_mask(mag, shape.m, axis=3)
    mask = fine & keep_blocks[:, None, :, None]
    return mask.reshape(out_f, in_f)


def is_hp_mask(mask: np.ndarray, shape: HPShape) -> bool:
    """True when every block is empty or has exactly m kept entries in each of its rows."""
    mask = np.asarray(mask, dtype=bool)
    out_f, in_f = mask.shape
    if out_f % shape.bo or in_f % shape.bi:
        return False
    per_row = mask.reshape(out_f // shape.bo, shape.bo, in_f // shape.bi, shape.bi).sum(axis=3)
    return bool(np.all((per_row == 0).all(axis=1) | (per_row == shape.m).all(axis=1)))
