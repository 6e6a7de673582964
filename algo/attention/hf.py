"""The `sbf_topk` attention implementation for Hugging Face models.

After `register()` (run on `import algo.attention`), any HF BERT runs the top-k sparse
attention with `attn_implementation="sbf_topk"` (in `from_pretrained`, `load_model`, or
`model.set_attn_implementation`). k comes from the model config:

    config.sbf_topk_k         fixed keys per query (default DEFAULT_K when nothing is set)
    config.sbf_topk_fraction  or ceil(fraction * L) keys per query ...
    config.sbf_topk_min       ... but at least this many (default 1)

The padding mask is built by transformers' `sdpa_mask` (boolean, True = attend), registered
under the same name; without that registration transformers would pass no mask at all.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from algo.attention.topk import TopK, topk_attention
from hw.config import DesignConfig

ATTN_IMPLEMENTATION = "sbf_topk"
DEFAULT_K = DesignConfig().attn_k  # the k the default accelerator is built for


def topk_from_config(config: Any) -> TopK:
    """The TopK rule that a model config asks for (see the module docstring)."""
    k = getattr(config, "sbf_topk_k", None)
    fraction = getattr(config, "sbf_topk_fraction", None)
    k_min = getattr(config, "sbf_topk_min", None)
    if k is not None and fraction is not None:
        raise ValueError("config.sbf_topk_k and config.sbf_topk_fraction: set only one")
    if k is None and fraction is None:
        k = DEFAULT_K
    try:
        return TopK(k=k, fraction=fraction, k_min=1 if k_min is None else k_min)
    except ValueError as e:
        raise ValueError(f"config.sbf_topk_*: {e}") from e


def sbf_topk_attention_forward(module: torch.nn.Module, query: torch.Tensor,
                               key: torch.Tensor, value: torch.Tensor,
                               attention_mask: torch.Tensor | None,
                               scaling: float | None = None, dropout: float = 0.0,
                               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The AttentionInterface signature: [B, H, L, d] in, ([B, L, H, d], probabilities) out."""
    out, probs = topk_attention(query, key, value, attention_mask,
                                topk_from_config(module.config), scaling=scaling,
                                dropout=dropout, training=module.training)
    return out.transpose(1, 2).contiguous(), probs


def register() -> None:
    """Make "sbf_topk" a valid `attn_implementation` (idempotent)."""
    AttentionInterface.register(ATTN_IMPLEMENTATION, sbf_topk_attention_forward)
    AttentionMaskInterface.register(ATTN_IMPLEMENTATION, sdpa_mask)
