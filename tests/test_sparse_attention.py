"""Top-k sparse attention in PyTorch: dense at k >= L, masks, ties, k = 1, L = 1, training."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

import algo.attention  # noqa: F401  (registers "sbf_topk")
from algo.attention import TopK, select_topk, topk_attention, topk_from_config

TOL = 1e-5
TINY = dict(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=64)


def dense(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1) @ v


def tiny_model(**config) -> BertForSequenceClassification:
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(**TINY, **config)).eval()


def test_k_at_least_length_is_dense() -> None:
    torch.manual_seed(1)
    q, k, v = (torch.randn(2, 3, 9, 8) for _ in range(3))
    for kk in (9, 50):
        out, probs = topk_attention(q, k, v, None, TopK(k=kk))
        torch.testing.assert_close(out, dense(q, k, v), atol=TOL, rtol=TOL)
        torch.testing.assert_close(probs.sum(-1), torch.ones(2, 3, 9))


def test_model_with_large_k_equals_eager_with_padding() -> None:
    model = tiny_model(sbf_topk_k=64)
    ids = torch.randint(0, TINY["vocab_size"], (3, 12), generator=torch.Generator().manual_seed(2))
    mask = torch.ones(3, 12, dtype=torch.long)
    mask[1, 7:] = 0
    mask[2, 3:] = 0
    model.set_attn_implementation("eager")
    ref = model(input_ids=ids, attention_mask=mask).logits
    model.set_attn_implementation("sbf_topk")
    got = model(input_ids=ids, attention_mask=mask).logits
    torch.testing.assert_close(got, ref, atol=TOL, rtol=TOL)


@pytest.mark.parametrize("topk", [dict(sbf_topk_k=3), dict(sbf_topk_fraction=0.3, sbf_topk_min=2)])
def test_padding_does_not_change_a_sequence(topk: dict) -> None:
    """A sequence alone and the same sequence padded in a batch keep the same keys."""
    model = tiny_model(attn_implementation="sbf_topk", **topk)
    ids = torch.randint(0, TINY["vocab_size"], (1, 10), generator=torch.Generator().manual_seed(3))
    alone = model(input_ids=ids).logits
    padded_ids = torch.cat([ids, torch.zeros(1, 6, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(1, 10), torch.zeros(1, 6)], dim=1).long()
    padded = model(input_ids=padded_ids, attention_mask=mask).logits
    torch.testing.assert_close(padded, alone, atol=TOL, rtol=TOL)


def test_masked_keys_never_selected() -> None:
    torch.manual_seed(4)
    q, k, v = (torch.randn(1, 1, 6, 4) for _ in range(3))
    k[..., 4:, :] = 100.0  # masked keys with huge scores must still lose
    mask = torch.tensor([True] * 4 + [False] * 2).expand(1, 1, 6, 6)  # k = 8 > 4 valid keys
    _, probs = topk_attention(q, k, v, mask, TopK(k=8))
    assert torch.all(probs[..., 4:] == 0)
    torch.testing.assert_close(probs.sum(-1), torch.ones(1, 1, 6))
    additive = torch.zeros(1, 1, 6, 6).masked_fill(~mask, torch.finfo(torch.float32).min)
    _, probs_add = topk_attention(q, k, v, additive, TopK(k=8))
    torch.testing.assert_close(probs_add, probs)


def test_all_keys_masked_gives_zero_context() -> None:
    q, k, v = (torch.ones(1, 1, 3, 4) for _ in range(3))
    out, probs = topk_attention(q, k, v, torch.zeros(1, 1, 3, 3, dtype=torch.bool), TopK(k=2))
    assert torch.all(out == 0) and torch.all(probs == 0)


def test_ties_go_to_lower_key_index() -> None:
    est = torch.tensor([[[[5.0, 7.0, 5.0, 7.0, 5.0, 1.0]]]])
    valid = torch.ones_like(est, dtype=torch.bool)
    idx, kept = select_topk(est, valid, torch.tensor([[[3]]]))
    assert idx.flatten().tolist() == [1, 3, 0] and kept.all()
    valid[..., 0] = False
    idx, kept = select_topk(est, valid, torch.tensor([[[3]]]))
    assert idx.flatten().tolist() == [1, 3, 2]


def test_identical_keys_select_the_first_k() -> None:
    q = torch.randn(1, 1, 5, 4)
    k = torch.ones(1, 1, 5, 4)
    v = torch.arange(5.0).reshape(1, 1, 5, 1).expand(1, 1, 5, 4)
    _, probs = topk_attention(q, k, v, None, TopK(k=2))
    assert torch.all(probs[..., :2] == 0.5) and torch.all(probs[..., 2:] == 0)


def test_k1_returns_the_best_value_row() -> None:
    q = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    k = torch.tensor([[[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]]])
    v = torch.tensor([[[[10.0], [20.0], [30.0]]]])
    out, _ = topk_attention(q, k, v, None, TopK(k=1))
    assert out.flatten().tolist() == [10.0, 20.0]


def test_length_one() -> None:
    q, k, v = (torch.randn(2, 2, 1, 4) for _ in range(3))
    out, probs = topk_attention(q, k, v, None, TopK(k=4))
    torch.testing.assert_close(out, v)
    assert torch.all(probs == 1)


def test_fraction_count_with_floor() -> None:
    lengths = torch.tensor([0, 1, 4, 8, 10, 30])
    assert TopK(fraction=0.25, k_min=2).count(lengths).tolist() == [0, 1, 2, 2, 3, 8]
    assert TopK(k=4).count(lengths).tolist() == [0, 1, 4, 4, 4, 4]
    assert TopK(fraction=0.1).count(torch.tensor([30])).tolist() == [3]


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="sbf_topk"):
        topk_from_config(BertConfig(sbf_topk_k=4, sbf_topk_fraction=0.5))
    with pytest.raises(ValueError, match="sbf_topk.*fraction"):
        topk_from_config(BertConfig(sbf_topk_fraction=1.5))


def test_fine_tuning_steps_change_weights() -> None:
    model = tiny_model(attn_implementation="sbf_topk", sbf_topk_k=3)
    model.train()
    gen = torch.Generator().manual_seed(5)
    ids = torch.randint(0, TINY["vocab_size"], (4, 10), generator=gen)
    labels = torch.tensor([0, 1, 0, 1])
    query = model.bert.encoder.layer[0].attention.self.query.weight
    before = query.detach().clone()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(3):
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        assert query.grad is not None and query.grad.abs().sum() > 0
        opt.step()
    assert not torch.equal(query.detach(), before)
