"""The fine-tuning loop on a tiny random BERT: batching, metrics, exact resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

from algo.glue import GlueSplit
from algo.hp import HPShape
from algo.hp.model import encoder_linears
from algo.prune.gradual import GradualPruner
from algo.prune.masks import linear_sizes
from algo.prune.plan import uniform_plan
from algo.train import (
    Encoded,
    TrainConfig,
    TrainHook,
    batch_index,
    encode,
    epoch_batches,
    evaluate,
    holdout_split,
    read_checkpoint,
    train,
    write_checkpoint,
)

WORDS = ["good", "great", "fine", "bad", "awful", "poor", "the", "movie", "was", "is",
         "a", "plot", "very", "not", "actor", "story"]
POSITIVE, NEGATIVE = WORDS[:3], WORDS[3:6]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TINY_SHAPE = HPShape(8, 8, 2)  # the tiny model's linears are 32x32, 64x32, 32x64


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread per test process: with xdist on two cores, more threads only spin."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_tokenizer() -> BertTokenizerFast:
    return BertTokenizerFast(vocab={w: i for i, w in enumerate(SPECIALS + WORDS)})


def tiny_model(seed: int = 0, num_labels: int = 2) -> BertForSequenceClassification:
    """2 layers, hidden 32, 2 heads, FFN 64: small enough for a few CPU steps in tests."""
    cfg = BertConfig(vocab_size=len(SPECIALS) + len(WORDS), hidden_size=32,
                     num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                     max_position_embeddings=32, num_labels=num_labels)
    torch.manual_seed(seed)
    return BertForSequenceClassification(cfg)


def tiny_split(n: int, seed: int, task: str = "SST-2") -> GlueSplit:
    """Sentences whose label is whether they hold a positive word."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(WORDS[6:], size=int(rng.integers(2, 8))))
        words.insert(int(rng.integers(0, len(words))),
                     str(rng.choice(POSITIVE if label else NEGATIVE)))
        texts.append(" ".join(words))
        labels.append(label)
    return GlueSplit(task, texts, None, np.asarray(labels, dtype=np.int64))


def tiny_data(n: int = 64, seed: int = 0) -> Encoded:
    return encode(tiny_tokenizer(), tiny_split(n, seed), max_length=16)


def test_batches_are_trimmed_to_their_longest_row() -> None:
    data = tiny_data()
    idx = torch.tensor([0, 1, 2])
    batch = data.batch(idx, torch.device("cpu"))
    longest = int(data.attention_mask[idx].sum(1).max())
    assert batch["input_ids"].shape == (3, longest)
    assert batch["attention_mask"].all(dim=0).any()  # no all-padding column


@pytest.mark.parametrize("length_group", [0, 2, 50])
def test_each_epoch_visits_every_example_once(length_group: int) -> None:
    cfg = TrainConfig(batch_size=8, seed=3, length_group=length_group)
    lengths = torch.randint(1, 30, (37,), generator=torch.Generator().manual_seed(1))
    for epoch in range(2):
        seen = torch.cat([batch_index(epoch * 5 + s, lengths, cfg) for s in range(5)])
        assert sorted(seen.tolist()) == list(range(37))


def test_length_groups_cut_padding_and_keep_epochs_different() -> None:
    lengths = torch.randint(1, 64, (4096,), generator=torch.Generator().manual_seed(0))

    def padded(cfg: TrainConfig, epoch: int) -> int:
        return sum(int(lengths[b].max()) * len(b) for b in epoch_batches(epoch, lengths, cfg))

    grouped, plain = TrainConfig(batch_size=32), TrainConfig(batch_size=32, length_group=0)
    assert padded(grouped, 0) < 0.7 * padded(plain, 0)
    first = [b.tolist() for b in epoch_batches(0, lengths, grouped)]
    assert first != [b.tolist() for b in epoch_batches(1, lengths, grouped)]
    assert first == [b.tolist() for b in epoch_batches(0, lengths, grouped)]


def test_the_loop_trains_on_the_batches_batch_index_names(
        monkeypatch: pytest.MonkeyPatch) -> None:
    data, seen = tiny_data(n=40), []
    real_batch = Encoded.batch

    def spy(self: Encoded, index: torch.Tensor, device: torch.device) -> dict:
        seen.append(index.tolist())
        return real_batch(self, index, device)

    monkeypatch.setattr(Encoded, "batch", spy)
    cfg = TrainConfig(max_steps=12, batch_size=8, length_group=2)  # 5 steps/epoch
    train(tiny_model(), data, cfg, progress=False)
    assert seen == [batch_index(s, data.lengths, cfg).tolist() for s in range(12)]


@pytest.mark.parametrize("bad", [{"batch_size": 0}, {"length_group": -1}, {"epochs": 0},
                                 {"max_steps": 0}, {"checkpoint_every": -5}])
def test_bad_training_configs_are_refused_by_name(bad: dict) -> None:
    with pytest.raises(ValueError, match=f"{next(iter(bad))} must be"):
        TrainConfig(**bad)


def test_holdout_split_is_disjoint_and_complete() -> None:
    data = tiny_data(n=50)
    fit, held = holdout_split(data, 0.2, seed=1)
    assert len(fit) == 40 and len(held) == 10
    rows = {tuple(r.tolist()) for r in torch.cat([fit.input_ids, held.input_ids])}
    assert rows == {tuple(r.tolist()) for r in data.input_ids}


def test_training_learns_the_toy_task() -> None:
    data = tiny_data(n=128)
    model = tiny_model()
    train(model, data, TrainConfig(epochs=10, batch_size=16, lr=1e-3), progress=False)
    assert evaluate(model, data, "SST-2")["accuracy"] >= 0.9


class _Crash(TrainHook):
    """Simulates a killed run: raises after a given step."""

    def __init__(self, at: int | None) -> None:
        self.at = at

    def after_step(self, model: torch.nn.Module, step: int) -> None:
        if step == self.at:
            raise KeyboardInterrupt


def _pruned_run(ckpt: Path | None, crash_at: int | None,
                model: torch.nn.Module) -> list[float]:
    data = tiny_data(n=48)
    linears = encoder_linears(model)
    plan = uniform_plan(linear_sizes(linears), 0.2, TINY_SHAPE)
    cfg = TrainConfig(max_steps=9, batch_size=8, lr=1e-3, seed=5, checkpoint_every=1)
    hooks = [GradualPruner(linears, plan, end=0.8, n_updates=3), _Crash(crash_at)]
    return train(model, data, cfg, hooks=hooks, checkpoint_dir=ckpt, progress=False).losses


@pytest.mark.parametrize("crash_at", [4, 7])  # in epoch 0, and in epoch 1 (6 steps each)
def test_resume_matches_an_uninterrupted_run(tmp_path: Path, crash_at: int) -> None:
    straight = tiny_model(seed=1)
    losses = _pruned_run(tmp_path / "a", None, straight)

    ckpt = tmp_path / "b"
    with pytest.raises(KeyboardInterrupt):
        _pruned_run(ckpt, crash_at, tiny_model(seed=1))
    assert read_checkpoint(ckpt)["step"] == crash_at
    resumed = tiny_model(seed=7)  # other weights: everything must come from the checkpoint
    resumed_losses = _pruned_run(ckpt, None, resumed)

    assert resumed_losses == losses
    for (k, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(),
                              strict=True):
        assert torch.equal(a, b), k


def test_a_resumed_run_counts_the_time_spent_before(tmp_path: Path) -> None:
    data, cfg = tiny_data(n=16), TrainConfig(max_steps=3, batch_size=8, checkpoint_every=1)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_model(), data, cfg, hooks=[_Crash(1)], checkpoint_dir=tmp_path,
              progress=False)
    state = read_checkpoint(tmp_path)
    state["wall_s"] = 1000.0  # as if the first process had trained for 1000 s
    write_checkpoint(tmp_path, state)
    with pytest.raises(KeyboardInterrupt):  # a second process, cut off again
        train(tiny_model(), data, cfg, hooks=[_Crash(2)], checkpoint_dir=tmp_path,
              progress=False)
    state = read_checkpoint(tmp_path)
    assert state["step"] == 2 and 1000.0 < state["wall_s"] < 1100.0
    state["wall_s"] += 500.0  # the second process's share, made large enough to see
    write_checkpoint(tmp_path, state)
    result = train(tiny_model(), data, cfg, hooks=[_Crash(None)], checkpoint_dir=tmp_path,
                   progress=False)
    assert result.resumed_from == 2 and 1500.0 < result.wall_s_before_resume < 1600.0
    assert result.wall_s_before_resume < result.wall_s < 1600.0


def test_resume_refuses_another_config(tmp_path: Path) -> None:
    data = tiny_data(n=16)
    train(tiny_model(), data, TrainConfig(max_steps=1, batch_size=8), checkpoint_dir=tmp_path,
          progress=False)
    with pytest.raises(ValueError, match="another training config .max_steps 1 there, 2 now"):
        train(tiny_model(), data, TrainConfig(max_steps=2, batch_size=8),
              checkpoint_dir=tmp_path, progress=False)


def test_regression_tasks_train_with_mse_and_report_correlations() -> None:
    split = tiny_split(32, seed=2, task="STS-B")
    split = GlueSplit("STS-B", split.texts_a, split.texts_a, split.labels.astype(np.float32) * 5)
    data = encode(tiny_tokenizer(), split, max_length=32)
    assert data.labels.dtype == torch.float32 and data.token_type_ids.any()
    model = tiny_model(num_labels=1)
    result = train(model, data, TrainConfig(max_steps=3, batch_size=8), progress=False)
    assert len(result.losses) == 3 and all(np.isfinite(result.losses))
    assert set(evaluate(model, data, "STS-B")) == {"pearson", "spearman"}
