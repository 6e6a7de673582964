"""Real stimulus for the RTL benches: the packaged MiniLM's weights and real sentences.

The weights are read straight from the package's safetensors (no torch needed, so the
`sbf sim` command stays quick). A layer's input is computed in float from real text:
embeddings + LayerNorm for the hidden-wide layers, and GELU of that layer's
intermediate projection for the FFN-wide output layer (the attention block is skipped:
the inputs are realistic in range and structure, not the exact encoder activations).
Sentences come from GLUE SST-2 dev when the data is present, else from a short built-in
list.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import erf

from algo.hp import HPShape
from algo.models import default_model_path
from algo.sentences import DEMO_SENTENCES
from sim.rtl.spmm_case import SpmmCase, quantize_layer

LN_EPS = 1e-12  # BERT's LayerNorm epsilon
# encoder_linears-style names -> (safetensors prefix template, input: "hidden" or "ffn")
LAYER_KINDS = {
    "attention.self.query": "hidden",
    "attention.self.key": "hidden",
    "attention.self.value": "hidden",
    "attention.output.dense": "hidden",
    "intermediate.dense": "hidden",
    "output.dense": "ffn",
}


@lru_cache(maxsize=1)
def weights() -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(default_model_path() / "model.safetensors"))


@lru_cache(maxsize=1)
def sentences() -> tuple[str, ...]:
    from algo.glue import GlueError, load_split

    try:
        return tuple(load_split("SST-2", "dev").texts_a)
    except GlueError:
        return DEMO_SENTENCES


def token_ids(length: int, seed: int = 0) -> np.ndarray:
    """`length` token ids of real text: sentences from a seeded start, joined until long enough."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
    pool = sentences()
    ids: list[int] = []
    i = seed % len(pool)
    while len(ids) < length:
        ids.extend(tok.encode(pool[i]).ids)
        i = (i + 1) % len(pool)
    return np.asarray(ids[:length], dtype=np.int64)


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + LN_EPS) * gamma + beta


def embeddings(length: int, seed: int = 0) -> np.ndarray:
    """The encoder input of a real sentence: word + position + type embeddings, LayerNorm."""
    w = weights()
    ids = token_ids(length, seed)
    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][:length]
         + w["embeddings.token_type_embeddings.weight"][0])
    return _layernorm(x.astype(np.float64), w["embeddings.LayerNorm.weight"],
                      w["embeddings.LayerNorm.bias"])


def layer_case(layer: str, length: int, density: float, shape: HPShape, seed: int = 0,
               crop: tuple[int, int] | None = None) -> SpmmCase:
    """An int8 HP case of MiniLM linear `layer` (e.g. 'layer.0.intermediate.dense').

    `crop` = (out, in) keeps the top-left corner of the weight (and the matching inputs)
    so that a small test engine can run real weights on real text.
    """
    parts = layer.split(".", 2)
    if len(parts) != 3 or parts[0] != "layer" or parts[2] not in LAYER_KINDS:
        raise ValueError(f"layer: {layer!r} is not 'layer.<i>.<one of {sorted(LAYER_KINDS)}>'")
    w = weights()
    prefix = f"encoder.{layer}"
    if f"{prefix}.weight" not in w:
        raise ValueError(f"layer: {layer!r} is not in the packaged MiniLM")
    x = embeddings(length, seed)
    if LAYER_KINDS[parts[2]] == "ffn":
        inter = f"encoder.layer.{parts[1]}.intermediate.dense"
        pre = x @ w[f"{inter}.weight"].T.astype(np.float64) + w[f"{inter}.bias"]
        x = 0.5 * pre * (1.0 + erf(pre / np.sqrt(2.0)))
    weight, bias = w[f"{prefix}.weight"].astype(np.float64), w[f"{prefix}.bias"].astype(np.float64)
    name = f"minilm:{layer}:L{length}"
    if crop is not None:
        out_f, in_f = crop
        weight, bias, x = weight[:out_f, :in_f], bias[:out_f], x[:, :in_f]
        name += f":crop{out_f}x{in_f}"
    return quantize_layer(name, weight, bias, x, density, shape)
