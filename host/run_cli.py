"""`sbf run` (a GLUE split through the accelerator) and `sbf bench` (CPU vs modeled U200).

`sbf run` turns an HP artifact into the integer model (calibrated on the task's train
split, never on the split it scores), opens the accelerator and reports predictions,
the task metric, `bit_exact_vs_golden` (the device's encoder output equals the golden
model's, every token of every sentence) and `agreement_vs_float` (equal predictions to
the float HP model).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from host.cli import Cli, CliError, positive_int, show_progress

DEFAULT_CALIBRATION = 64  # train sentences for the static activation scales


def register(cli: Cli) -> None:
    from host.accelerator import BACKENDS, DEFAULT_MAX_BATCH

    p = cli.command("run", _run, help="run a GLUE split through the accelerator (board or "
                                      "emulation) and check it against golden and float")
    p.add_argument("--artifact", required=True, type=Path,
                   help="HP float artifact (`sbf prune`) or integer one (`sbf quantize`)")
    p.add_argument("--design", type=Path,
                   help="what `sbf hw render`/`sbf hw build` wrote: the project directory "
                        "(its xclbin is found where `sbf hw build` links it) or the .xclbin "
                        "itself (default: render the artifact for --config, emulation only)")
    p.add_argument("--config", type=Path, help="design config YAML when no --design "
                                               "(default hw/configs/minilm-u200.yaml)")
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="auto: pynq, else pyxrt, else emulation")
    p.add_argument("--task", required=True, help="GLUE task, e.g. SST-2")
    p.add_argument("--split", default="dev", help="split to score (default dev)")
    p.add_argument("--limit", type=positive_int, help="first N examples only (N >= 1)")
    p.add_argument("--calibration", type=positive_int, default=DEFAULT_CALIBRATION,
                   help="train sentences for calibration when the artifact is not "
                        f"quantized yet (default {DEFAULT_CALIBRATION})")
    p.add_argument("--max-batch", type=positive_int, default=DEFAULT_MAX_BATCH,
                   help="sequences per kernel call")
    p.add_argument("--truncate", action="store_true",
                   help="truncate sequences over the design's max_length and report how "
                        "many in `truncated` (default: refuse them)")
    p.add_argument("--glue-dir", help="GLUE directory (default $SBF_GLUE_DIR, "
                                      "then ../shared/data/glue)")

    p = cli.command("bench", _bench, help="measured CPU latency/throughput vs the modeled "
                                          "U200 on GLUE length traces (host/bench.py)")
    from host.bench import add_arguments

    add_arguments(p)


def _bench(args: argparse.Namespace) -> dict[str, Any]:
    from host.bench import run_from_args

    try:
        return run_from_args(args)
    except ValueError as e:
        raise CliError(str(e)) from None


def integer_model(artifact: Path, task: str, calibration: int, glue_dir: str | None,
                  cfg: Any) -> tuple[Any, Any, Any]:
    """(float model, its tokenizer, integer model) from an integer or an HP float artifact.

    An integer artifact (`sbf quantize`) is used as it is, with the float model it records;
    an HP float one is calibrated on the task's train split (or the built-in sentences
    without GLUE data); linears it left dense get the design's block geometry.
    """
    from algo.hp.mask import HPShape
    from algo.quantize.pipeline import (
        calibration_texts,
        is_quantized,
        load_float,
        load_quantized_with_source,
        quantize_source,
    )

    if is_quantized(artifact):
        qmodel, src = load_quantized_with_source(artifact)
        return src.model, src.tokenizer, qmodel
    src = load_float(artifact=artifact)
    texts_a, texts_b, _ = calibration_texts(task, calibration, glue_dir)
    qmodel = quantize_source(src, texts_a, texts_b, cfg.max_length, progress=False,
                             dense_shape=HPShape(cfg.bo, cfg.bi, cfg.m))
    return src.model, src.tokenizer, qmodel


def _run(args: argparse.Namespace) -> dict[str, Any]:
    from algo.glue import GlueError, compute_metrics, load_split, task_spec
    from algo.hp.artifact import ArtifactError
    from algo.models import ModelError
    from host.accelerator import Accelerator, AcceleratorError, load_design
    from host.backends.base import BackendError
    from hw.config import ConfigError, DesignConfig

    t0 = time.perf_counter()
    try:
        spec = task_spec(args.task)
        data = load_split(spec.name, args.split, args.glue_dir)
        cfg = DesignConfig.from_yaml(args.config)
        design = load_design(args.design, cfg)
        float_model, tokenizer, qmodel = integer_model(
            args.artifact, spec.name, args.calibration, args.glue_dir, design.config)
    except (GlueError, ArtifactError, ModelError, ConfigError, AcceleratorError) as e:
        raise CliError(str(e)) from None
    n = len(data) if args.limit is None else min(args.limit, len(data))
    texts_a = data.texts_a[:n]
    texts_b = data.texts_b[:n] if data.texts_b is not None else None
    t1 = time.perf_counter()
    try:
        with Accelerator(qmodel, args.design, args.backend, config=design.config,
                         tokenizer=tokenizer,
                         max_batch=args.max_batch, progress=show_progress()) as acc:
            t2 = time.perf_counter()
            ids, types = acc.tokenize(texts_a, texts_b, truncate=args.truncate)
            res = acc.run_ids(ids, types)
            t3 = time.perf_counter()
            backend = acc.backend.name
            x = acc.model.embed(ids, types)
            golden = acc.model.golden(x, res.lengths.tolist(), acc.config)
    except (AcceleratorError, BackendError) as e:
        raise CliError(str(e)) from None
    t4 = time.perf_counter()
    float_pred = _float_predictions(float_model, ids, types)
    device_out = res.packed_hidden
    from algo.glue import count_truncated

    truncated = count_truncated(tokenizer, texts_a, texts_b, acc.config.max_length)
    exact = [bool(np.array_equal(h, golden[a:b])) for h, a, b in
             zip(res.hidden, *_bounds(res.lengths), strict=True)]
    preds = res.predictions
    agree = float((preds == float_pred).mean()) if not spec.is_regression else None
    return {
        "task": spec.name, "split": args.split, "n": n, "tokens": int(res.lengths.sum()),
        "max_length": acc.config.max_length, "truncated": truncated,
        "backend": backend, "design": str(args.design) if args.design else "rendered on the fly",
        "xclbin": str(design.xclbin) if design.xclbin else None,
        "metrics": compute_metrics(spec.name, res.logits, data.labels[:n]),
        "bit_exact_vs_golden": bool(np.array_equal(device_out, golden)),
        "sequences_not_bit_exact": int(len(exact) - sum(exact)),
        "agreement_vs_float": agree,
        "kernel_calls": res.kernel_calls,
        "seconds": {"prepare": round(t1 - t0, 2), "open": round(t2 - t1, 2),
                    "run": round(t3 - t2, 2), "golden": round(t4 - t3, 2),
                    "float": round(time.perf_counter() - t4, 2)},
        "predictions": preds.tolist(),
    }


def _bounds(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ends = np.cumsum(lengths)
    return ends - lengths, ends


def _float_predictions(model: Any, ids: list[np.ndarray], types: list[np.ndarray]
                       ) -> np.ndarray:
    """The float HP model's predictions on the same tokens (sim.golden.check's batching)."""
    from sim.golden.check import Tokenized, float_outputs

    tok = Tokenized(np.concatenate(ids), np.concatenate(types), [len(i) for i in ids])
    _, logits = float_outputs(model, tok)
    return logits[:, 0] if logits.shape[1] == 1 else logits.argmax(axis=1)
