"""Issue 18: every bad input a named one-line error (exit 2), no silent truncation, no
design rendered that does not fit. One test per defect of the issue; each failed (or
raised a traceback) before the fix. The fuzz over every option is tests/test_cli_fuzz.py.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
import yaml

from host.cli import main

LONG = " ".join(["word"] * 200)  # far over 128 tokens
SHORT = ["a fine film", "dull and long", "i liked it", "not good", "great"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def one_line_error(err: str) -> str:
    """The error text, checked to be one line that names itself as sbf's, no traceback."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("sbf") and "error" in lines[0], err
    assert "Traceback" not in err
    return lines[0]


def fake_glue(root: Path, dev: list[str] | None, train: list[str] | None = None) -> Path:
    """An SST-2 directory with the given sentences (None: header only)."""
    d = root / "glue" / "SST-2"
    d.mkdir(parents=True)
    for split, rows in (("dev", dev), ("train", train if train is not None else SHORT)):
        body = "".join(f"{s}\t{i % 2}\n" for i, s in enumerate(rows or []))
        (d / f"{split}.tsv").write_text("sentence\tlabel\n" + body)
    return d.parent


# -- 1. zero examples ------------------------------------------------------------------

ZERO_EXAMPLE_COMMANDS = {
    "data lengths": ["data", "lengths", "--task", "SST-2"],
    "buckets": ["buckets", "--task", "SST-2", "--n", "2"],
    "hw schedule": ["hw", "schedule", "--task", "SST-2"],
    "golden check": ["golden", "check", "--task", "SST-2"],
    "run": ["run", "--artifact", "no-artifact", "--task", "SST-2"],
}


@pytest.mark.parametrize("command", list(ZERO_EXAMPLE_COMMANDS))
def test_header_only_dev_split_is_a_named_error(command: str, tmp_path: Path, capsys) -> None:
    glue = fake_glue(tmp_path, dev=None)
    code, _, err = run(capsys, *ZERO_EXAMPLE_COMMANDS[command], "--glue-dir", str(glue))
    assert code == 2
    line = one_line_error(err)
    assert "dev.tsv" in line and "no examples" in line


@pytest.mark.parametrize("command", ["golden check", "run", "hw schedule"])
def test_limit_zero_is_refused(command: str, capsys) -> None:
    code, _, err = run(capsys, *ZERO_EXAMPLE_COMMANDS[command], "--limit", "0")
    assert code == 2
    assert "--limit" in one_line_error(err) and ">= 1" in err


# -- 1. options and files checked before the work ----------------------------------------

def test_oneshot_bi_over_the_uint8_index_is_refused_up_front(tmp_path: Path, capsys,
                                                              monkeypatch) -> None:
    import algo.models

    def no_load(*_a, **_k):
        raise AssertionError("the model was loaded before the shape was checked")

    monkeypatch.setattr(algo.models, "load_model", no_load)
    code, _, err = run(capsys, "prune", "oneshot", "--density", "0.2", "--bi", "384",
                       "--out", str(tmp_path / "a"))
    assert code == 2
    line = one_line_error(err)
    assert "bi=384" in line and "256" in line and "uint8" in line
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize(("text", "expected"), [
    ("bo: [16\nbi: 16\n", "not valid YAML"),
    ("", "is empty"),
    ("# only a comment\n", "is empty"),
    ("- 16\n", "must hold a mapping"),
    ("model: 3\n", "model: must be a mapping"),
])
def test_bad_config_yaml_is_one_line_exit_2(text: str, expected: str, tmp_path: Path,
                                            capsys) -> None:
    cfg = tmp_path / "design.yaml"
    cfg.write_text(text)
    code, _, err = run(capsys, "hw", "estimate", "--config", str(cfg))
    assert code == 2  # not 1, which means "ran, and a check failed"
    line = one_line_error(err)
    assert expected in line and str(cfg) in line


def test_empty_config_is_not_the_builtin_defaults(tmp_path: Path) -> None:
    from hw.config import ConfigError, DesignConfig

    (tmp_path / "empty.yaml").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        DesignConfig.from_yaml(tmp_path / "empty.yaml")


def test_argparse_errors_are_one_line(capsys) -> None:
    code, _, err = run(capsys, "buckets", "--task", "SST-2", "--n", "two")
    assert code == 2
    line = one_line_error(err)
    assert "--n" in line and "'two'" in line and "--help" in line


def test_internal_errors_are_one_line_and_debug_shows_the_traceback(capsys,
                                                                    monkeypatch) -> None:
    import algo.buckets_cli

    def boom(_args):
        raise RuntimeError("boom")

    monkeypatch.setattr(algo.buckets_cli, "run", boom)
    code, _, err = run(capsys, "buckets", "--task", "SST-2", "--n", "2")
    assert code == 70
    assert "internal error: RuntimeError: boom" in one_line_error(err) and "--debug" in err
    code, _, err = run(capsys, "--debug", "buckets", "--task", "SST-2", "--n", "2")
    assert code == 70 and "Traceback" in err and "RuntimeError: boom" in err


def test_debug_shows_the_traceback_of_a_user_error(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "empty.yaml"
    cfg.write_text("")
    code, _, err = run(capsys, "--debug", "hw", "estimate", "--config", str(cfg))
    assert code == 2 and "Traceback" in err and "is empty" in err


def test_version(capsys) -> None:
    from host.cli import package_version

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"sbf {package_version()}"
    assert package_version().count(".") >= 1


# -- 2. truncation is counted ---------------------------------------------------------------

def test_buckets_counts_truncated_sequences(tmp_path: Path, capsys) -> None:
    glue = fake_glue(tmp_path, dev=[*SHORT, LONG, LONG])
    code, out, _ = run(capsys, "buckets", "--task", "SST-2", "--n", "2", "--glue-dir",
                       str(glue), "--json")
    res = json.loads(out)
    assert code == 0 and res["sequences"] == 7 and res["truncated"] == 2
    assert res["longest"] > res["max_length"] == 128
    code, out, _ = run(capsys, "buckets", "--task", "SST-2", "--n", "2", "--glue-dir",
                       str(glue))
    assert code == 0 and any(ln.split() == ["truncated", "2"] for ln in out.splitlines())


@pytest.mark.parametrize("argv", [["buckets"], ["golden", "check"], ["run"]])
def test_help_says_what_is_truncated(argv: list[str], capsys) -> None:
    code, out, _ = run(capsys, *argv, "--help")
    assert code == 0 and "truncat" in out and "`truncated`" in " ".join(out.split())


def test_golden_check_counts_truncated_sentences(tmp_path: Path, capsys) -> None:
    glue = fake_glue(tmp_path, dev=[SHORT[0], LONG, SHORT[1]])
    code, out, _ = run(capsys, "golden", "check", "--task", "SST-2", "--glue-dir", str(glue),
                       "--calib-n", "2", "--max-length", "16", "--json")
    res = json.loads(out)
    assert code == 0 and res["n"] == 3 and res["truncated"] == 1 and res["max_length"] == 16


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
    torch.manual_seed(0)
    model = BertForSequenceClassification(cfg).eval()
    layers = prune_model_oneshot(model, 0.25, HPShape(SMALL.bo, SMALL.bi, SMALL.m))
    art = export_hp_artifact(model, layers, tmp_path / "art", {"density": 0.25})
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(SMALL.to_dict()))
    return art, config


def test_run_truncate_reports_how_many(tiny_artifact, tmp_path: Path, capsys) -> None:
    art, config = tiny_artifact
    glue = fake_glue(tmp_path, dev=[SHORT[0], LONG, SHORT[2], LONG])
    code, out, err = run(capsys, "run", "--artifact", str(art), "--config", str(config),
                         "--backend", "emulation", "--task", "SST-2", "--calibration", "4",
                         "--truncate", "--glue-dir", str(glue), "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["n"] == 4 and res["truncated"] == 2 and res["max_length"] == 24


# -- 3. designs that do not fit ---------------------------------------------------------------

UNFIT = {"board": "u200", "bo": 128, "bi": 128, "m": 128, "tile_tokens": 4, "attn_k": 4,
         "attn_heads_parallel": 1, "max_length": 8, "bucket_edges": [8],
         "model": {"hidden": 128, "heads": 1, "ffn": 256, "layers": 1}}


def test_render_refuses_a_design_that_does_not_fit(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "unfit.yaml"
    cfg.write_text(yaml.safe_dump(UNFIT))
    out = tmp_path / "project"
    for command in ("render", "build"):
        code, _, err = run(capsys, "hw", command, "--config", str(cfg), "--synthetic",
                           "--out", str(out))
        assert code == 2
        line = one_line_error(err)
        assert "does not fit board u200" in line and " needs " in line and " over" in line
        assert "--force" in line
        assert not out.exists()  # refused before anything was written


def test_render_force_renders_and_says_so(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "unfit.yaml"
    cfg.write_text(yaml.safe_dump(UNFIT))
    code, out, err = run(capsys, "hw", "render", "--config", str(cfg), "--synthetic",
                         "--out", str(tmp_path / "p"), "--force", "--json")
    assert code == 0, err
    fit = json.loads(out)["fit"]
    assert fit["fits"] is False and fit["forced"] is True
    assert fit["overflows"]  # which resource overflows follows the calibrated model
    for o in fit["overflows"]:
        assert o["over"] == o["need"] - o["usable"] > 0
    assert (tmp_path / "p" / "manifest.json").is_file()


def test_the_shipped_design_fits() -> None:
    from hw.config import DesignConfig
    from hw.render import fit_report

    report = fit_report(DesignConfig.from_yaml(None))
    assert report["fits"] and not report["overflows"] and report["figures"] == "modeled"


# -- 5. ecosystem ---------------------------------------------------------------------------------

def test_transformers_floor_names_the_version(monkeypatch) -> None:
    import sys
    import tomllib

    import transformers

    from algo.models import MIN_TRANSFORMERS, ModelError, check_transformers

    assert MIN_TRANSFORMERS == (5, 0)
    with pytest.raises(ImportError, match=r"transformers 4\.57\.1 is too old.*>= 5\.0"):
        check_transformers("4.57.1")
    with pytest.raises(ModelError):  # a CLI user error too, not an internal one
        check_transformers("4.48.0")
    assert check_transformers() == transformers.__version__
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert "transformers>=5.0" in pyproject["project"]["optional-dependencies"]["ml"]
    # the check runs at import: an old transformers fails there, naming itself
    saved = {k: v for k, v in sys.modules.items() if k.startswith("algo.attention")}
    monkeypatch.setattr(transformers, "__version__", "4.57.1")
    for k in saved:
        monkeypatch.delitem(sys.modules, k)
    try:
        with pytest.raises(ImportError, match="4.57.1"):
            import algo.attention  # noqa: F401
    finally:
        sys.modules.update(saved)


@pytest.mark.parametrize("name", ["./no/such/model", "../missing-model", "~/nope-sbf",
                                  "/abs/no/such", "a/b/c", "with space"])
def test_a_path_that_does_not_exist_is_an_error(name: str, capsys) -> None:
    from algo.models import ModelError, resolve_model

    with pytest.raises(ModelError, match="no such model directory"):
        resolve_model(name)
    code, _, err = run(capsys, "data", "lengths", "--task", "SST-2", "--model", name)
    assert code == 2 and "no such model directory" in one_line_error(err)


def test_hub_ids_offline_stay_in_the_cache_and_fail_fast(monkeypatch) -> None:
    import algo.models as models

    monkeypatch.setattr(models, "hub_reachable", lambda: False)
    assert models.resolve_model("no-such-org/no-such-model") == "no-such-org/no-such-model"
    assert models._source_kwargs("no-such-org/no-such-model") == {"local_files_only": True}
    start = time.perf_counter()
    with pytest.raises(models.ModelError, match="not in the Hugging Face cache"):
        models.load_config("no-such-org/no-such-model-sbf-test")
    assert time.perf_counter() - start < 10  # no 30 s of hub retries


def test_hub_probe_respects_the_switches(monkeypatch) -> None:
    import huggingface_hub.constants

    import algo.models as models

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    for value, want in (("1", True), ("0", False)):
        models.hub_reachable.cache_clear()
        monkeypatch.setenv(models.HUB_DOWNLOAD_ENV, value)
        assert models.hub_reachable() is want
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv(models.HUB_DOWNLOAD_ENV, "1")
    models.hub_reachable.cache_clear()
    assert models.hub_reachable() is False  # HF_HUB_OFFLINE always wins
    models.hub_reachable.cache_clear()


def test_checkpoints_are_safetensors_and_json_never_pickles(tmp_path: Path) -> None:
    import torch

    from algo.train import (
        CHECKPOINT,
        CHECKPOINT_TENSORS,
        LEGACY_CHECKPOINT,
        CheckpointError,
        TrainConfig,
        read_checkpoint,
        train,
        write_checkpoint,
    )
    from tests.test_train import tiny_data, tiny_model

    train(tiny_model(), tiny_data(n=16), TrainConfig(max_steps=2, batch_size=8,
                                                     checkpoint_every=1),
          checkpoint_dir=tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT, CHECKPOINT_TENSORS]
    meta = json.loads((tmp_path / CHECKPOINT).read_text(),
                      parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert meta["state"]["step"] == 2
    with (tmp_path / CHECKPOINT_TENSORS).open("rb") as f:
        assert not f.read(2).startswith(b"\x80")  # no pickle protocol header
    state = read_checkpoint(tmp_path)
    assert isinstance(state["rng_cpu"], torch.Tensor) and state["losses"]
    # a save torn between its two files is refused, never resumed
    other = tmp_path / "other"
    write_checkpoint(other, {"x": torch.zeros(2), "nan": math.nan, "t": (1, 2), 3: "int key"})
    assert read_checkpoint(other)["t"] == (1, 2) and math.isnan(read_checkpoint(other)["nan"])
    assert read_checkpoint(other)[3] == "int key"
    (other / CHECKPOINT_TENSORS).replace(tmp_path / CHECKPOINT_TENSORS)
    with pytest.raises(CheckpointError, match="another save"):
        read_checkpoint(tmp_path)
    # an old pickle is named and refused, not unpickled
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    torch.save({"step": 1}, legacy / LEGACY_CHECKPOINT)
    with pytest.raises(CheckpointError, match="pickled checkpoint.*never loaded"):
        train(tiny_model(), tiny_data(n=16), TrainConfig(max_steps=2, batch_size=8),
              checkpoint_dir=legacy, progress=False)


def test_json_output_is_strict(capsys, tmp_path: Path) -> None:
    import numpy as np

    from host.cli import emit, to_json, write_json

    result = {"nan": math.nan, "inf": [math.inf, -math.inf], "np": np.float32("nan"),
              "i": np.int64(3), "a": np.array([1.0, np.nan]), "p": Path("x")}
    emit(result, True)
    strict = json.loads(capsys.readouterr().out,
                        parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert strict == {"nan": None, "inf": [None, None], "np": None, "i": 3,
                      "a": [1.0, None], "p": "x"}
    assert "NaN" not in to_json(result)
    path = write_json(tmp_path / "r" / "x.json", result)
    assert json.loads(path.read_text()) == strict


def test_progress_follows_the_terminal_not_json(monkeypatch) -> None:
    import argparse
    import sys

    from host.cli import show_progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert show_progress(argparse.Namespace(json=True)) is True
    assert show_progress(argparse.Namespace(json=True, no_progress=True)) is False
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert show_progress(argparse.Namespace(json=False)) is False


def test_icarus_reports_its_real_version() -> None:
    from sim.rtl.simulators import SimulatorMissing, find_simulator

    try:
        sim = find_simulator("icarus")
    except SimulatorMissing as e:
        pytest.skip(str(e))
    assert sim.version != "icarus"
    assert sim.version.split(".")[0].isdigit()


def test_verilator_writes_fst_when_asked() -> None:
    from sim.rtl.simulators import Simulator, SimulatorMissing, find_simulator

    with pytest.raises(ValueError, match="icarus writes fst"):
        find_simulator("icarus", "vcd")
    try:
        sim = find_simulator("verilator", "fst")
    except SimulatorMissing as e:
        pytest.skip(str(e))
    assert sim.build_args == ["--trace-fst"] and sim.wave_suffix == ".fst"
    vcd = Simulator("verilator", sim.binary, sim.version, sim.env)
    assert vcd.build_args == [] and vcd.wave_suffix == ".vcd"


@pytest.mark.parametrize("cache", [False, True])
def test_rtl_builds_go_to_the_working_or_cache_directory(cache: bool, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "SBF_CACHE_DIR"}
    env["PYTHONPATH"] = str(repo)
    if cache:
        env["SBF_CACHE_DIR"] = str(tmp_path / "cache")
    proc = subprocess.run([sys.executable, "-c", "from sim.rtl.runner import "
                           "DEFAULT_BUILD_ROOT as r; print(r)"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=True)
    root = Path(proc.stdout.strip())
    assert root == (tmp_path / "cache" / "rtl_build" if cache else
                    tmp_path / "out" / "rtl_build")
    assert repo not in root.parents


def test_a_multi_line_message_keeps_one_line(capsys, monkeypatch) -> None:
    """A log tail (an RTL build failure, say) stays behind --debug."""
    import algo.buckets_cli
    from host.cli import CliError

    def fail(_args):
        raise CliError("verilator build failed; log out/build.log:\nline 1\nline 2")

    monkeypatch.setattr(algo.buckets_cli, "run", fail)
    code, _, err = run(capsys, "buckets", "--task", "SST-2", "--n", "2")
    assert code == 2
    assert one_line_error(err).endswith("log out/build.log: [2 more lines: rerun with --debug]")


@pytest.mark.parametrize(("edges", "expected"), [(["5", "3"], "strictly ascending"),
                                                  (["5", "30"], "shorter than the longest")])
def test_schedule_edges_are_checked(edges: list[str], expected: str, tmp_path: Path,
                                    capsys) -> None:
    glue = fake_glue(tmp_path, dev=[*SHORT, " ".join(["word"] * 40)])
    code, _, err = run(capsys, "hw", "schedule", "--task", "SST-2", "--glue-dir", str(glue),
                       "--edges", *edges)
    assert code == 2 and expected in one_line_error(err)
