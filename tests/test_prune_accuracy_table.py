"""benchmarks/accuracy.py renders its table and target checks from the JSON rows alone."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import pytest

from host.machine import machine_info

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("accuracy_bench",
                                                  ROOT / "benchmarks" / "accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name, file in (("RESULTS", "a.json"), ("DOC", "a.md"), ("PLOT", "a.png")):
        monkeypatch.setattr(mod, name, tmp_path / file)
    return mod


def _row(task: str, variant: str, sparsity: float, value: float, epochs: float = 1.0) -> dict:
    metric = "f1" if task == "MRPC" else "accuracy"
    row = {"source": "benchmarks/accuracy.py", "task": task, "variant": variant,
           "target_sparsity": sparsity, "metric": metric,
           "dev": {metric: value}, "encoder_sparsity": sparsity, "train_examples": 100,
           "epochs": epochs, "wall_s": 1.0, "machine": machine_info(torch_details=False)}
    if variant != "dense":
        row.update(bo=16, bi=16, m=4)
    return row


def test_rows_accumulate_and_render_the_targets(bench) -> None:
    rows = [_row("SST-2", "dense", 0.0, 0.90), _row("SST-2", "uniform", 0.8, 0.885),
            _row("SST-2", "searched", 0.8, 0.887), _row("MRPC", "dense", 0.0, 0.88),
            _row("MRPC", "uniform", 0.8, 0.85)]
    bench.RESULTS.write_text(json.dumps({"rows": [{"source": "other.py", "task": "MRPC"}]}))
    for r in rows:
        bench.save_row(r)
    bench.save_row(_row("SST-2", "uniform", 0.8, 0.886))  # a rerun replaces its row
    saved = json.loads(bench.RESULTS.read_text())["rows"]
    assert len(saved) == 6 and saved[0] == {"source": "other.py", "task": "MRPC"}
    doc = bench.DOC.read_text()
    assert "| SST-2 | uniform | 80% | 80.0% | 16,16,4 | accuracy 88.6 | -1.4 |" in doc
    assert "Dense SST-2 >= 89.0: 90.0 (met)" in doc
    assert "dense on SST-2: -1.3 after 1 pruning epoch (met)" in doc  # the best variant
    assert "dense on MRPC: -3.0 after 1 pruning epoch (NOT met)" in doc
    assert "Searched >= uniform: 1 of 1 task/sparsity pairs, on 1 task(s) (NOT met" in doc
    assert "Strictly better in 1 (SST-2), worse in 0 (none)" in doc
    assert f"{machine_info(False)['cores']} cores, no GPU)" in doc
    assert bench.PLOT.is_file()


def test_a_longer_pruning_schedule_is_a_row_of_its_own(bench) -> None:
    for r in (_row("MRPC", "dense", 0.0, 0.88), _row("MRPC", "uniform", 0.8, 0.85),
              _row("MRPC", "searched", 0.8, 0.84), _row("MRPC", "uniform", 0.8, 0.87, 8.0),
              _row("MRPC", "searched", 0.8, 0.875, 8.0)):
        bench.save_row(r)
    bench.save_row(_row("MRPC", "uniform", 0.8, 0.871, 8.0))  # a rerun of the same schedule
    assert sorted((r["variant"], r["epochs"], r["dev"]["f1"]) for r in bench.load_rows()) == [
        ("dense", 1.0, 0.88), ("searched", 1.0, 0.84), ("searched", 8.0, 0.875),
        ("uniform", 1.0, 0.85), ("uniform", 8.0, 0.871)]
    doc = bench.DOC.read_text()
    assert ("dense on MRPC: -3.0 after 1 pruning epoch, -0.5 after 8 pruning epochs "
            "(met after 8)") in doc
    # Pairs compare the same schedule: 8 epochs searched wins, 1 epoch searched loses.
    assert "Searched >= uniform: 1 of 2 task/sparsity pairs" in doc
    assert "Strictly better in 1 (MRPC), worse in 1 (MRPC)" in doc
    assert bench.PLOT.is_file()


def test_a_new_dense_model_voids_the_rows_pruned_from_the_old_one(bench) -> None:
    for r in (_row("MRPC", "dense", 0.0, 0.88), _row("MRPC", "uniform", 0.8, 0.85),
              _row("SST-2", "uniform", 0.8, 0.85)):
        bench.save_row(r)
    bench.save_row(_row("MRPC", "dense", 0.0, 0.87), replaces_task=True)
    kept = {(r["task"], r["variant"]) for r in bench.load_rows()}
    assert kept == {("MRPC", "dense"), ("SST-2", "uniform")}


def test_the_search_candidates_get_a_valid_short_training_config(bench) -> None:
    args = argparse.Namespace(batch_size=32, lr=1e-4, seed=0, length_group=50,
                              checkpoint_every=50, prune_epochs=2.0, candidate_steps=40)
    cfg = bench._candidate_cfg(args)
    assert cfg.max_steps == 40 and cfg.checkpoint_every == 0 and cfg.length_group == 50


def test_a_row_pruned_to_another_hp_shape_is_not_reused(bench) -> None:
    from algo.hp import HPShape

    row = _row("STS-B", "uniform", 0.7, 0.35) | {"m": 8}
    assert not bench._same_shape(row, HPShape(16, 16, 5))  # made before choose_m took m=5
    assert bench._same_shape(row, HPShape(16, 16, 8))
