"""HP on a whole BERT: which linears are pruned, one-shot pruning, and the model artifact.

Only the encoder's linears (Q, K, V, attention output, FFN1, FFN2 of every layer) run on
the accelerator, so only they are HP-pruned and stored in HP form. Everything else the
host or a later stage needs (embeddings, biases, LayerNorm, pooler, classifier) travels
with them in the artifact under its Hugging Face state-dict name, so `load_hp_model`
rebuilds an equivalent torch model from the artifact alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from algo.hp.artifact import Artifact, ArtifactError, load_artifact, save_artifact
from algo.hp.format import HPMatrix, decode, encode
from algo.hp.mask import HPShape, hp_mask, split_density

if TYPE_CHECKING:
    import torch
    from transformers import BertForSequenceClassification

# The per-layer linears, in dataflow order, relative to `encoder.layer.<i>`.
LAYER_LINEARS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
# Meta keys that `export_hp_artifact` writes and `load_hp_model` reads.
META_CONFIG = "config"
META_ENCODER_PREFIX = "encoder_prefix"
META_KIND = "kind"
KIND_HP_FLOAT = "hp-float"


def _encoder(model: torch.nn.Module) -> tuple[torch.nn.Module, str]:
    """The BertEncoder inside a classifier or bare BertModel, and its state-dict prefix."""
    for prefix, owner in (("bert.encoder.", getattr(model, "bert", None)), ("encoder.", model)):
        enc = getattr(owner, "encoder", None) if owner is not None else None
        if enc is not None and hasattr(enc, "layer"):
            return enc, prefix
    raise TypeError(f"{type(model).__name__} has no BERT encoder (expected .bert.encoder "
                    f"or .encoder with .layer)")


def encoder_prefix(model: torch.nn.Module) -> str:
    """The state-dict prefix of `encoder_linears` names, e.g. 'bert.encoder.'."""
    return _encoder(model)[1]


def encoder_linears(model: torch.nn.Module) -> dict[str, torch.nn.Linear]:
    """Every encoder linear, named `layer.<i>.<LAYER_LINEARS entry>`, layer by layer."""
    enc, _ = _encoder(model)
    result = {}
    for i, layer in enumerate(enc.layer):
        for rel in LAYER_LINEARS:
            result[f"layer.{i}.{rel}"] = layer.get_submodule(rel)
    return result


def prune_model_oneshot(model: torch.nn.Module, density: float,
                        shape: HPShape) -> dict[str, HPMatrix]:
    """HP-prune every encoder linear by magnitude to `density`; masked weights go back in.

    One shot, no retraining: blocks by L2 norm, then m entries per block row by
    magnitude (`algo.hp.mask`). Returns the float HP storage of each layer.
    """
    import torch

    keep_ratio = split_density(density, shape)
    layers: dict[str, HPMatrix] = {}
    with torch.no_grad():
        for name, linear in encoder_linears(model).items():
            w = linear.weight.detach().cpu().numpy().astype(np.float32)
            mask = hp_mask(w, shape, keep_ratio)
            layers[name] = encode(w, mask, shape)
            linear.weight.copy_(torch.from_numpy(w * mask))
    return layers


def export_hp_artifact(model: torch.nn.Module, hp_layers: dict[str, HPMatrix],
                       path: str | os.PathLike, meta: dict[str, Any]) -> Path:
    """Write HP layers plus every other state-dict tensor and the model config.

    `meta` is stored as given, completed with the config (as a dict) and the encoder
    prefix that maps HP layer names back to state-dict names.
    """
    prefix = encoder_prefix(model)
    linears = encoder_linears(model)
    unknown = sorted(set(hp_layers) - set(linears))
    if unknown:
        raise ValueError(f"hp_layers: {unknown[0]!r} is not an encoder linear of this model")
    hp_weights = {f"{prefix}{name}.weight" for name in hp_layers}
    tensors = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()
               if k not in hp_weights}
    full_meta = {META_KIND: KIND_HP_FLOAT, **meta,
                 META_CONFIG: model.config.to_dict(), META_ENCODER_PREFIX: prefix}
    return save_artifact(path, Artifact(hp_layers=dict(hp_layers), tensors=tensors,
                                        meta=full_meta))


def load_hp_model(artifact: Artifact | str | os.PathLike,
                  **kw: Any) -> BertForSequenceClassification:
    """Rebuild the torch classifier from an artifact written by `export_hp_artifact`.

    HP layers are decoded to dense (zeros where pruned). Extra keyword arguments, e.g.
    `attn_implementation`, go to the model constructor.
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    art = artifact if isinstance(artifact, Artifact) else load_artifact(artifact)
    for key in (META_CONFIG, META_ENCODER_PREFIX):
        if key not in art.meta:
            raise ArtifactError(f"artifact meta lacks {key!r}: not written by export_hp_artifact")
    config = BertConfig.from_dict(art.meta[META_CONFIG])
    model = BertForSequenceClassification._from_config(config, **kw)
    prefix = art.meta[META_ENCODER_PREFIX]
    state = {k: torch.from_numpy(np.array(v)) for k, v in art.tensors.items()}
    for name, hp in art.hp_layers.items():
        state[f"{prefix}{name}.weight"] = torch.from_numpy(decode(hp))
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ArtifactError(f"artifact does not fit the model of its config: missing "
                            f"{result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}")
    return model.eval()
