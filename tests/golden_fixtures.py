"""A tiny random BERT shared by the golden-model and quantize tests (no tests of its own)."""

from __future__ import annotations

from typing import Any

TINY_CONFIG = {"hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64,
               "num_hidden_layers": 2, "max_position_embeddings": 128}
TINY_SEED = 0


def tiny_model() -> tuple[Any, Any]:
    """(BertForSequenceClassification with random weights, the packaged MiniLM tokenizer)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from algo.models import load_tokenizer

    tok = load_tokenizer()
    torch.manual_seed(TINY_SEED)
    config = BertConfig(vocab_size=tok.vocab_size, num_labels=2, **TINY_CONFIG)
    return BertForSequenceClassification(config).eval(), tok
