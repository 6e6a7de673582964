"""Top-k sparse attention (Peng et al., DAC 2022); importing this registers "sbf_topk".

The import refuses a transformers older than algo.models.MIN_TRANSFORMERS, naming its
version: on those BERT does not dispatch through the registered implementation.
"""

from algo.models import check_transformers

check_transformers()

from algo.attention.hf import (  # noqa: E402  (after the version check, on purpose)
    ATTN_IMPLEMENTATION,
    DEFAULT_K,
    register,
    sbf_topk_attention_forward,
    topk_from_config,
)
from algo.attention.topk import (  # noqa: E402
    TopK,
    estimate_scores,
    quantize4,
    select_topk,
    topk_attention,
)

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
