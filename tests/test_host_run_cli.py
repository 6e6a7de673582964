"""`sbf run` end to end on a tiny HP BERT, real SST-2 sentences and the emulation backend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from host.cli import main

LIMIT = 6
SEED = 0
DENSITY = 0.25


@pytest.fixture
def tiny_artifact(tmp_path: Path) -> tuple[Path, Path]:
    """An HP artifact of a random BERT shaped like hw.hls.synthetic.SMALL, and its config."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from algo.hp.mask import HPShape
    from algo.hp.model import export_hp_artifact, prune_model_oneshot
    from algo.models import load_tokenizer
    from hw.hls.synthetic import SMALL

    d = SMALL.model
    cfg = BertConfig(vocab_size=load_tokenizer().vocab_size, hidden_size=d.hidden,
                     num_attention_heads=d.heads, intermediate_size=d.ffn,
                     num_hidden_layers=d.layers, max_position_embeddings=SMALL.max_length)
    torch.manual_seed(SEED)
    model = BertForSequenceClassification(cfg).eval()
    layers = prune_model_oneshot(model, DENSITY, HPShape(SMALL.bo, SMALL.bi, SMALL.m))
    art = export_hp_artifact(model, layers, tmp_path / "art", {"density": DENSITY})
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(SMALL.to_dict()))
    return art, config


def test_sbf_run_emulation_reports_bit_exact(tiny_artifact, glue_dir: Path, capsys) -> None:
    art, config = tiny_artifact
    code = main(["run", "--artifact", str(art), "--config", str(config), "--backend",
                 "emulation", "--task", "SST-2", "--limit", str(LIMIT), "--calibration", "8",
                 "--truncate", "--max-batch", "4", "--glue-dir", str(glue_dir), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == LIMIT and out["backend"] == "emulation"
    assert out["bit_exact_vs_golden"] is True and out["sequences_not_bit_exact"] == 0
    assert out["agreement_vs_float"] is not None and 0.0 <= out["agreement_vs_float"] <= 1.0
    assert set(out["metrics"]) == {"accuracy"}
    assert len(out["predictions"]) == LIMIT and out["kernel_calls"] == 2
    assert np.all(np.isin(out["predictions"], [0, 1]))


def test_sbf_run_refuses_long_sentences_without_truncate(tiny_artifact, glue_dir: Path,
                                                          capsys) -> None:
    art, config = tiny_artifact
    code = main(["run", "--artifact", str(art), "--config", str(config), "--backend",
                 "emulation", "--task", "SST-2", "--limit", "40", "--calibration", "4",
                 "--glue-dir", str(glue_dir)])
    assert code == 2
    assert "tokens, outside 1..24" in capsys.readouterr().err


def test_sbf_run_names_a_missing_board(tiny_artifact, glue_dir: Path, capsys) -> None:
    art, config = tiny_artifact
    code = main(["run", "--artifact", str(art), "--config", str(config), "--backend", "pyxrt",
                 "--task", "SST-2", "--limit", "2", "--calibration", "4",
                 "--glue-dir", str(glue_dir)])
    assert code == 2
    assert "pyxrt" in capsys.readouterr().err


def test_sbf_run_says_where_it_looked_for_the_xclbin(tiny_artifact, glue_dir: Path, tmp_path,
                                                      capsys, monkeypatch) -> None:
    """A rendered but unbuilt project on a board backend: one line naming the path tried."""
    import sys

    from hw.hls import abi
    from hw.hls.synthetic import SMALL
    from tests.host_fakes import fake_pynq

    art, config = tiny_artifact
    design, int8 = tmp_path / "design", tmp_path / "int8"
    assert main(["quantize", "--artifact", str(art), "--out", str(int8), "--calib-n", "4",
                 "--max-length", str(SMALL.max_length), "--glue-dir", str(glue_dir)]) == 0
    assert main(["hw", "render", "--artifact", str(int8), "--config", str(config), "--out",
                 str(design)]) == 0
    monkeypatch.setitem(sys.modules, "pynq", fake_pynq(lambda args: None))
    capsys.readouterr()
    code = main(["run", "--artifact", str(int8), "--design", str(design), "--backend", "pynq",
                 "--task", "SST-2", "--limit", "2", "--glue-dir", str(glue_dir)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert (f"no xclbin in {design} (looked for {design / (abi.KERNEL + '.hw.xclbin')}, "
            f"{design / (abi.KERNEL + '.rtl.hw.xclbin')})") in err
    assert f"sbf hw build --project {design} --target hw" in err
