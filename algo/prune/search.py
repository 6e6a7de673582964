"""AE-BERT style search for per-layer pruning ratios under one overall sparsity.

Candidates are per-layer plans that keep exactly the uniform plan's total of blocks
(`algo.prune.plan.sample_plan`), so every candidate has the target sparsity by parameter
count. Each is ranked cheaply: one-shot HP pruning of the dense fine-tuned model, a short
fine-tune with the mask fixed on part of the training data, and a score on a HELD-OUT
part of the training data; the dev split is never looked at. The uniform plan is
candidate 0, so the search never picks a plan its own ranking puts below uniform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from algo.glue import compute_metrics, task_spec
from algo.hp import HPShape
from algo.hp.model import encoder_linears
from algo.models import load_model
from algo.prune.executor import Executor
from algo.prune.gradual import FixedMasks
from algo.prune.masks import MaskSet, linear_sizes
from algo.prune.plan import PrunePlan, sample_plan, uniform_plan
from algo.train import (
    Encoded,
    TrainConfig,
    holdout_split,
    predict,
    predictions,
    task_loss,
    train,
)

DEFAULT_CANDIDATES = 8
DEFAULT_SPREAD = 0.5  # std of log per-layer keep factors
DEFAULT_HOLDOUT = 0.2
DEFAULT_CANDIDATE_STEPS = 40


@dataclass(frozen=True)
class CandidateJob:
    """Everything a worker needs to score one plan; picklable, no open handles."""

    index: int
    model_dir: str
    task: str
    plan: dict  # PrunePlan.to_dict()
    fit: Encoded
    holdout: Encoded
    cfg: TrainConfig


def evaluate_candidate(job: CandidateJob) -> dict:
    """One-shot prune to the plan, short fine-tune with the mask fixed, held-out score."""
    spec = task_spec(job.task)
    model, _ = load_model(job.model_dir, num_labels=spec.num_labels)
    masks = MaskSet(encoder_linears(model))
    masks.update(PrunePlan.from_dict(job.plan), fraction=1.0)
    train(model, job.fit, job.cfg, hooks=[FixedMasks(masks)], progress=False,
          desc=f"candidate {job.index}")
    logits = predict(model, job.holdout, device=job.cfg.device)
    metrics = compute_metrics(job.task, predictions(logits, job.task), job.holdout.labels.numpy())
    loss = float(task_loss(torch.from_numpy(logits), job.holdout.labels))
    return {"index": job.index, "score": metrics[spec.metric], "loss": loss, "metrics": metrics}


def _rankable(score: float) -> float:
    """A NaN score (e.g. a correlation of constant predictions) ranks last."""
    return -math.inf if math.isnan(score) else score


@dataclass
class SearchResult:
    plans: list[PrunePlan]
    scores: list[dict]
    best: int

    @property
    def best_plan(self) -> PrunePlan:
        return self.plans[self.best]

    def to_dict(self) -> dict:
        return {"best": self.best,
                "candidates": [{"index": i, "kind": "uniform" if i == 0 else "sampled",
                                "score": s["score"], "loss": s["loss"],
                                "metrics": s["metrics"],
                                "layer_density": {n: p.density(n) for n in p.sizes},
                                "overall_sparsity": p.overall_sparsity}
                               for i, (p, s) in enumerate(zip(self.plans, self.scores,
                                                              strict=True))]}


def candidate_plans(sizes: dict[str, tuple[int, int]], density: float, shape: HPShape,
                    n_candidates: int, spread: float, seed: int) -> list[PrunePlan]:
    """The uniform plan followed by n_candidates - 1 sampled plans (seeded)."""
    if n_candidates < 1:
        raise ValueError(f"the search needs at least 1 candidate, got {n_candidates}")
    rng = np.random.default_rng(seed)
    return [uniform_plan(sizes, density, shape)] + [
        sample_plan(sizes, density, shape, rng, spread) for _ in range(n_candidates - 1)]


def search(model_dir: str, task: str, data: Encoded, density: float, shape: HPShape,
           executor: Executor, cfg: TrainConfig, n_candidates: int = DEFAULT_CANDIDATES,
           spread: float = DEFAULT_SPREAD, holdout: float = DEFAULT_HOLDOUT,
           seed: int = 0) -> SearchResult:
    """Rank candidate plans for the dense fine-tuned model in `model_dir` on `data`
    (training examples only): the best held-out score wins; ties (frequent after a few
    steps) go to the lower held-out loss, then to the lower index."""
    model, _ = load_model(model_dir, num_labels=task_spec(task).num_labels)
    sizes = linear_sizes(encoder_linears(model))
    del model
    plans = candidate_plans(sizes, density, shape, n_candidates, spread, seed)
    fit, held = holdout_split(data, holdout, seed)
    jobs = [CandidateJob(i, str(model_dir), task, p.to_dict(), fit, held, cfg)
            for i, p in enumerate(plans)]
    scores = executor.map(evaluate_candidate, jobs)
    best = max(range(len(plans)),
               key=lambda i: (_rankable(scores[i]["score"]), -scores[i]["loss"], -i))
    return SearchResult(plans, scores, best)
