"""Fidelity of the integer golden model against the float PyTorch model on real sentences.

The host side stays in float, as on the accelerator: token embeddings (then quantized to
int8 with the model's input scale) and the pooler + classifier head. Sentences run at
their real lengths. The comparison is the cosine between the mean-pooled (over real
tokens) last hidden states, float vs dequantized integer, and, with a classification
head, the share of equal argmax predictions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from sim.golden.encoder import AttentionFn, dense_attention, encoder_batched
from sim.golden.params import ACT_BITS, QuantizedModel
from sim.golden.requant import saturate

if TYPE_CHECKING:
    import torch

    from algo.glue import GlueSplit

# Sentences per float forward pass (padded to the longest in the batch, masked).
FLOAT_BATCH = 64


@dataclass(frozen=True)
class Tokenized:
    """Token ids of sentences, concatenated without padding, and each one's length."""

    input_ids: np.ndarray  # int64 [N]
    token_type_ids: np.ndarray  # int64 [N]
    lengths: list[int]

    def sequences(self) -> list[tuple[np.ndarray, np.ndarray]]:
        starts = np.cumsum([0, *self.lengths])
        return [(self.input_ids[a:b], self.token_type_ids[a:b])
                for a, b in zip(starts[:-1], starts[1:], strict=True)]


def tokenize(tokenizer, texts_a: Sequence[str], texts_b: Sequence[str] | None = None,
             max_length: int = 128) -> Tokenized:
    """Tokenize without padding, truncating to `max_length`."""
    enc = tokenizer(list(texts_a), list(texts_b) if texts_b is not None else None,
                    truncation=True, max_length=max_length)
    ids = [np.asarray(x, np.int64) for x in enc["input_ids"]]
    tts = [np.asarray(x, np.int64) for x in enc.get("token_type_ids", [np.zeros_like(i)
                                                                       for i in ids])]
    return Tokenized(np.concatenate(ids), np.concatenate(tts), [len(i) for i in ids])


def _batches(tok: Tokenized, size: int) -> list[list[int]]:
    """Sentence indices in batches of similar length (little padding in the float model)."""
    order = np.argsort(tok.lengths, kind="stable")
    return [order[i:i + size].tolist() for i in range(0, len(order), size)]


def _padded(tok: Tokenized, idx: list[int]) -> dict[str, torch.Tensor]:
    import torch

    seqs = tok.sequences()
    width = max(tok.lengths[i] for i in idx)
    ids = torch.zeros((len(idx), width), dtype=torch.long)
    tts = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for r, i in enumerate(idx):
        n = tok.lengths[i]
        ids[r, :n] = torch.from_numpy(seqs[i][0])
        tts[r, :n] = torch.from_numpy(seqs[i][1])
        mask[r, :n] = 1
    return {"input_ids": ids, "token_type_ids": tts, "attention_mask": mask}


def float_outputs(model: torch.nn.Module, tok: Tokenized,
                  progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Float last hidden states [N, hidden] (real tokens only) and logits [n_seq, labels]."""
    import torch

    hidden = np.zeros((len(tok.input_ids), model.config.hidden_size), np.float64)
    logits = np.zeros((len(tok.lengths), model.config.num_labels), np.float64)
    starts = np.cumsum([0, *tok.lengths])
    with torch.no_grad():
        for idx in tqdm(_batches(tok, FLOAT_BATCH), desc="float model", disable=not progress):
            out = model(**_padded(tok, idx), output_hidden_states=True)
            last = out.hidden_states[-1].numpy()
            for r, i in enumerate(idx):
                hidden[starts[i]:starts[i + 1]] = last[r, :tok.lengths[i]]
            logits[idx] = out.logits.numpy()
    return hidden, logits


def host_embed(model: torch.nn.Module, tok: Tokenized, input_scale: float) -> np.ndarray:
    """Float embeddings (word + position + type, LayerNorm) quantized to int8 [N, hidden]."""
    import torch

    emb = np.zeros((len(tok.input_ids), model.config.hidden_size), np.float64)
    starts = np.cumsum([0, *tok.lengths])
    embeddings = model.base_model.embeddings
    with torch.no_grad():
        for idx in _batches(tok, FLOAT_BATCH):
            batch = _padded(tok, idx)
            e = embeddings(input_ids=batch["input_ids"],
                           token_type_ids=batch["token_type_ids"]).numpy()
            for r, i in enumerate(idx):
                emb[starts[i]:starts[i + 1]] = e[r, :tok.lengths[i]]
    return saturate(np.round(emb / input_scale), ACT_BITS)


def host_head(model: torch.nn.Module, hidden: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
    """Pooler (first token) and classifier on float hidden states: logits [n_seq, labels]."""
    import torch

    starts = np.cumsum([0, *lengths])[:-1]
    first = torch.from_numpy(hidden[starts].astype(np.float32))[:, None, :]
    with torch.no_grad():
        pooled = model.base_model.pooler(first)
        return model.classifier(pooled).numpy().astype(np.float64)


def mean_pool(hidden: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
    """Mean over each sequence's tokens: [n_seq, hidden]."""
    starts = np.cumsum([0, *lengths])[:-1]
    return np.add.reduceat(hidden, starts, axis=0) / np.asarray(lengths)[:, None]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity."""
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def compare(model: torch.nn.Module, qmodel: QuantizedModel, tok: Tokenized,
            progress: bool = False, attention: AttentionFn = dense_attention,
            task: str | None = None, labels: np.ndarray | None = None) -> dict:
    """Run both models on the tokenized sentences and report the fidelity figures; with a
    task and its labels also both models' task metrics (`float_metrics`, `int_metrics`):
    what the integer arithmetic costs in accuracy, not only in cosine."""
    t0 = time.perf_counter()
    ref_hidden, ref_logits = float_outputs(model, tok, progress)
    t1 = time.perf_counter()
    x = host_embed(model, tok, qmodel.input_scale)
    out = encoder_batched(x, qmodel, tok.lengths, progress=progress, attention=attention)
    hidden = out * qmodel.output_scale
    t2 = time.perf_counter()
    cos = cosine(mean_pool(ref_hidden, tok.lengths), mean_pool(hidden, tok.lengths))
    result = {
        "n": len(tok.lengths),
        "tokens": int(sum(tok.lengths)),
        "cosine_mean": float(cos.mean()),
        "cosine_min": float(cos.min()),
    }
    if getattr(model, "classifier", None) is not None:
        logits = host_head(model, hidden, tok.lengths)
        if model.config.num_labels > 1:
            result["agreement"] = float((logits.argmax(1) == ref_logits.argmax(1)).mean())
        if task is not None and labels is not None:
            from algo.glue import compute_metrics

            result["float_metrics"] = compute_metrics(task, ref_logits, labels)
            result["int_metrics"] = compute_metrics(task, logits, labels)
    result["seconds_float"] = round(t1 - t0, 2)
    result["seconds_golden"] = round(t2 - t1, 2)
    return result


def split_fidelity(model: torch.nn.Module, tokenizer, qmodel: QuantizedModel, data: GlueSplit,
                   max_length: int, progress: bool = False,
                   attention: AttentionFn = dense_attention) -> dict:
    """`compare` on a GLUE split (truncated to max_length), with both models' task
    metrics from its labels."""
    tok = tokenize(tokenizer, data.texts_a, data.texts_b, max_length)
    return compare(model, qmodel, tok, progress=progress, attention=attention, task=data.task,
                   labels=data.labels)
