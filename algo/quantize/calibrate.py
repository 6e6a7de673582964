"""Static calibration: the largest magnitude of every tensor the integer encoder quantizes.

The float model runs on calibration sentences (a split kept apart from evaluation), one
sentence at a time at its real length, so no padding token enters a statistic. Forward
hooks read each tensor where the integer model holds it; the names are those of
`sim.golden.encoder.LAYER_TRACE_NAMES`, prefixed `layer.<i>.`. Attention scores (after
the 1/sqrt(d)) are recomputed from the hooked Q and K.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from algo.hp.model import encoder_prefix

if TYPE_CHECKING:
    import torch

# Sentences per calibration forward pass (padded, with padding masked out of the statistics).
CALIB_BATCH = 32

# (trace name, submodule of encoder layer i, "in" = its first input | "out" = its output)
_POINTS = (
    ("input", "attention.self.query", "in"),
    ("query", "attention.self.query", "out"),
    ("key", "attention.self.key", "out"),
    ("value", "attention.self.value", "out"),
    ("context", "attention.output.dense", "in"),
    ("attn_out", "attention.output.dense", "out"),
    ("residual1", "attention.output.LayerNorm", "in"),
    ("ln1", "attention.output.LayerNorm", "out"),
    ("ffn_in", "intermediate.dense", "out"),
    ("ffn_mid", "output.dense", "in"),
    ("ffn_out", "output.dense", "out"),
    ("residual2", "output.LayerNorm", "in"),
    ("output", "output.LayerNorm", "out"),
)


def encoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The BertLayer modules of the model's encoder, in order."""
    return list(model.get_submodule(encoder_prefix(model).rstrip(".")).layer)


def calibrate(model: torch.nn.Module, tokenizer, texts_a: Sequence[str],
              texts_b: Sequence[str] | None = None, max_length: int = 128,
              batch_size: int = CALIB_BATCH, progress: bool = True) -> dict[str, np.ndarray]:
    """Per-channel max |value| of every calibrated tensor over the calibration sentences.

    Returns float64 vectors [channels] (attention scores: one value per head), taken over
    real tokens only: padded positions are masked out of every statistic.
    """
    import torch

    layers = encoder_layers(model)
    heads = model.config.num_attention_heads
    stats: dict[str, np.ndarray] = {}
    seen: dict[str, torch.Tensor] = {}
    mask: list[torch.Tensor] = []  # the current batch's attention mask, bool [B, L]

    def record(name: str, t: torch.Tensor) -> None:
        seen[name] = t
        ch = t.detach()[mask[0]].abs().amax(dim=0).double().numpy()  # real tokens only
        stats[name] = np.maximum(stats[name], ch) if name in stats else ch

    handles = []
    for i, layer in enumerate(layers):
        for name, rel, where in _POINTS:
            mod = layer.get_submodule(rel)
            key = f"layer.{i}.{name}"
            if where == "in":
                handles.append(mod.register_forward_pre_hook(
                    lambda _m, args, key=key: record(key, args[0])))
            else:
                handles.append(mod.register_forward_hook(
                    lambda _m, _a, out, key=key: record(key, out)))
    pairs = list(texts_a) if texts_b is None else list(zip(texts_a, texts_b, strict=True))
    try:
        with torch.no_grad():
            for j in tqdm(range(0, len(pairs), batch_size), desc="calibrate",
                          disable=not progress):
                chunk = pairs[j:j + batch_size]
                args = (chunk,) if texts_b is None else ([a for a, _ in chunk],
                                                          [b for _, b in chunk])
                enc = tokenizer(*args, truncation=True, max_length=max_length, padding=True,
                                return_tensors="pt")
                mask[:] = [enc["attention_mask"].bool()]
                model(**enc)
                pair_mask = (mask[0][:, None, :, None] & mask[0][:, None, None, :]).double()
                for i in range(len(layers)):
                    q, k = seen[f"layer.{i}.query"], seen[f"layer.{i}.key"]
                    b, n, hidden = q.shape
                    d = hidden // heads
                    qh = q.view(b, n, heads, d).transpose(1, 2).double()
                    kh = k.view(b, n, heads, d).transpose(1, 2).double()
                    sc = (qh @ kh.transpose(2, 3) / math.sqrt(d) * pair_mask).abs()
                    per_head = sc.amax(dim=(0, 2, 3)).numpy()
                    key = f"layer.{i}.scores"
                    stats[key] = np.maximum(stats[key], per_head) if key in stats else per_head
    finally:
        for h in handles:
            h.remove()
    return stats
