"""Where the integer model and the real sentences for render and csim come from.

Through `algo.quantize.pipeline`, as `sbf quantize` and `sbf golden check` do: an integer
artifact (`sbf quantize`, version 2) is used as it is, with the float model it records
for the host-side embeddings; an HP float artifact (`sbf prune ...`) or, without an
artifact, the model pruned one-shot to a density, is calibrated on SST-2 train (built-in
sentences without GLUE data) and converted. Checked sentences come from SST-2 dev.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from algo.hp.mask import HPShape
from hw.config import DesignConfig
from sim.golden.params import QuantizedModel

CHECK_TASK = "SST-2"
CHECK_SPLIT = "dev"
CALIBRATION_COUNT = 64


@dataclass
class SourceModel:
    """The float model (for host-side embeddings), its integer form, and what made it."""

    float_model: Any
    tokenizer: Any
    quantized: QuantizedModel
    description: dict[str, Any]


def load_source(cfg: DesignConfig, artifact: Path | None = None, model: str | None = None,
                density: float = 0.2, glue_dir: str | None = None) -> SourceModel:
    """The integer model to render: from `artifact`, or `model` HP-pruned to `density`."""
    from algo.hp.artifact import load_artifact
    from algo.hp.model import prune_model_oneshot
    from algo.quantize.io import KIND_QUANTIZED, META_KIND
    from algo.quantize.pipeline import (
        calibration_texts,
        load_float,
        load_quantized_with_source,
        quantize_source,
    )

    if artifact is not None and load_artifact(artifact).meta.get(META_KIND) == KIND_QUANTIZED:
        qm, src = load_quantized_with_source(artifact)
        return SourceModel(src.model, src.tokenizer, qm,
                           {"artifact": str(artifact), "kind": KIND_QUANTIZED})
    src = load_float(model, artifact)
    how: dict[str, Any] = {**src.origin}
    if artifact is None:
        src.hp_layers = prune_model_oneshot(src.model, density,
                                            HPShape(cfg.bo, cfg.bi, cfg.m))
        how.update(pruning="one-shot magnitude", density=density)
    texts_a, texts_b, info = calibration_texts(CHECK_TASK, CALIBRATION_COUNT, glue_dir)
    qm = quantize_source(src, texts_a, texts_b, cfg.max_length, progress=False)
    return SourceModel(src.model, src.tokenizer, qm, {**how, "calibration": info})


def _check_texts(glue_dir: str | None, limit: int) -> tuple[list[str], str]:
    """SST-2 dev sentences, or the built-in ones when the GLUE data is absent."""
    from algo.glue import GlueError, load_split
    from algo.sentences import DEMO_SENTENCES

    try:
        data = load_split(CHECK_TASK, CHECK_SPLIT, glue_dir)
    except GlueError as e:
        return list(DEMO_SENTENCES), f"built-in sentences (no GLUE data: {e})"
    return list(data.texts_a[:limit]), f"GLUE {CHECK_TASK} {CHECK_SPLIT}"


def real_sequences(src: SourceModel, lengths: list[int], glue_dir: str | None = None,
                   ) -> tuple[list[np.ndarray], str]:
    """int8 encoder inputs of exactly each length: real dev sentences run together and
    tokenized, then cut to L tokens, embedded on the host as the accelerator's host does."""
    from sim.golden.check import Tokenized, host_embed

    texts, origin = _check_texts(glue_dir, limit=max(lengths) + len(lengths))
    seqs = []
    for j, n in enumerate(lengths):
        pieces = texts[j % len(texts):] + texts[:j % len(texts)]
        ids = src.tokenizer(" ".join(pieces), truncation=True, max_length=max(n, 2))["input_ids"]
        if len(ids) < n:
            raise ValueError(f"lengths: the sentences give only {len(ids)} tokens, {n} asked")
        ids = np.asarray(ids[:n], np.int64)
        tok = Tokenized(ids, np.zeros_like(ids), [n])
        seqs.append(host_embed(src.float_model, tok, src.quantized.input_scale).astype(np.int8))
    return seqs, origin
