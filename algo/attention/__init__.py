"""Top-k sparse attention (Peng et al., DAC 2022); importing this registers "sbf_topk"."""

from algo.attention.hf import (
    ATTN_IMPLEMENTATION,
    DEFAULT_K,
    register,
    sbf_topk_attention_forward,
    topk_from_config,
)
from algo.attention.topk import TopK, estimate_scores, quantize4, select_topk, topk_attention

register()

__all__ = [
    "ATTN_IMPLEMENTATION",
    "DEFAULT_K",
    "TopK",
    "estimate_scores",
    "quantize4",
    "register",
    "sbf_topk_attention_forward",
    "select_topk",
    "topk_attention",
    "topk_from_config",
]
