"""Reweighted group lasso over HP blocks (Li et al., arXiv 2009.08065).

penalty = lam * sum over layers and blocks g of alpha_g * ||W_g||_2 / G, with
alpha_g = 1 / (||W_g||_2 + eps) recomputed at milestones and held fixed in between.
Reweighting makes the penalty approximate a count of non-zero blocks: small blocks get
large alphas and are driven to zero, large ones are barely touched. Dividing by the
number of blocks G keeps `lam` independent of the model's size. After the lasso phase
the lowest-norm blocks are hard-pruned to the plan and the model is retrained with the
mask fixed (`algo.prune.gradual.FixedMasks`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from algo.hp import HPShape
from algo.hp.mask import block_norms
from algo.train import TrainHook

DEFAULT_EPS = 1e-3
DEFAULT_LAMBDA = 1.0
DEFAULT_MILESTONES = 4


def torch_block_norms(weight: torch.Tensor, shape: HPShape) -> torch.Tensor:
    """Differentiable L2 norm of every Bo x Bi block: [out/bo, in/bi]."""
    out_f, in_f = weight.shape
    shape.check_divides(out_f, in_f)
    w = weight.reshape(out_f // shape.bo, shape.bo, in_f // shape.bi, shape.bi)
    # The tiny floor keeps the gradient of sqrt finite for blocks that are exactly zero.
    return (w.pow(2).sum(dim=(1, 3)) + torch.finfo(weight.dtype).tiny).sqrt()


class GroupLasso(TrainHook):
    """The reweighted group-lasso regulariser; alphas are recomputed at `milestones`."""

    def __init__(self, linears: Mapping[str, torch.nn.Linear], shape: HPShape,
                 lam: float = DEFAULT_LAMBDA, eps: float = DEFAULT_EPS,
                 n_milestones: int = DEFAULT_MILESTONES) -> None:
        if lam < 0 or eps <= 0 or n_milestones < 1:
            raise ValueError(f"group lasso needs lam >= 0, eps > 0, milestones >= 1 "
                             f"(got lam={lam}, eps={eps}, milestones={n_milestones})")
        self.linears = dict(linears)
        self.shape, self.lam, self.eps, self.n_milestones = shape, lam, eps, n_milestones
        self.alphas: dict[str, torch.Tensor] = {}
        self.milestones: list[int] = []
        self.n_groups = sum((lin.out_features // shape.bo) * (lin.in_features // shape.bi)
                            for lin in self.linears.values())

    def begin(self, model: torch.nn.Module, total_steps: int) -> None:
        self.milestones = sorted({round(total_steps * i / self.n_milestones)
                                  for i in range(self.n_milestones)})

    def update_alphas(self) -> None:
        """alpha_g = 1 / (||W_g||_2 + eps) from the current weights."""
        for name, lin in self.linears.items():
            norms = block_norms(lin.weight.detach().cpu().numpy(), self.shape)
            self.alphas[name] = torch.from_numpy(1.0 / (norms + self.eps)).to(
                lin.weight.device, lin.weight.dtype)

    def block_scores(self) -> dict[str, np.ndarray]:
        """Current block norms, for the hard prune that ends the lasso phase."""
        return {n: block_norms(lin.weight.detach().cpu().numpy(), self.shape)
                for n, lin in self.linears.items()}

    def extra_loss(self, model: torch.nn.Module, step: int) -> torch.Tensor:
        if step in self.milestones or not self.alphas:
            self.update_alphas()
        total = sum((self.alphas[n] * torch_block_norms(lin.weight, self.shape)).sum()
                    for n, lin in self.linears.items())
        return self.lam * total / self.n_groups

    def state_dict(self) -> dict:
        return {"alphas": {n: a.cpu() for n, a in self.alphas.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.alphas = {n: a.to(self.linears[n].weight.device)
                       for n, a in state["alphas"].items()}
