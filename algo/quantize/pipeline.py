"""From a source (a model, an HP float artifact or an integer artifact) to both models.

Shared by `sbf quantize` and `sbf golden check`: load the float model (with its HP layers
when it was pruned), pick calibration sentences apart from the evaluation split,
calibrate and quantize.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from algo.hp.artifact import ArtifactError, load_artifact
from algo.hp.format import HPMatrix
from algo.hp.mask import HPShape
from algo.quantize.calibrate import calibrate
from algo.quantize.convert import quantize_model
from algo.quantize.io import KIND_QUANTIZED, META_KIND, from_artifact
from algo.sentences import CALIBRATION_SENTENCES
from sim.golden.params import QuantizedModel

if TYPE_CHECKING:
    import torch

# Where a quantized artifact records the float model it was made from.
META_FLOAT_SOURCE = "float_source"
DEFAULT_CALIB_N = 256
CALIB_SPLIT = "train"


@dataclass
class FloatSource:
    """The float model, its tokenizer, its HP layers (empty when dense) and where it came from."""

    model: torch.nn.Module
    tokenizer: Any
    hp_layers: dict[str, HPMatrix] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)


def load_float(model: str | None = None, artifact: str | os.PathLike | None = None,
               num_labels: int = 2) -> FloatSource:
    """A float model from a model directory / hub id, or from an HP float artifact."""
    from algo.hp.model import load_hp_model
    from algo.models import load_model, load_tokenizer

    if artifact is None:
        m, tok = load_model(model, num_labels=num_labels)
        return FloatSource(m.eval(), tok, {}, {"model": str(model) if model else "default"})
    art = load_artifact(artifact)
    if art.meta.get(META_KIND) == KIND_QUANTIZED:
        raise ArtifactError(f"{artifact}: is already quantized; pass its float source")
    m = load_hp_model(art)
    tok = load_tokenizer(art.meta.get("model"))
    return FloatSource(m, tok, dict(art.hp_layers), {"artifact": str(Path(artifact).resolve())})


def calibration_texts(task: str | None, n: int, glue_dir: str | os.PathLike | None = None
                      ) -> tuple[list[str], list[str] | None, dict[str, Any]]:
    """The first n sentences of the task's train split, or the built-in list without GLUE."""
    from algo.glue import GlueError, load_split

    if task is not None:
        try:
            data = load_split(task, CALIB_SPLIT, glue_dir)
        except GlueError as e:
            if glue_dir is not None:
                raise
            info = {"source": "builtin", "reason": str(e)}
        else:
            b = data.texts_b[:n] if data.texts_b is not None else None
            return (data.texts_a[:n], b,
                    {"source": f"{data.task}/{CALIB_SPLIT}", "n": min(n, len(data))})
    else:
        info = {"source": "builtin"}
    texts = list(CALIBRATION_SENTENCES)
    return texts, None, {**info, "n": len(texts)}


def quantize_source(src: FloatSource, texts_a: list[str], texts_b: list[str] | None,
                    max_length: int, progress: bool = True,
                    dense_shape: HPShape | None = None) -> QuantizedModel:
    """Calibrate the float model on the texts and convert it.

    `dense_shape` is the block geometry for linears the source left dense (a design's).
    """
    stats = calibrate(src.model, src.tokenizer, texts_a, texts_b, max_length,
                      progress=progress)
    return quantize_model(src.model, stats, src.hp_layers, dense_shape=dense_shape)


def is_quantized(path: str | os.PathLike) -> bool:
    """Whether the artifact at `path` is an integer one (else an HP float one)."""
    return load_artifact(path).meta.get(META_KIND) == KIND_QUANTIZED


def load_quantized_with_source(path: str | os.PathLike,
                               num_labels: int = 2) -> tuple[QuantizedModel, FloatSource]:
    """An integer artifact and the float model it records as its source."""
    art = load_artifact(path)
    qm = from_artifact(art, str(path))
    origin = qm.meta.get(META_FLOAT_SOURCE)
    if not origin:
        raise ArtifactError(f"{path}: records no {META_FLOAT_SOURCE!r} to compare against")
    src = load_float(origin.get("model") if origin.get("model") != "default" else None,
                     origin.get("artifact"), num_labels)
    return qm, src
