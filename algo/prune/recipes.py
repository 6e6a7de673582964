"""The end-to-end workflows that `sbf finetune`, `sbf prune ...` and the accuracy
benchmark share: load a task, fine-tune, prune (gradual, lasso, searched), save, export.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from algo.glue import load_split, task_spec
from algo.hp import HPMatrix, HPShape, choose_m
from algo.hp.format import encode as hp_encode
from algo.hp.model import encoder_linears, export_hp_artifact
from algo.prune.distill import DistillConfig, Distiller
from algo.prune.gradual import DEFAULT_END, DEFAULT_UPDATES, FixedMasks, GradualPruner
from algo.prune.lasso import DEFAULT_EPS, DEFAULT_LAMBDA, DEFAULT_MILESTONES, GroupLasso
from algo.prune.masks import MagnitudeMasks, MaskSet, linear_sizes, measured_sparsity
from algo.prune.plan import STRUCTURES, PrunePlan, uniform_plan
from algo.train import (
    Encoded,
    LossFn,
    TrainConfig,
    TrainResult,
    default_loss,
    encode,
    subset_split,
    train,
)

TRAIN_META = "sbf_train.json"  # what produced a saved model directory


@dataclass
class TaskData:
    task: str
    train: Encoded
    dev: Encoded


def load_task_data(task: str, tokenizer: Any, max_length: int, n_train: int | None,
                   seed: int, glue_dir: str | None = None) -> TaskData:
    """A seeded training subset of `n_train` examples (all when None) and the WHOLE dev split."""
    spec = task_spec(task)
    tr = subset_split(load_split(spec.name, "train", glue_dir), n_train, seed)
    dev = encode(tokenizer, load_split(spec.name, "dev", glue_dir), max_length)
    return TaskData(spec.name, encode(tokenizer, tr, max_length), dev)


def hp_shape_for(sparsity: float, bo: int, bi: int, m: int | None = None) -> HPShape:
    """The HP shape for a target overall sparsity; m from `choose_m` unless given."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    return HPShape(bo, bi, m if m is not None else choose_m(1.0 - sparsity, bi))


# Fine-level-only shapes pick the block width whose m/bi lands nearest the target density.
FINE_WIDTHS = (16, 32, 64)


def structure_shape(structure: str, sparsity: float, bo: int, bi: int) -> HPShape:
    """The HP shape that a uniform plan of `structure` prunes to at `sparsity`:
    hp: m from `choose_m`, blocks removed for the rest; fine: every block kept, m of bi per
    row (bi from FINE_WIDTHS, nearest density); blocks: whole bo x bi blocks (m = bi);
    unstructured: the hp shape, only its per-layer densities are used."""
    if structure not in STRUCTURES:
        raise ValueError(f"unknown structure {structure!r}; choose one of {', '.join(STRUCTURES)}")
    if structure == "blocks":
        return hp_shape_for(sparsity, bo, bi, m=bi)
    if structure == "fine":
        density = 1.0 - sparsity
        width = min(FINE_WIDTHS, key=lambda w: abs(max(1, round(density * w)) / w - density))
        return hp_shape_for(sparsity, bo, width, m=max(1, round(density * width)))
    return hp_shape_for(sparsity, bo, bi)


def structure_plan(model: torch.nn.Module, structure: str, sparsity: float,
                   shape: HPShape) -> PrunePlan:
    """The uniform plan of `structure`: fine keeps every block (its density is m/bi)."""
    return make_uniform_plan(model, 1.0 - shape.m / shape.bi if structure == "fine"
                             else sparsity, shape)


def make_uniform_plan(model: torch.nn.Module, sparsity: float, shape: HPShape) -> PrunePlan:
    return uniform_plan(linear_sizes(encoder_linears(model)), 1.0 - sparsity, shape)


def distiller_for(teacher: torch.nn.Module | None, cfg: DistillConfig | None) -> LossFn:
    """Distillation whenever a teacher is given (default settings unless `cfg`), else the
    plain task loss."""
    if teacher is None:
        return default_loss
    return Distiller(teacher, cfg or DistillConfig())


def _needs_hidden(loss_fn: LossFn) -> bool:
    return isinstance(loss_fn, Distiller) and loss_fn.needs_hidden_states


def prune_gradual(model: torch.nn.Module, data: Encoded, plan: PrunePlan, cfg: TrainConfig,
                  teacher: torch.nn.Module | None = None,
                  distill: DistillConfig | None = None,
                  end: float = DEFAULT_END, n_updates: int = DEFAULT_UPDATES,
                  checkpoint_dir: str | Path | None = None,
                  progress: bool = True, unstructured: bool = False
                  ) -> tuple[MaskSet, TrainResult]:
    """Fine-tune while pruning to `plan` on the cubic schedule; returns the final masks.
    `unstructured`: magnitude masks at the plan's per-layer densities instead of HP."""
    linears = encoder_linears(model)
    pruner = GradualPruner(linears, plan, end=end, n_updates=n_updates,
                           masks=MagnitudeMasks(linears) if unstructured else None)
    loss_fn = distiller_for(teacher, distill)
    result = train(model, data, cfg, hooks=[pruner], loss_fn=loss_fn,
                   output_hidden_states=_needs_hidden(loss_fn),
                   checkpoint_dir=checkpoint_dir, progress=progress, desc="prune gradual")
    return pruner.masks, result


def prune_lasso(model: torch.nn.Module, data: Encoded, plan: PrunePlan,
                lasso_cfg: TrainConfig, retrain_cfg: TrainConfig,
                teacher: torch.nn.Module | None = None,
                distill: DistillConfig | None = None, lam: float = DEFAULT_LAMBDA,
                eps: float = DEFAULT_EPS, n_milestones: int = DEFAULT_MILESTONES,
                checkpoint_dir: str | Path | None = None, progress: bool = True
                ) -> tuple[MaskSet, list[TrainResult]]:
    """Reweighted group lasso, hard prune to `plan` by block norm, retrain with masks fixed."""
    linears = encoder_linears(model)
    lasso = GroupLasso(linears, plan.shape, lam=lam, eps=eps, n_milestones=n_milestones)
    loss_fn = distiller_for(teacher, distill)
    ck = Path(checkpoint_dir) if checkpoint_dir is not None else None
    r1 = train(model, data, lasso_cfg, hooks=[lasso], loss_fn=loss_fn,
               output_hidden_states=_needs_hidden(loss_fn),
               checkpoint_dir=ck / "lasso" if ck else None, progress=progress,
               desc="group lasso")
    masks = MaskSet(linears)
    masks.update(plan, fraction=1.0, block_scores=lasso.block_scores())
    r2 = train(model, data, retrain_cfg, hooks=[FixedMasks(masks)], loss_fn=loss_fn,
               output_hidden_states=_needs_hidden(loss_fn),
               checkpoint_dir=ck / "retrain" if ck else None, progress=progress,
               desc="retrain")
    return masks, [r1, r2]


def hp_layers(masks: MaskSet) -> dict[str, HPMatrix]:
    """The HP storage of every masked linear (masks in the plan's final shape)."""
    return {n: hp_encode(masks.linears[n].weight.detach().cpu().numpy(), m.cpu().numpy(),
                         masks.shapes[n])
            for n, m in masks.masks.items()}


def sparsity_report(model: torch.nn.Module) -> dict[str, float]:
    return {"encoder_sparsity": measured_sparsity(encoder_linears(model))}


def save_model(model: torch.nn.Module, tokenizer: Any, out_dir: str | Path,
               meta: dict[str, Any]) -> Path:
    """save_pretrained plus a JSON record of what produced the model."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / TRAIN_META).write_text(json.dumps(meta, indent=2, default=_json) + "\n")
    return out


def export(model: torch.nn.Module, masks: MaskSet, path: str | Path,
           meta: dict[str, Any]) -> Path:
    """The project's HP artifact via `algo.hp.model.export_hp_artifact`."""
    return export_hp_artifact(model, hp_layers(masks), path, meta)


def teacher_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A frozen dense copy, to distil from while `model` is pruned."""
    return copy.deepcopy(model).eval()


def _json(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)
