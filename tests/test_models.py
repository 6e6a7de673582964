"""Model loading: the packaged MiniLM, local directories, and refusing non-BERT models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from algo.models import (
    ModelError,
    default_model_path,
    load_config,
    load_model,
    load_tokenizer,
    resolve_model,
)

MINILM = {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
          "intermediate_size": 1536}


@pytest.fixture(scope="module")
def minilm():
    return load_model(attn_implementation="eager")


def test_default_model_path_is_the_packaged_minilm() -> None:
    path = default_model_path()
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
    assert resolve_model(None) == str(path)


def test_load_default_model(minilm) -> None:
    model, tokenizer = minilm
    cfg = model.config
    assert type(model).__name__ == "BertForSequenceClassification"
    assert {k: getattr(cfg, k) for k in MINILM} == MINILM
    assert cfg.num_labels == 2 and model.classifier.out_features == 2
    assert cfg._attn_implementation == "eager"  # pass-through kwarg reached the model
    ids = tokenizer("hello world")["input_ids"]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id


def test_local_directory_and_seeded_head(minilm, tmp_path: Path) -> None:
    """A saved copy loads from its directory; the new head is the same for the same seed."""
    model, tokenizer = minilm
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    again, _ = load_model(tmp_path)
    for k, v in model.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
    fresh, _ = load_model(num_labels=3)
    fresh_again, _ = load_model(num_labels=3)
    assert fresh.classifier.out_features == 3
    assert torch.equal(fresh.classifier.weight, fresh_again.classifier.weight)


def test_regression_head() -> None:
    model, _ = load_model(num_labels=1)
    assert model.config.num_labels == 1 and model.classifier.out_features == 1


def test_non_bert_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ModelError, match="model_type 'gpt2' is not supported"):
        load_config(tmp_path)
    with pytest.raises(ModelError, match=str(tmp_path)):
        load_model(tmp_path)


def test_directory_without_config(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no config.json"):
        load_tokenizer(tmp_path)


def test_unknown_hub_id_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline mode, so that the test never waits on the network."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError, match="cannot load a model config"):
        load_config("no-such-org/no-such-model-sbf-test")
