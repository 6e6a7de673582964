"""`sbf buckets`: length-bucket edges for a GLUE split, from its tokenized length histogram."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from host.cli import Cli, CliError, finite_float, positive_int

DEFAULT_TILE = 8
DEFAULT_MAX_LENGTH = 128
HALF_TOKEN = 0.5  # histogram bars centred on each length; edges drawn between bars


def register(cli: Cli) -> None:
    p = cli.command("buckets", run, "choose length-bucket edges that minimise padded slots "
                    f"(sequences over --max-length, default {DEFAULT_MAX_LENGTH}, are "
                    "truncated into the last bucket and counted in `truncated`)")
    p.add_argument("--task", required=True, help="GLUE task, e.g. SST-2")
    p.add_argument("--split", default="dev", help="train or dev (default dev)")
    p.add_argument("--n", type=positive_int, required=True, help="number of buckets (edges)")
    p.add_argument("--tile", type=positive_int, default=DEFAULT_TILE,
                   help=f"tile size T for tile_overhead (default {DEFAULT_TILE})")
    p.add_argument("--max-length", type=positive_int, default=DEFAULT_MAX_LENGTH,
                   help="truncation length and last edge: longer sequences are truncated "
                        f"to it and counted (default {DEFAULT_MAX_LENGTH})")
    p.add_argument("--attention-weight", type=finite_float, default=0.0,
                   help="cost per slot = 1 + w * L (w > 0 weighs the L^2 attention work)")
    p.add_argument("--model", default=None, help="tokenizer: model dir or hub id "
                   "(default: the packaged MiniLM)")
    p.add_argument("--glue-dir", default=None, help="GLUE data dir (default $SBF_GLUE_DIR)")
    p.add_argument("--plot", type=Path, default=None, help="write the histogram with edges")


def run(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from algo.buckets import SlotCost, optimal_edges, tile_overhead
    from algo.glue import GlueError, token_lengths
    from algo.models import ModelError, load_tokenizer

    if args.attention_weight < 0:
        raise CliError(f"--attention-weight: must be >= 0, got {args.attention_weight}")
    if args.plot is not None and args.plot.is_dir():
        raise CliError(f"--plot: {args.plot} is a directory; give a .png file name")
    try:
        cost = SlotCost(linear=1.0, attention=args.attention_weight)
        raw = token_lengths(args.task, args.split, load_tokenizer(args.model), args.glue_dir)
        truncated = int((raw > args.max_length).sum())
        lengths = np.minimum(raw, args.max_length)
        plan = optimal_edges(lengths, args.n, args.max_length, cost)
        overhead = tile_overhead(lengths, args.tile)
    except (GlueError, ModelError, ValueError) as e:
        raise CliError(str(e)) from None
    if args.plot is not None:
        plot_histogram(lengths, plan.edges, args.plot, f"{args.task} {args.split}")
    return {
        "task": args.task,
        "split": args.split,
        "sequences": int(lengths.size),
        "truncated": truncated,  # sequences longer than max_length, cut into the last bucket
        "longest": int(raw.max()),
        "n": args.n,
        "max_length": args.max_length,
        "edges": list(plan.edges),
        "bucket_counts": list(plan.counts),
        "padding_fraction": plan.padding_fraction,
        "pad_to_max_fraction": plan.pad_to_max_fraction,
        "tile": args.tile,
        "tile_overhead": overhead,
        "cost": {"linear": cost.linear, "attention": cost.attention, "total": plan.cost},
    }


def plot_histogram(lengths: Any, edges: tuple[int, ...], path: Path, title: str) -> None:
    """Length histogram with the bucket edges as vertical lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    bins = [b + HALF_TOKEN for b in range(int(max(edges)) + 1)]
    ax.hist(lengths, bins=bins, color="tab:blue", alpha=0.8)
    for e in edges:
        ax.axvline(e + HALF_TOKEN, color="tab:red", linestyle="--", linewidth=1)
    ax.set_xlabel("tokens per sequence (bucket edges dashed)")
    ax.set_ylabel("sequences")
    ax.set_title(f"{title}: edges {list(edges)}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
