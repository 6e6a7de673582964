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

from tqdm import tqdm

from algo.hp.model import encoder_prefix

if TYPE_CHECKING:
    import torch

# Built-in calibration sentences, used when no GLUE data is at hand (tests, quick runs).
BUILTIN_SENTENCES = (
    "the film is a charming, funny and moving portrait of a family.",
    "a dull, lifeless movie that never finds its footing.",
    "the performances are strong but the script lets everyone down.",
    "it's a smart, well-crafted thriller with a terrific final act.",
    "i could not wait for it to end.",
    "an ambitious failure, yet oddly compelling from start to finish.",
    "the kitchen was closed when we arrived, so we ate at the station.",
    "researchers measured the latency of the accelerator on sequences of many lengths.",
    "Quantization maps real numbers to integers with a scale.",
    "What time does the next train to the airport leave?",
    "He said the results were encouraging, although more work is needed.",
    "a masterpiece.",
)

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
              progress: bool = True) -> dict[str, float]:
    """max |value| of every calibrated tensor over the calibration sentences (float model)."""
    import torch

    layers = encoder_layers(model)
    heads = model.config.num_attention_heads
    stats: dict[str, float] = {}
    seen: dict[str, torch.Tensor] = {}

    def record(name: str, t: torch.Tensor) -> None:
        seen[name] = t
        stats[name] = max(stats.get(name, 0.0), float(t.detach().abs().max()))

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
    try:
        with torch.no_grad():
            for j in tqdm(range(len(texts_a)), desc="calibrate", disable=not progress):
                pair = (texts_a[j],) if texts_b is None else (texts_a[j], texts_b[j])
                enc = tokenizer(*pair, truncation=True, max_length=max_length,
                                return_tensors="pt")
                model(**enc)
                for i in range(len(layers)):
                    q, k = seen[f"layer.{i}.query"][0], seen[f"layer.{i}.key"][0]
                    d = q.shape[-1] // heads
                    qh = q.view(-1, heads, d).transpose(0, 1)
                    kh = k.view(-1, heads, d).transpose(0, 1)
                    record(f"layer.{i}.scores", qh @ kh.transpose(1, 2) / math.sqrt(d))
    finally:
        for h in handles:
            h.remove()
    return stats
