"""`sbf data lengths`: how long a GLUE split's sequences really are, and what padding costs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from algo.glue import TASKS, GlueError, length_stats, task_spec, token_lengths
from host.cli import Cli, CliError, positive_int

DEFAULT_MAX_LENGTH = 128
HIST_BIN_WIDTH = 4  # tokens per histogram bar


def register(cli: Cli) -> None:
    cli.group("data", help="GLUE data: loading and sequence-length statistics")
    p = cli.subcommand("data", "lengths", _lengths,
                       help="tokenized length statistics of a GLUE split and padding at max")
    p.add_argument("--task", required=True, help=f"GLUE task ({', '.join(TASKS)})")
    p.add_argument("--split", default="dev", help="train or dev (default dev)")
    p.add_argument("--max-length", type=positive_int, default=DEFAULT_MAX_LENGTH,
                   help=f"padded length for padding_at_max (default {DEFAULT_MAX_LENGTH}); "
                        "lengths are never truncated, `truncated` counts those over it")
    p.add_argument("--glue-dir", help="GLUE directory (default $SBF_GLUE_DIR, "
                                      "then ../shared/data/glue)")
    p.add_argument("--model", help="model directory or hub id whose tokenizer is used "
                                   "(default: the packaged MiniLM)")
    p.add_argument("--plot", type=Path, help="write a histogram of the lengths to this PNG")


def _lengths(args: argparse.Namespace) -> dict[str, Any]:
    from algo.models import ModelError, load_tokenizer

    try:
        tokenizer = load_tokenizer(args.model)
        lengths = token_lengths(args.task, args.split, tokenizer, args.glue_dir)
        stats = length_stats(lengths, args.max_length)
        task = task_spec(args.task).name
    except (GlueError, ModelError) as e:
        raise CliError(str(e)) from None
    result = {"task": task, "split": args.split, **stats}
    if args.plot:
        plot_lengths(lengths, args.max_length, f"{args.task} {args.split}", args.plot)
        result["plot"] = str(args.plot)
    return result


def plot_lengths(lengths: np.ndarray, max_length: int, title: str, path: Path) -> None:
    """A histogram of real lengths with the padded length marked: the wasted area shows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = max(int(lengths.max()), max_length) + HIST_BIN_WIDTH
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(lengths, bins=np.arange(0, top + 1, HIST_BIN_WIDTH), color="tab:blue")
    ax.axvline(max_length, color="tab:red", linestyle="--", label=f"max_length = {max_length}")
    ax.axvline(float(np.mean(lengths)), color="tab:green", label=f"mean = {np.mean(lengths):.1f}")
    ax.set(xlabel="tokens per sequence (special tokens included)", ylabel="sequences",
           title=f"{title}: {lengths.size} sequences")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
