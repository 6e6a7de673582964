"""GLUE fine-tuning: seeded, resumable, on CPU or CUDA, with hooks for pruning.

Reproducibility: the batch order of epoch e is drawn from a generator seeded with
(seed, e), so step s alone says which examples it sees; dropout draws from
the global torch RNG, which is seeded at the start and saved in every checkpoint. A run
resumed from a checkpoint therefore continues exactly as the uninterrupted run would.
Pruning methods plug in as `TrainHook`s (an extra loss term, work after each optimizer
step, their own state in the checkpoint) so this loop stays the only training loop.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from algo.glue import GlueSplit, compute_metrics, task_spec

# A checkpoint is two files, never a pickle (loading one can run arbitrary code): every
# tensor in safetensors, everything else (step, config, losses, the structure of the
# optimizer, scheduler and hook states) in strict JSON, tensors referenced by key. Both
# carry the same save id, so a crash between the two renames is detected, not resumed.
CHECKPOINT = "checkpoint.json"
CHECKPOINT_TENSORS = "checkpoint.safetensors"
LEGACY_CHECKPOINT = "checkpoint.pt"  # the pickle of older versions: refused, never loaded
_SAVE_ID = "save_id"
# Batches per length group: examples of similar length share a batch within a random group
# of this many batches (as Hugging Face's LengthGroupedSampler does), so a batch trimmed to
# its longest row carries little padding; the groups keep batches random across the epoch.
DEFAULT_LENGTH_GROUP = 50
# Seeds of per-epoch permutations: (seed * _EPOCH_STRIDE + epoch) keeps runs with
# different seeds from sharing any epoch's order.
_EPOCH_STRIDE = 1_000_003


@dataclass
class Encoded:
    """A tokenized split: padded to `max_length`; batches are trimmed to their longest row."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def lengths(self) -> torch.Tensor:
        """Real (unpadded) length of every row."""
        return self.attention_mask.sum(dim=1)

    def subset(self, index: Sequence[int] | np.ndarray | torch.Tensor) -> Encoded:
        index = torch.as_tensor(np.asarray(index), dtype=torch.long)
        return Encoded(self.input_ids[index], self.attention_mask[index],
                       self.token_type_ids[index], self.labels[index])

    def batch(self, index: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
        """The rows `index`, cut to the longest real length among them (no wasted padding)."""
        length = int(self.attention_mask[index].sum(dim=1).max())
        return {"input_ids": self.input_ids[index, :length].to(device),
                "attention_mask": self.attention_mask[index, :length].to(device),
                "token_type_ids": self.token_type_ids[index, :length].to(device),
                "labels": self.labels[index].to(device)}


def encode(tokenizer: Any, split: GlueSplit, max_length: int) -> Encoded:
    """Tokenize a GLUE split (single sentences or pairs), truncating to `max_length`."""
    enc = tokenizer(list(split.texts_a), None if split.texts_b is None else list(split.texts_b),
                    truncation=True, max_length=max_length, padding="max_length",
                    return_tensors="pt", return_token_type_ids=True)
    spec = task_spec(split.task)
    dtype = torch.float32 if spec.is_regression else torch.long
    return Encoded(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"],
                   torch.as_tensor(np.asarray(split.labels), dtype=dtype))


def holdout_split(data: Encoded, fraction: float, seed: int) -> tuple[Encoded, Encoded]:
    """Split training data into (fit, held-out) parts: the held-out part scores candidates
    so that the dev split is never used for a decision."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"holdout fraction must be in (0, 1), got {fraction}")
    perm = np.random.default_rng(seed).permutation(len(data))
    n_hold = max(1, round(fraction * len(data)))
    return data.subset(np.sort(perm[n_hold:])), data.subset(np.sort(perm[:n_hold]))


def subset_split(split: GlueSplit, n: int | None, seed: int) -> GlueSplit:
    """A seeded random subset of n examples, in file order (all when n is None or too large);
    taken before tokenizing so that a small run does not tokenize all of SST-2."""
    if n is None or n >= len(split):
        return split
    keep = np.sort(np.random.default_rng(seed).permutation(len(split))[:n])
    return GlueSplit(split.task, [split.texts_a[i] for i in keep],
                     None if split.texts_b is None else [split.texts_b[i] for i in keep],
                     split.labels[keep])


class TrainHook:
    """A pruning method's part in training; every method is a no-op by default."""

    def begin(self, model: torch.nn.Module, total_steps: int) -> None:
        """Called once before the first step (also when resuming, before the state loads)."""

    def extra_loss(self, model: torch.nn.Module, step: int) -> torch.Tensor | None:
        """A term added to the loss of `step` (e.g. a regulariser)."""
        return None

    def after_step(self, model: torch.nn.Module, step: int) -> None:
        """Called after the optimizer step `step` (0-based) has updated the weights."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned."""


@dataclass
class TrainConfig:
    """What a fine-tuning run does; saved into its checkpoints."""

    epochs: float = 2.0
    batch_size: int = 32
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    max_steps: int | None = None  # overrides epochs when set
    length_group: int = DEFAULT_LENGTH_GROUP  # batches per length-sorted group; 0 = random
    checkpoint_every: int = 0  # steps between checkpoints; 0 = only at the end
    device: str = "auto"

    def __post_init__(self) -> None:
        bad = [f"{name} must be {rule}, got {value}" for name, value, ok, rule in (
            ("batch_size", self.batch_size, self.batch_size >= 1, ">= 1"),
            ("length_group", self.length_group, self.length_group >= 0, ">= 0"),
            ("epochs", self.epochs, self.epochs > 0 or self.max_steps is not None, "> 0"),
            ("max_steps", self.max_steps, self.max_steps is None or self.max_steps >= 1,
             ">= 1"),
            ("checkpoint_every", self.checkpoint_every, self.checkpoint_every >= 0, ">= 0"))
            if not ok]
        if bad:
            raise ValueError("training config: " + "; ".join(bad))


@dataclass
class TrainResult:
    steps: int
    wall_s: float  # training time of the whole run, before a resume included
    losses: list[float] = field(default_factory=list)
    resumed_from: int = 0
    wall_s_before_resume: float = 0.0  # what the checkpoint's run(s) had spent


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def total_steps(n_examples: int, cfg: TrainConfig) -> int:
    if cfg.max_steps is not None:
        return cfg.max_steps
    return max(1, math.ceil(cfg.epochs * steps_per_epoch(n_examples, cfg)))


def epoch_batches(epoch: int, lengths: torch.Tensor, cfg: TrainConfig) -> list[torch.Tensor]:
    """The batches of epoch `epoch`, every example once: a seeded permutation, cut into
    groups of `length_group` batches, each group sorted by length and cut into batches,
    then all batches shuffled (so batch length does not follow the step)."""
    n = int(lengths.shape[0])
    gen = torch.Generator().manual_seed(cfg.seed * _EPOCH_STRIDE + epoch)
    perm = torch.randperm(n, generator=gen)
    if cfg.length_group <= 0:
        return list(perm.split(cfg.batch_size))
    batches: list[torch.Tensor] = []
    for chunk in perm.split(cfg.batch_size * cfg.length_group):
        by_length = torch.sort(lengths[chunk], descending=True, stable=True).indices
        batches += chunk[by_length].split(cfg.batch_size)
    return [batches[i] for i in torch.randperm(len(batches), generator=gen)]


def batch_index(step: int, lengths: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """The example indices of `step`: a pure function of (seed, step, lengths)."""
    epoch, pos = divmod(step, steps_per_epoch(int(lengths.shape[0]), cfg))
    return epoch_batches(epoch, lengths, cfg)[pos]


def steps_per_epoch(n_examples: int, cfg: TrainConfig) -> int:
    """Batches per epoch (the same whether or not batches are grouped by length, since
    every length group but the last is a whole number of batches)."""
    return math.ceil(n_examples / cfg.batch_size)


def task_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for classification, MSE for regression (one output)."""
    if labels.dtype.is_floating_point:
        return torch.nn.functional.mse_loss(logits.squeeze(-1), labels)
    return torch.nn.functional.cross_entropy(logits, labels)


# (student outputs, batch) -> loss; the default is the task loss, distillation plugs in here.
LossFn = Callable[[Any, dict[str, torch.Tensor]], torch.Tensor]


def default_loss(outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return task_loss(outputs.logits, batch["labels"])


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in batch.items() if k != "labels"}


def _config_diff(saved: dict, now: dict) -> str:
    """The settings that differ, e.g. "lr 0.0001 there, 5e-05 now"; a key that a checkpoint
    of an older version lacks shows as "missing"."""
    keys = sorted(set(saved) | set(now))
    return ", ".join(f"{k} {saved.get(k, 'missing')} there, {now.get(k, 'missing')} now"
                     for k in keys if saved.get(k, "missing") != now.get(k, "missing"))


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed; the message names the file and what to do."""


def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able `obj`, its tensors moved into `tensors` (key t<n>) and referenced there.

    Tags keep what JSON cannot say: tuples, dicts with non-string keys (optimizer state
    is keyed by parameter index) and non-finite floats.
    """
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous().clone()  # clone: no shared storage
        return {"__tensor__": key}
    if isinstance(obj, bool) or obj is None or isinstance(obj, int | str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, tensors) for k, v in obj.items()}
        return {"__items__": [[_encode(k, tensors), _encode(v, tensors)]
                              for k, v in obj.items()]}
    raise TypeError(f"checkpoint: cannot store a {type(obj).__name__}")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__tuple__" in obj:
        return tuple(_decode(v, tensors) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__items__"]}
    return {k: _decode(v, tensors) for k, v in obj.items()}


def write_checkpoint(directory: str | Path, state: dict) -> Path:
    """Save a training state (nested dicts, lists, tuples, numbers, tensors) atomically."""
    import json
    import uuid

    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    save_id = uuid.uuid4().hex
    meta = {_SAVE_ID: save_id, "state": _encode(state, tensors)}
    tmp_t = directory / f".{CHECKPOINT_TENSORS}.tmp"
    tmp_j = directory / f".{CHECKPOINT}.tmp"
    save_file(tensors, str(tmp_t), metadata={_SAVE_ID: save_id})
    tmp_j.write_text(json.dumps(meta, allow_nan=False) + "\n")
    os.replace(tmp_t, directory / CHECKPOINT_TENSORS)
    os.replace(tmp_j, directory / CHECKPOINT)
    return directory / CHECKPOINT


def has_checkpoint(directory: str | Path) -> bool:
    d = Path(directory)
    return (d / CHECKPOINT).is_file() or (d / LEGACY_CHECKPOINT).is_file()


def read_checkpoint(directory: str | Path) -> dict:
    """The state `write_checkpoint` saved, on the CPU; CheckpointError when it is a legacy
    pickle, torn (the two files from different saves) or unreadable."""
    import json

    from safetensors import safe_open

    d = Path(directory)
    meta_path, tensor_path = d / CHECKPOINT, d / CHECKPOINT_TENSORS
    if not meta_path.is_file() and (d / LEGACY_CHECKPOINT).is_file():
        raise CheckpointError(f"{d / LEGACY_CHECKPOINT}: a pickled checkpoint of an older "
                              f"version, which is never loaded (unpickling can run code); "
                              f"delete it to train from the start")
    try:
        meta = json.loads(meta_path.read_text())
        with safe_open(str(tensor_path), framework="pt", device="cpu") as f:
            saved_id = (f.metadata() or {}).get(_SAVE_ID)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, ValueError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{meta_path}: unreadable checkpoint ({e}); delete "
                              f"{d} to train from the start") from None
    if saved_id != meta.get(_SAVE_ID):
        raise CheckpointError(f"{meta_path}: its tensors come from another save (a crash "
                              f"while saving); delete {d} to train from the start")
    return _decode(meta["state"], tensors)


def train(model: torch.nn.Module, data: Encoded, cfg: TrainConfig,
          hooks: Sequence[TrainHook] = (), loss_fn: LossFn = default_loss,
          output_hidden_states: bool = False, checkpoint_dir: str | Path | None = None,
          progress: bool = True, desc: str = "train") -> TrainResult:
    """Fine-tune `model` on `data`; resume from `checkpoint_dir` when it holds a checkpoint."""
    device = pick_device(cfg.device)
    model.to(device)
    n_steps = total_steps(len(data), cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    # fused: one kernel for all parameters; on CPU it cuts MiniLM's optimizer step ~5x.
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr,
                            fused=True)
    warmup = round(cfg.warmup_ratio * n_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / (warmup + 1) if s < warmup
        else max(0.0, (n_steps - s) / max(1, n_steps - warmup)))
    for h in hooks:
        h.begin(model, n_steps)
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    start, losses, spent = 0, [], 0.0
    torch.manual_seed(cfg.seed)
    if ckpt is not None and has_checkpoint(ckpt):
        # On the CPU: the RNG states must stay CPU tensors; load_state_dict moves the rest.
        state = read_checkpoint(ckpt)
        if state["config"] != asdict(cfg):
            raise CheckpointError(f"{ckpt / CHECKPOINT}: was written with another training config "
                             f"({_config_diff(state['config'], asdict(cfg))}); "
                             "use a fresh checkpoint directory")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        for h, hs in zip(hooks, state["hooks"], strict=True):
            h.load_state_dict(hs)
        torch.set_rng_state(state["rng_cpu"])
        if state["rng_cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])
        start, losses = state["step"], state["losses"]
        spent = state.get("wall_s", 0.0)  # absent in checkpoints of older versions

    def save(step: int) -> None:
        if ckpt is None:
            return
        write_checkpoint(ckpt, {
            "step": step, "config": asdict(cfg), "losses": losses,
            "wall_s": spent + time.time() - t0,
            "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "hooks": [h.state_dict() for h in hooks],
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None})

    t0 = time.time()
    model.train()
    lengths, per_epoch = data.lengths, steps_per_epoch(len(data), cfg)
    epoch, batches = -1, []
    bar = tqdm(range(start, n_steps), desc=desc, disable=not progress, initial=start,
               total=n_steps, dynamic_ncols=True)
    for step in bar:
        if step // per_epoch != epoch:
            epoch = step // per_epoch
            batches = epoch_batches(epoch, lengths, cfg)
        batch = data.batch(batches[step % per_epoch], device)
        out = model(**model_inputs(batch), output_hidden_states=output_hidden_states)
        loss = loss_fn(out, batch)
        for h in hooks:
            extra = h.extra_loss(model, step)
            if extra is not None:
                loss = loss + extra
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        sched.step()
        for h in hooks:
            h.after_step(model, step)
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0:
            save(step + 1)
    save(n_steps)
    return TrainResult(steps=n_steps, wall_s=spent + time.time() - t0, losses=losses,
                       resumed_from=start, wall_s_before_resume=spent)


@torch.no_grad()
def predict(model: torch.nn.Module, data: Encoded, batch_size: int = 128,
            device: str = "auto") -> np.ndarray:
    """Logits for every example, in order (float32 [N, num_labels])."""
    dev = pick_device(device)
    model.to(dev)
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(data), batch_size):
        batch = data.batch(torch.arange(i, min(i + batch_size, len(data))), dev)
        out.append(model(**model_inputs(batch)).logits.float().cpu())
    model.train(was_training)
    return torch.cat(out).numpy()


def predictions(logits: np.ndarray, task: str) -> np.ndarray:
    """Class ids, or the regression score for STS-B."""
    return logits[:, 0] if task_spec(task).is_regression else logits.argmax(axis=1)


def evaluate(model: torch.nn.Module, data: Encoded, task: str, batch_size: int = 128,
             device: str = "auto") -> dict[str, float]:
    """The task's metrics on `data` (e.g. the whole dev split)."""
    preds = predictions(predict(model, data, batch_size, device), task)
    return compute_metrics(task, preds, data.labels.numpy())
