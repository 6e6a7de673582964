"""Tokens a training epoch computes with random vs length-grouped batches.

A batch is trimmed to its longest row, so the padding it still carries is wasted compute;
grouping batches by length (`TrainConfig.length_group`) removes most of it. The figures are
counted exactly from the tokenized GLUE train splits (no timing), for the epoch-0 order.

    .venv/bin/python benchmarks/train_padding.py      # writes benchmarks/results/train_padding.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.shared_results import write_results  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "train_padding.json"
TASKS = {"SST-2": 64, "MRPC": 128, "RTE": 128, "STS-B": 128, "CoLA": 64}  # max_length


def count(task: str, max_length: int, batch_size: int, groups: list[int],
          glue_dir: str | None) -> list[dict]:
    import torch

    from algo.glue import load_split
    from algo.models import load_tokenizer
    from algo.train import TrainConfig, epoch_batches

    split = load_split(task, "train", glue_dir)
    enc = load_tokenizer(None)(list(split.texts_a), None if split.texts_b is None
                               else list(split.texts_b), truncation=True,
                               max_length=max_length)
    lengths = torch.tensor([len(ids) for ids in enc["input_ids"]])
    real = int(lengths.sum())
    rows = []
    for group in groups:
        cfg = TrainConfig(batch_size=batch_size, length_group=group)
        computed = sum(int(lengths[b].max()) * len(b) for b in epoch_batches(0, lengths, cfg))
        rows.append({"task": task, "max_length": max_length, "batch_size": batch_size,
                     "length_group": group, "examples": len(lengths), "real_tokens": real,
                     "computed_tokens": computed, "padding_share": 1.0 - real / computed,
                     "kind": "measured (counted)"})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS))
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--groups", nargs="+", type=int,
                   help="length_group values to count (default: 0 and algo.train's default)")
    p.add_argument("--glue-dir")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    from algo.glue import task_spec
    from algo.train import DEFAULT_LENGTH_GROUP

    groups = args.groups or [0, DEFAULT_LENGTH_GROUP]
    names = [task_spec(t).name for t in args.tasks]  # canonical, also for aliases (sst2)
    rows = [r for t in names
            for r in count(t, TASKS.get(t, 128), args.batch_size, groups, args.glue_dir)]
    write_results(args.out, rows)
    for r in rows:
        print(f"{r['task']:6} group {r['length_group']:3}: {r['computed_tokens']:>9} tokens "
              f"computed for {r['real_tokens']:>9} real (padding {r['padding_share']:.3f})")


if __name__ == "__main__":
    main()
