"""`sbf finetune` and `sbf prune gradual|lasso|search`: GLUE fine-tuning and HP pruning
in training, each ending with the dev metrics (the WHOLE dev split) and, for pruning,
the project's HP artifact.

The parsers take their defaults from the modules that use them (one place for each
value), which imports torch when these commands register; the work itself, and
transformers, load inside the handlers.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from host.cli import (
    Cli,
    CliError,
    finite_float,
    nonnegative_int,
    positive_int,
    show_progress,
    write_json,
)

CHECKPOINT_DIR = "checkpoint"
ARTIFACT_DIR = "artifact"
DEFAULT_MAX_LENGTH = 128
DEFAULT_CHECKPOINT_EVERY = 200
DEFAULT_SPARSITY = 0.8


def register(cli: Cli) -> None:
    p = cli.command("finetune", _finetune, help="fine-tune a BERT on a GLUE task (dense)")
    _train_args(p)

    cli.group("prune", help="prune a model into HP form")
    p = cli.subcommand("prune", "gradual", _gradual,
                       help="gradual HP pruning on the cubic schedule during fine-tuning")
    _train_args(p)
    _prune_args(p)
    _gradual_args(p)
    p.add_argument("--plan", type=Path, help="per-layer plan JSON (e.g. from prune search); "
                   "default: uniform ratios")

    p = cli.subcommand("prune", "lasso", _lasso,
                       help="reweighted group lasso over HP blocks, hard prune, retrain")
    _train_args(p)
    _prune_args(p)
    from algo.prune.lasso import DEFAULT_EPS, DEFAULT_LAMBDA, DEFAULT_MILESTONES

    p.add_argument("--lam", type=finite_float, default=DEFAULT_LAMBDA,
                   help=f"lasso strength, per block on average (default {DEFAULT_LAMBDA})")
    p.add_argument("--eps", type=finite_float, default=DEFAULT_EPS,
                   help=f"alpha_g = 1/(||W_g|| + eps) (default {DEFAULT_EPS})")
    p.add_argument("--milestones", type=positive_int, default=DEFAULT_MILESTONES,
                   help=f"alpha recomputations in the lasso phase (default {DEFAULT_MILESTONES})")
    p.add_argument("--lasso-epochs", type=finite_float, default=1.0,
                   help="epochs of the lasso phase; --epochs is the retraining after it")

    from algo.prune.search import (
        DEFAULT_CANDIDATE_STEPS,
        DEFAULT_CANDIDATES,
        DEFAULT_HOLDOUT,
        DEFAULT_SPREAD,
    )

    p = cli.subcommand("prune", "search", _search,
                       help="AE-BERT search for per-layer ratios, then gradual pruning")
    _train_args(p)
    _prune_args(p)
    _gradual_args(p)
    p.add_argument("--candidates", type=positive_int, default=DEFAULT_CANDIDATES,
                   help=f"plans to rank, the uniform one included (default {DEFAULT_CANDIDATES})")
    p.add_argument("--spread", type=finite_float, default=DEFAULT_SPREAD,
                   help=f"std of log per-layer keep factors (default {DEFAULT_SPREAD})")
    p.add_argument("--holdout", type=finite_float, default=DEFAULT_HOLDOUT,
                   help="share of the training examples held out to score candidates "
                        f"(default {DEFAULT_HOLDOUT}); dev is never used")
    p.add_argument("--candidate-steps", type=positive_int, default=DEFAULT_CANDIDATE_STEPS,
                   help=f"fine-tuning steps per candidate (default {DEFAULT_CANDIDATE_STEPS})")
    p.add_argument("--executor", choices=("local", "inline", "ray"), default="local",
                   help="where candidates run: local processes (default), this process, Ray")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--workers", type=positive_int, help="local worker processes (default: cores)")


def _train_args(p: argparse.ArgumentParser) -> None:
    from algo.train import DEFAULT_LENGTH_GROUP

    p.add_argument("--task", required=True, help="GLUE task: SST-2, MRPC, RTE, STS-B, CoLA")
    p.add_argument("--model", help="model directory or hub id (default: the packaged MiniLM)")
    p.add_argument("--out", required=True, type=Path, help="output model directory")
    p.add_argument("--glue-dir", help="GLUE data directory (default $SBF_GLUE_DIR or "
                   "../shared/data/glue)")
    p.add_argument("--train-examples", type=positive_int,
                   help="train on a seeded random subset of this many examples (default all)")
    p.add_argument("--max-length", type=positive_int, default=DEFAULT_MAX_LENGTH,
                   help=f"tokens per example (default {DEFAULT_MAX_LENGTH})")
    p.add_argument("--epochs", type=finite_float, default=2.0, help="training epochs (default 2)")
    p.add_argument("--batch-size", type=positive_int, default=32, help="batch size (default 32)")
    p.add_argument("--lr", type=finite_float, default=5e-5,
                   help="peak learning rate (default 5e-5)")
    p.add_argument("--seed", type=int, default=0, help="seed of data order, dropout, sampling")
    p.add_argument("--length-group", type=nonnegative_int, default=DEFAULT_LENGTH_GROUP,
                   help="batches per group sorted by length, so batches carry little "
                        f"padding (default {DEFAULT_LENGTH_GROUP}; 0 = random batches)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default auto)")
    p.add_argument("--checkpoint-every", type=nonnegative_int, default=DEFAULT_CHECKPOINT_EVERY,
                   help="steps between checkpoints in OUT/checkpoint; a rerun resumes there "
                        f"(default {DEFAULT_CHECKPOINT_EVERY})")
    p.add_argument("--keep-checkpoint", action="store_true",
                   help="keep OUT/checkpoint after a successful run")
    p.add_argument("--threads", type=positive_int,
                   help="torch CPU threads (default: torch's choice; "
                   "on a busy machine 1 is often much faster than oversubscribed cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _prune_args(p: argparse.ArgumentParser) -> None:
    from algo.prune.distill import DEFAULT_HARDNESS, DEFAULT_TEMPERATURE
    from hw.config import DesignConfig

    d = DesignConfig()
    p.add_argument("--sparsity", type=_sparsity, default=DEFAULT_SPARSITY,
                   help=f"overall encoder sparsity target (default {DEFAULT_SPARSITY})")
    p.add_argument("--bo", type=positive_int, default=d.bo, help=f"block rows (default {d.bo})")
    p.add_argument("--bi", type=positive_int, default=d.bi, help=f"block columns (default {d.bi})")
    p.add_argument("--m", type=positive_int,
                   help="kept entries per row of a kept block (default: the "
                   "smallest m with m/bi >= 1 - sparsity)")
    p.add_argument("--teacher", help="dense fine-tuned model to distil from (distillation is "
                   "on whenever a teacher is given)")
    p.add_argument("--temperature", type=finite_float, default=DEFAULT_TEMPERATURE,
                   help=f"distillation temperature (default {DEFAULT_TEMPERATURE})")
    p.add_argument("--hardness", type=finite_float, default=DEFAULT_HARDNESS,
                   help=f"weight of the teacher's soft targets (default {DEFAULT_HARDNESS})")
    p.add_argument("--hidden-weight", type=finite_float, default=0.0,
                   help="weight of the hidden-state MSE (default 0: off)")
    p.add_argument("--export", type=Path,
                   help=f"artifact directory (default OUT/{ARTIFACT_DIR})")


def _gradual_args(p: argparse.ArgumentParser) -> None:
    from algo.prune.gradual import DEFAULT_END, DEFAULT_UPDATES

    p.add_argument("--prune-end", type=finite_float, default=DEFAULT_END,
                   help=f"share of the run after which masks stay fixed (default {DEFAULT_END})")
    p.add_argument("--updates", type=positive_int, default=DEFAULT_UPDATES,
                   help=f"mask updates on the cubic schedule (default {DEFAULT_UPDATES})")


def _sparsity(text: str) -> float:
    """argparse type: a sparsity in [0, 1) (1 would remove every weight)."""
    value = finite_float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


def _command() -> str:
    return shlex.join(["sbf", *sys.argv[1:]]) if Path(sys.argv[0]).name == "sbf" \
        else shlex.join(sys.argv)


def _setup(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    """(model, tokenizer, TaskData, TrainConfig) from the common arguments."""
    import torch

    from algo.glue import GlueError, task_spec
    from algo.models import ModelError, load_model
    from algo.prune.recipes import load_task_data
    from algo.train import TrainConfig

    # Every option is checked before the model loads, so a typo costs no minutes.
    cfg = _run(lambda: TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                   seed=args.seed, length_group=args.length_group,
                                   device=args.device, checkpoint_every=args.checkpoint_every))
    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"--out: {args.out} is a file; give a directory")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        spec = task_spec(args.task)
        model, tok = load_model(args.model, num_labels=spec.num_labels)
        data = load_task_data(spec.name, tok, args.max_length, args.train_examples, args.seed,
                              args.glue_dir)
    except (GlueError, ModelError) as e:
        raise CliError(str(e)) from None
    return model, tok, data, cfg


def _finish(args: argparse.Namespace, model: Any, tok: Any, data: Any, cfg: Any,
            extra: dict[str, Any], t0: float) -> dict[str, Any]:
    """Evaluate on the whole dev split, save the model and its record, drop the checkpoint.
    `t0` is when the run began, moved back by what a resumed run had spent before."""
    from algo.glue import task_spec
    from algo.prune.recipes import save_model, sparsity_report
    from algo.train import evaluate

    metrics = evaluate(model, data.dev, data.task, device=cfg.device)
    result = {"task": data.task, "metric": task_spec(data.task).metric, "dev": metrics,
              "dev_examples": len(data.dev), "train_examples": len(data.train),
              "epochs": cfg.epochs, "seed": cfg.seed, **sparsity_report(model), **extra,
              "out": str(args.out), "command": _command(), "wall_s": round(time.time() - t0, 1)}
    save_model(model, tok, args.out, result)
    if not args.keep_checkpoint:
        shutil.rmtree(args.out / CHECKPOINT_DIR, ignore_errors=True)
    return result


def _finetune(args: argparse.Namespace) -> dict[str, Any]:
    from algo.train import train

    t0 = time.time()
    model, tok, data, cfg = _setup(args)
    res = _run(lambda: train(model, data.train, cfg, checkpoint_dir=args.out / CHECKPOINT_DIR,
                             progress=show_progress(args), desc=f"finetune {data.task}"))
    return _finish(args, model, tok, data, cfg, {"steps": res.steps},
                   t0 - res.wall_s_before_resume)


def _run(fn: Any) -> Any:
    """Training errors that name a bad value (config mismatch, plan) become CLI errors."""
    try:
        return fn()
    except ValueError as e:
        raise CliError(str(e)) from None


def _prune_setup(args: argparse.Namespace) -> tuple[Any, ...]:
    from algo.models import ModelError, load_model
    from algo.prune.distill import DistillConfig
    from algo.prune.recipes import hp_shape_for

    try:  # the HP shape and distillation settings first: refused before any loading
        shape = hp_shape_for(args.sparsity, args.bo, args.bi, args.m)
        distill = DistillConfig(args.temperature, args.hardness, args.hidden_weight)
    except ValueError as e:
        raise CliError(str(e)) from None
    if getattr(args, "plan", None) is not None and not args.plan.is_file():
        raise CliError(f"--plan: no such file {args.plan}")
    model, tok, data, cfg = _setup(args)
    teacher = None
    if args.teacher:
        try:
            teacher, _ = load_model(args.teacher, num_labels=model.config.num_labels)
        except ModelError as e:
            raise CliError(f"--teacher: {e}") from None
    return model, tok, data, cfg, teacher, distill, shape


def _export(args: argparse.Namespace, model: Any, masks: Any, result: dict[str, Any],
            method: str, plan: Any) -> dict[str, Any]:
    from algo.prune.recipes import TRAIN_META, export

    path = args.export or args.out / ARTIFACT_DIR
    meta = {"task": result["task"], "metric": result["metric"], "dev": result["dev"],
            "method": method, "target_sparsity": args.sparsity,
            "sparsity": result["encoder_sparsity"],
            "hp": {"bo": plan.shape.bo, "bi": plan.shape.bi, "m": plan.shape.m},
            "train_examples": result["train_examples"], "epochs": result["epochs"],
            "seed": result["seed"], "command": result["command"]}
    export(model, masks, path, meta)
    plan.save(args.out / "plan.json")
    result["artifact"] = str(path)
    write_json(args.out / TRAIN_META, result)
    return result


def _gradual(args: argparse.Namespace) -> dict[str, Any]:
    from algo.prune.plan import PrunePlan
    from algo.prune.recipes import make_uniform_plan, prune_gradual

    t0 = time.time()
    model, tok, data, cfg, teacher, distill, shape = _prune_setup(args)
    if args.plan:
        plan = _run(lambda: PrunePlan.load(args.plan))
    else:
        plan = _run(lambda: make_uniform_plan(model, args.sparsity, shape))
    masks, res = _run(lambda: prune_gradual(
        model, data.train, plan, cfg, teacher, distill, end=args.prune_end,
        n_updates=args.updates, checkpoint_dir=args.out / CHECKPOINT_DIR,
        progress=show_progress(args)))
    result = _finish(args, model, tok, data, cfg,
                     {"method": "gradual", "target_sparsity": plan.overall_sparsity,
                      "steps": res.steps, "distilled": teacher is not None},
                     t0 - res.wall_s_before_resume)
    return _export(args, model, masks, result, "gradual", plan)


def _lasso(args: argparse.Namespace) -> dict[str, Any]:
    from dataclasses import replace

    from algo.prune.recipes import make_uniform_plan, prune_lasso

    t0 = time.time()
    model, tok, data, cfg, teacher, distill, shape = _prune_setup(args)
    plan = _run(lambda: make_uniform_plan(model, args.sparsity, shape))
    masks, (r1, r2) = _run(lambda: prune_lasso(
        model, data.train, plan, replace(cfg, epochs=args.lasso_epochs), cfg, teacher,
        distill, lam=args.lam, eps=args.eps, n_milestones=args.milestones,
        checkpoint_dir=args.out / CHECKPOINT_DIR, progress=show_progress(args)))
    result = _finish(args, model, tok, data, cfg,
                     {"method": "lasso", "target_sparsity": plan.overall_sparsity,
                      "steps": r1.steps + r2.steps, "lasso_epochs": args.lasso_epochs,
                      "distilled": teacher is not None},
                     t0 - r1.wall_s_before_resume - r2.wall_s_before_resume)
    return _export(args, model, masks, result, "lasso", plan)


def _search(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile
    from dataclasses import replace

    from algo.prune.executor import make_executor
    from algo.prune.recipes import prune_gradual, save_model
    from algo.prune.search import search

    t0 = time.time()
    model, tok, data, cfg, teacher, distill, shape = _prune_setup(args)
    cand_cfg = replace(cfg, max_steps=args.candidate_steps, checkpoint_every=0)
    with tempfile.TemporaryDirectory(prefix="sbf-search-") as tmp:
        save_model(model, tok, tmp, {"purpose": "dense start of the ratio search"})
        try:
            with make_executor(args.executor, args.workers, args.address, args.threads) as ex:
                found = search(tmp, data.task, data.train, 1.0 - args.sparsity, shape, ex,
                               cand_cfg, n_candidates=args.candidates, spread=args.spread,
                               holdout=args.holdout, seed=args.seed)
        except (RuntimeError, ValueError) as e:
            raise CliError(str(e)) from None
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "search.json", found.to_dict())
    masks, res = _run(lambda: prune_gradual(
        model, data.train, found.best_plan, cfg, teacher, distill, end=args.prune_end,
        n_updates=args.updates, checkpoint_dir=args.out / CHECKPOINT_DIR,
        progress=show_progress(args)))
    result = _finish(args, model, tok, data, cfg,
                     {"method": "searched", "target_sparsity": found.best_plan.overall_sparsity,
                      "steps": res.steps, "distilled": teacher is not None,
                      "search": {"best": found.best,
                                 "scores": [s["score"] for s in found.scores]}},
                     t0 - res.wall_s_before_resume)
    return _export(args, model, masks, result, "searched", found.best_plan)
