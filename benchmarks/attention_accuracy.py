"""Accuracy of MiniLM with top-k sparse attention on GLUE dev (MEASURED, PyTorch float).

Per task: fine-tune the packaged MiniLM with dense attention (`--base-steps`), then, from
that same checkpoint, continue for `--steps` more steps once per variant: dense attention
(the baseline, so it gets the same extra training), top-k at each `--ks`, and HP pruning at
`--hp-sparsity` (gradual, `algo.prune.recipes.prune_gradual`) with top-k at `--hp-k` and
with dense attention. Every variant is scored on the WHOLE dev split (`--n-dev` takes the
first n, for smoke runs only); the row also records
the score before its extra steps (for dense: the base model; for top-k: the base model
with the attention swapped, no training). Training is `algo.train` (the project's
only trainer). Rows replace this script's earlier rows in benchmarks/results/accuracy.json
and keep every other row; `sparsity` is the HP sparsity of the encoder linears, `attention`
says which attention ran ("dense" or {"topk": k}); `run` holds the command and machine.

    python benchmarks/attention_accuracy.py --tasks SST-2 MRPC [--n-train 4000] \
        [--base-steps 250] [--steps 100] [--ks 8 16 32]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import algo.attention  # noqa: E402  (registers "sbf_topk")
from algo.glue import task_spec  # noqa: E402
from algo.train import DEFAULT_LENGTH_GROUP  # noqa: E402
from benchmarks.shared_results import locked_doc  # noqa: E402
from host.machine import machine_info  # noqa: E402
from hw.config import DesignConfig  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "accuracy.json"
SOURCE = "benchmarks/attention_accuracy.py"
DENSE_IMPLEMENTATION = "sdpa"
DEFAULT_KS = (8, 16, 32)
DEFAULT_HP_SPARSITY = 0.8
DEFAULT_MAX_LENGTH = 128
DEFAULT_N_TRAIN = 4000
DEFAULT_BASE_STEPS = 250
DEFAULT_STEPS = 100
DEFAULT_BATCH = 32
DEFAULT_LR = 5e-5
SEED = 0


def set_attention(model: Any, k: int | None) -> None:
    """Dense attention (k None) or top-k with a fixed k."""
    if k is None:
        model.set_attn_implementation(DENSE_IMPLEMENTATION)
        return
    model.config.sbf_topk_k = k
    model.config.sbf_topk_fraction = None
    model.set_attn_implementation(algo.attention.ATTN_IMPLEMENTATION)


def run_task(task: str, args: argparse.Namespace, run: dict[str, Any]) -> list[dict[str, Any]]:
    from algo.models import load_model
    from algo.prune.recipes import hp_shape_for, load_task_data, make_uniform_plan, prune_gradual
    from algo.train import TrainConfig, evaluate, train

    spec = task_spec(task)
    model, tok = load_model(num_labels=spec.num_labels)
    data = load_task_data(spec.name, tok, args.max_length, args.n_train, SEED, args.glue_dir)
    dev = data.dev if args.n_dev is None else data.dev.subset(range(min(args.n_dev,
                                                                        len(data.dev))))
    cfg = TrainConfig(batch_size=args.batch, lr=args.lr, seed=SEED,
                      length_group=args.length_group)
    set_attention(model, None)
    base = train(model, data.train, TrainConfig(**{**cfg.__dict__, "max_steps": args.base_steps}),
                 desc=f"{spec.name} dense base")
    base_value = evaluate(model, dev, spec.name)[spec.metric]
    more = TrainConfig(**{**cfg.__dict__, "max_steps": args.steps, "warmup_ratio": 0.0})
    design = DesignConfig()
    variants: list[tuple[int | None, float]] = [(None, 0.0)] + [(k, 0.0) for k in args.ks]
    if args.hp_sparsity:
        variants += [(None, args.hp_sparsity), (args.hp_k, args.hp_sparsity)]
    rows, baseline = [], None
    for k, sparsity in variants:
        m = copy.deepcopy(model)
        set_attention(m, k)
        label = f"{spec.name} {'dense' if k is None else f'k={k}'} hp={sparsity}"
        before = evaluate(m, dev, spec.name)[spec.metric] if k is not None else base_value
        t0 = time.time()
        if sparsity:
            shape = hp_shape_for(sparsity, design.bo, design.bi)
            prune_gradual(m, data.train, make_uniform_plan(m, sparsity, shape), more)
        else:
            train(m, data.train, more, desc=label)
        metrics = evaluate(m, dev, spec.name)
        if k is None and not sparsity:
            baseline = metrics[spec.metric]
        rows.append({
            "source": SOURCE, "task": spec.name, "split": "dev", "n_dev": len(dev),
            "model": "MiniLM-L6-H384",
            "attention": "dense" if k is None else {"topk": k}, "sparsity": sparsity,
            "metric": spec.metric, "value": metrics[spec.metric], "baseline": baseline,
            "metrics": metrics, "before_extra_steps": before,
            "train": {"n_train": len(data.train), "base_steps": base.steps,
                      "extra_steps": args.steps, "batch": args.batch, "lr": args.lr,
                      "max_length": args.max_length, "seed": SEED,
                      "length_group": args.length_group},
            "wall_s": round(time.time() - t0, 1), "run": run,
        })
        print(f"{label}: {spec.metric} {metrics[spec.metric]:.4f}", flush=True)
    return rows


def merge(path: Path, rows: list[dict[str, Any]]) -> None:
    """Replace this script's rows for the tasks run; keep every other row of the table."""
    tasks = {r["task"] for r in rows}
    with locked_doc(path) as doc:
        doc["rows"] = [r for r in doc["rows"]
                       if not (r.get("source") == SOURCE and r.get("task") in tasks)] + rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=["SST-2", "MRPC"])
    p.add_argument("--ks", nargs="+", type=int, default=list(DEFAULT_KS))
    p.add_argument("--hp-sparsity", type=float, default=DEFAULT_HP_SPARSITY,
                   help="HP sparsity of the combined rows (0: none)")
    p.add_argument("--hp-k", type=int, default=DesignConfig().attn_k)
    p.add_argument("--n-train", type=int, default=DEFAULT_N_TRAIN)
    p.add_argument("--base-steps", type=int, default=DEFAULT_BASE_STEPS)
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    p.add_argument("--lr", type=float, default=DEFAULT_LR)
    p.add_argument("--max-length", type=int, default=DEFAULT_MAX_LENGTH)
    p.add_argument("--length-group", type=int, default=DEFAULT_LENGTH_GROUP,
                   help="batches per length-sorted group (0 = random batches, as in the "
                        "rows made before length grouping existed)")
    p.add_argument("--n-dev", type=int, default=None,
                   help="score a seeded subset of dev (default: all of it; smoke runs only)")
    p.add_argument("--glue-dir", default=None)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)

    run = {"command": " ".join(["python", *sys.argv]), "kind": "measured",
           "what": "GLUE dev metric of PyTorch float32 models (not the integer model)",
           "machine": machine_info()}
    for task in args.tasks:  # one table update per task: a long run keeps what it finished
        merge(args.out, run_task(task, args, run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
