"""A small random BERT in integers: test and demo input for rendering and C simulation.

Why through the real quantizer: a tiny random HF BERT (with the packaged model's
tokenizer) is HP-pruned, calibrated and converted by the same code as MiniLM
(`algo.hp.model`, `algo.quantize`), so the engines see parameters shaped like real ones,
in seconds, without the model's weights.
"""

from __future__ import annotations

from algo.hp.mask import HPShape
from hw.config import DesignConfig, ModelDims
from sim.golden.params import QuantizedModel

SEED = 0
DENSITY = 0.25  # keep a quarter of the weights: every layer has kept and pruned blocks

# A design small enough to compile and simulate in a few seconds.
# One attention engine per head, like the default design, so the unrolled engines compile.
SMALL = DesignConfig(bo=4, bi=8, m=4, tile_tokens=3, attn_k=4, attn_heads_parallel=2,
                     max_length=24, bucket_edges=(8, 16, 24),
                     model=ModelDims(hidden=32, heads=2, ffn=64, layers=2))


def synthetic_model(cfg: DesignConfig = SMALL, density: float = DENSITY) -> QuantizedModel:
    """The integer model of a seeded random BERT with `cfg.model`'s shape, HP-pruned."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from algo.hp.model import prune_model_oneshot
    from algo.models import load_tokenizer
    from algo.quantize.calibrate import calibrate
    from algo.quantize.convert import quantize_model
    from algo.sentences import CALIBRATION_SENTENCES

    tok = load_tokenizer()
    d = cfg.model
    bert_cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=d.hidden,
                          num_attention_heads=d.heads, intermediate_size=d.ffn,
                          num_hidden_layers=d.layers, max_position_embeddings=cfg.max_length)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = BertForSequenceClassification(bert_cfg).eval()
    shape = HPShape(cfg.bo, cfg.bi, cfg.m)
    hp = prune_model_oneshot(model, density, shape)
    stats = calibrate(model, tok, list(CALIBRATION_SENTENCES), max_length=cfg.max_length,
                      progress=False)
    return quantize_model(model, stats, hp, dense_shape=shape)
