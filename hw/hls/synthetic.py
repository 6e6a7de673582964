"""A small random BERT in integers: test and demo input for rendering and C simulation.

Why through the real quantizer: a tiny random HF BERT is HP-pruned, calibrated and
converted by the same code as MiniLM (`algo.hp.model`, `algo.quantize`), so the engines
see parameters of the shape real ones have, in seconds, without the packaged model.
"""

from __future__ import annotations

from typing import Any

from algo.hp.mask import HPShape
from hw.config import DesignConfig, ModelDims
from sim.golden.params import QuantizedModel

SEED = 0
VOCAB = 97
CALIBRATION_SENTENCES = 8
CALIBRATION_WORDS = 12
DENSITY = 0.25  # keep a quarter of the weights: every layer has kept and pruned blocks

# A design small enough to compile and simulate in a few seconds.
SMALL = DesignConfig(bo=4, bi=8, m=4, tile_tokens=3, attn_k=4, max_length=24,
                     bucket_edges=(8, 16, 24),
                     model=ModelDims(hidden=32, heads=2, ffn=64, layers=2))


class _HashTokenizer:
    """Maps each word to a fixed id: enough to feed the calibration a few sentences."""

    def __call__(self, text: str, truncation: bool = True, max_length: int = 128,
                 return_tensors: str = "pt") -> dict[str, Any]:
        import torch

        ids = [1 + sum(map(ord, w)) % (VOCAB - 1) for w in text.split()][:max_length]
        return {"input_ids": torch.tensor([ids]),
                "attention_mask": torch.ones(1, len(ids), dtype=torch.long)}


def _sentences() -> list[str]:
    import numpy as np

    rng = np.random.default_rng(SEED)
    return [" ".join(f"w{int(v)}" for v in rng.integers(0, 10 * VOCAB, CALIBRATION_WORDS))
            for _ in range(CALIBRATION_SENTENCES)]


def synthetic_model(cfg: DesignConfig = SMALL, density: float = DENSITY) -> QuantizedModel:
    """The integer model of a seeded random BERT with `cfg.model`'s shape, HP-pruned."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from algo.hp.model import prune_model_oneshot
    from algo.quantize.calibrate import calibrate
    from algo.quantize.convert import quantize_model

    d = cfg.model
    bert_cfg = BertConfig(vocab_size=VOCAB, hidden_size=d.hidden, num_attention_heads=d.heads,
                          intermediate_size=d.ffn, num_hidden_layers=d.layers,
                          max_position_embeddings=cfg.max_length, hidden_act="gelu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = BertForSequenceClassification(bert_cfg).eval()
    shape = HPShape(cfg.bo, cfg.bi, cfg.m)
    hp = prune_model_oneshot(model, density, shape)
    stats = calibrate(model, _HashTokenizer(), _sentences(), max_length=cfg.max_length,
                      progress=False)
    return quantize_model(model, stats, hp, dense_shape=shape)
