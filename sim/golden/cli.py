"""`sbf quantize` (float model -> integer artifact) and `sbf golden check` (fidelity)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from host.cli import Cli, CliError, positive_int, show_progress

DEFAULT_TASK = "SST-2"
DEFAULT_MAX_LENGTH = 128


def register(cli: Cli) -> None:
    p = cli.command("quantize", _quantize,
                    help="calibrate and quantize a float BERT (dense or HP) to an integer artifact")
    _source_args(p, allow_quantized=False)
    p.add_argument("--out", required=True, type=Path, help="artifact directory to write")
    _calib_args(p)

    cli.group("golden", help="the integer golden model")
    p = cli.subcommand("golden", "check", _check,
                       help="float vs integer golden model on real sentences: cosine, agreement "
                            f"(sentences over --max-length, default {DEFAULT_MAX_LENGTH}, are "
                            "truncated and counted in `truncated`)")
    _source_args(p, allow_quantized=True)
    p.add_argument("--task", default=DEFAULT_TASK, help=f"GLUE task (default {DEFAULT_TASK})")
    p.add_argument("--split", default="dev", help="evaluation split (default dev)")
    p.add_argument("--limit", type=positive_int, help="only the first N sentences (N >= 1)")
    p.add_argument("--attention-k", type=positive_int,
                   help="top-k attention with K keys per query, as the accelerator runs it "
                        "(default: dense attention)")
    _calib_args(p)


def _source_args(p: argparse.ArgumentParser, allow_quantized: bool) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--model", help="model directory or hub id (default: the packaged MiniLM)")
    what = "an HP float artifact (sbf prune ...)"
    if allow_quantized:
        what += " or an integer artifact (sbf quantize)"
    g.add_argument("--artifact", type=Path, help=what)


def _calib_args(p: argparse.ArgumentParser) -> None:
    from algo.quantize.pipeline import CALIB_SPLIT, DEFAULT_CALIB_N

    p.add_argument("--calib-task", help=f"task whose {CALIB_SPLIT} split calibrates "
                   "(default: --task, or SST-2; the built-in sentences without GLUE data)")
    p.add_argument("--calib-n", type=positive_int, default=DEFAULT_CALIB_N,
                   help=f"calibration sentences (default {DEFAULT_CALIB_N})")
    p.add_argument("--glue-dir",
                   help="GLUE directory (default $SBF_GLUE_DIR or ../shared/data/glue)")
    p.add_argument("--max-length", type=positive_int, default=DEFAULT_MAX_LENGTH,
                   help=f"truncate sentences to this many tokens (default {DEFAULT_MAX_LENGTH}; "
                        "how many were truncated is reported)")


def _num_labels(task: str | None) -> int:
    from algo.glue import task_spec

    return task_spec(task).num_labels if task else 2


def _quantized(args: argparse.Namespace, task: str | None) -> tuple[Any, Any, dict[str, Any]]:
    """(QuantizedModel, FloatSource, calibration info) for the source arguments."""
    from algo.glue import GlueError, task_spec
    from algo.hp.artifact import ArtifactError, load_artifact
    from algo.models import ModelError
    from algo.quantize.io import KIND_QUANTIZED, META_KIND
    from algo.quantize.pipeline import (
        calibration_texts,
        load_float,
        load_quantized_with_source,
        quantize_source,
    )

    for option, name in (("--task", getattr(args, "task", None)),
                         ("--calib-task", args.calib_task)):
        if name is not None:  # a typo is refused before the model loads
            try:
                task_spec(name)
            except GlueError as e:
                raise CliError(f"{option}: {e}") from None
    try:
        if args.artifact is not None and \
                load_artifact(args.artifact).meta.get(META_KIND) == KIND_QUANTIZED:
            qm, src = load_quantized_with_source(args.artifact, _num_labels(task))
            return qm, src, qm.meta.get("calibration", {})
        src = load_float(args.model, args.artifact, _num_labels(task))
        calib_task = args.calib_task or task or DEFAULT_TASK
        texts_a, texts_b, info = calibration_texts(calib_task, args.calib_n, args.glue_dir)
        qm = quantize_source(src, texts_a, texts_b, args.max_length, progress=show_progress(args))
        return qm, src, info
    except (ArtifactError, ModelError, ValueError) as e:
        raise CliError(str(e)) from None


def _quantize(args: argparse.Namespace) -> dict[str, Any]:
    from algo.quantize.io import save_quantized
    from algo.quantize.pipeline import META_FLOAT_SOURCE

    start = time.perf_counter()
    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"--out: {args.out} is a file; give a directory for the artifact")
    qm, src, info = _quantized(args, args.calib_task)
    path = save_quantized(args.out, qm, {META_FLOAT_SOURCE: src.origin, "calibration": info,
                                         "hp_layers_pruned": len(src.hp_layers)})
    return {"out": str(path), "source": src.origin, "calibration": info,
            "layers": len(qm.layers), "hp_layers_pruned": len(src.hp_layers),
            "seconds": round(time.perf_counter() - start, 2)}


def _check(args: argparse.Namespace) -> dict[str, Any]:
    from dataclasses import replace

    from algo.glue import GlueError, count_truncated, load_split
    from sim.golden.check import split_fidelity

    if args.calib_task in (None, args.task) and args.split.lower() == "train":
        raise CliError("--split train is the calibration split; evaluate on dev, or pass "
                       "--calib-task with another task")
    try:
        data = load_split(args.task, args.split, args.glue_dir)
    except GlueError as e:
        raise CliError(str(e)) from None
    n = len(data) if args.limit is None else min(args.limit, len(data))
    data = replace(data, texts_a=data.texts_a[:n], labels=data.labels[:n],
                   texts_b=data.texts_b[:n] if data.texts_b is not None else None)
    qm, src, info = _quantized(args, args.task)
    truncated = count_truncated(src.tokenizer, data.texts_a, data.texts_b, args.max_length)
    attention = {}
    if args.attention_k is not None:
        from hw.hls.golden_ref import topk_attention

        attention = {"attention": topk_attention(args.attention_k)}
    result = split_fidelity(src.model, src.tokenizer, qm, data, args.max_length,
                            progress=show_progress(args), **attention)
    return {"task": data.task, "split": args.split, "max_length": args.max_length,
            "attention_k": args.attention_k,
            "truncated": truncated, **result,
            "source": src.origin, "calibration": info}
