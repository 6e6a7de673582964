"""Where the integer model and the real sentences for render and csim come from.

An HP artifact (`sbf prune ...`, version 1) holds float HP weights: they are written
into the float model, which is calibrated and converted by `algo.quantize`. Without an
artifact the model is pruned one-shot to a density, so a user can try the flow in one
command. Calibration uses GLUE SST-2 train sentences when the data is present (else the
built-in ones); the checked sentences come from the dev split, never from calibration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from algo.hp.mask import HPShape
from hw.config import DesignConfig
from sim.golden.params import QuantizedModel

CALIBRATION_SENTENCES = 64
CHECK_TASK = "SST-2"
CALIBRATION_SPLIT = "train"
CHECK_SPLIT = "dev"


@dataclass
class SourceModel:
    """The float model (for host-side embeddings), its integer form, and what made it."""

    float_model: Any
    tokenizer: Any
    quantized: QuantizedModel
    description: dict[str, Any]


def _texts(split: str, glue_dir: str | None, limit: int) -> tuple[list[str], str]:
    """Sentences of SST-2 `split`, or the built-in ones when GLUE is absent."""
    from algo.glue import GlueError, load_split
    from algo.quantize.calibrate import BUILTIN_SENTENCES

    try:
        data = load_split(CHECK_TASK, split, glue_dir)
    except GlueError as e:
        return list(BUILTIN_SENTENCES), f"built-in sentences (no GLUE data: {e})"
    return list(data.texts_a[:limit]), f"GLUE {CHECK_TASK} {split}"


def _load_hp_artifact(path: Path) -> dict:
    from algo.hp.artifact import load_artifact

    art = load_artifact(path)
    if not art.hp_layers:
        raise ValueError(f"{path}: the artifact holds no HP layers")
    return art.hp_layers


def load_source(cfg: DesignConfig, artifact: Path | None = None, model: str | None = None,
                density: float = 0.2, glue_dir: str | None = None) -> SourceModel:
    """The float model (packaged MiniLM by default), HP-pruned, calibrated and quantized."""
    import torch

    from algo.hp.format import decode
    from algo.hp.model import encoder_linears, prune_model_oneshot
    from algo.models import load_model
    from algo.quantize.calibrate import calibrate
    from algo.quantize.convert import quantize_model

    fmodel, tok = load_model(model)
    fmodel.eval()
    shape = HPShape(cfg.bo, cfg.bi, cfg.m)
    if artifact is not None:
        hp_layers = _load_hp_artifact(artifact)
        linears = encoder_linears(fmodel)
        with torch.no_grad():
            for name, hp in hp_layers.items():
                if name not in linears:
                    raise ValueError(f"{artifact}: HP layer {name!r} is not in the model")
                linears[name].weight.copy_(torch.from_numpy(decode(hp).astype(np.float32)))
        how = {"artifact": str(artifact)}
    else:
        hp_layers = prune_model_oneshot(fmodel, density, shape)
        how = {"pruning": "one-shot magnitude", "density": density}
    texts, calib_from = _texts(CALIBRATION_SPLIT, glue_dir, CALIBRATION_SENTENCES)
    stats = calibrate(fmodel, tok, texts, max_length=cfg.max_length, progress=False)
    qmodel = quantize_model(fmodel, stats, hp_layers, dense_shape=shape)
    return SourceModel(fmodel, tok, qmodel, {**how, "model": str(model or "packaged MiniLM"),
                                             "calibration": calib_from})


def real_sequences(src: SourceModel, lengths: list[int], glue_dir: str | None = None,
                   ) -> tuple[list[np.ndarray], str]:
    """int8 encoder inputs of exactly each length: real dev sentences run together and
    tokenized, then cut to L tokens, embedded on the host as the accelerator's host does."""
    from sim.golden.check import Tokenized, host_embed

    texts, origin = _texts(CHECK_SPLIT, glue_dir, limit=max(lengths) + len(lengths))
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
