"""benchmarks/accuracy.py renders its table and target checks from the JSON rows alone."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from host.machine import machine_info
from tests.bench_helpers import load_benchmark, redirect


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    return redirect(load_benchmark("accuracy"), monkeypatch, tmp_path, "RESULTS", "DOC",
                    "PLOT")


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
    assert "| SST-2 | uniform | 80% | 80.0% | 16,16,4 |  | accuracy 88.6 | -1.4 |" in doc
    assert "dense on SST-2: best -1.3 (searched, 1 epochs) (NOT met)" in doc  # best variant
    assert "dense on MRPC: best -3.0 (uniform, 1 epochs) (NOT met)" in doc
    assert "better than uniform at 80% on 3 tasks: 1 (SST-2) of 1 pairs" in doc
    assert "float model: not measured" in doc
    assert "Diagnosis" not in doc  # no other structure measured
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
    assert "dense on MRPC: best -0.5 (searched, 8 epochs) (met)" in doc
    # Pairs compare the same schedule: 8 epochs searched wins, 1 epoch searched loses.
    assert "at 80% on 3 tasks: 1 (MRPC) of 2 pairs" in doc
    assert bench.PLOT.is_file()


def test_recipes_and_structures_are_rows_of_their_own_and_the_diagnosis_renders(bench) -> None:
    recipe = {"prune_steps": 1000, "hidden_weight": 1.0}
    rows = [_row("STS-B", "dense", 0.0, 0.85)]
    for structure, value in (("hp", 0.45), ("unstructured", 0.80), ("fine", 0.70),
                             ("blocks", 0.40)):
        rows.append(_row("STS-B", "uniform", 0.8, value) | {"structure": structure})
    rows.append(_row("STS-B", "uniform", 0.8, 0.845) | {"recipe": recipe, "steps": 1000})
    for r in rows:
        bench.save_row(r)
    assert len(bench.load_rows()) == 6
    doc = bench.DOC.read_text()
    # The main table holds HP rows only; a recipe names what differs from the defaults.
    assert "| 16,16,4 | steps 1000, hidden KD 1 | accuracy 84.5 | -0.5 |" in doc
    assert "| unstructured |" not in doc.split("## Diagnosis")[0].split("| --- |")[1]
    assert "| STS-B | 80% | 1 |  | -40.0 (80.0%) | -15.0 (80.0%) | -45.0 (80.0%) | " \
           "-5.0 (80.0%) |" in doc
    assert "dense on STS-B: best -0.5 (uniform, 1 epochs, steps 1000, hidden KD 1) (met)" in doc


def test_a_reproduced_dense_model_keeps_the_rows_and_integer_gaps_are_checked(bench) -> None:
    pruned = _row("MRPC", "uniform", 0.8, 0.85) | {"int_dev": {"f1": 0.842}}
    for r in (_row("MRPC", "dense", 0.0, 0.88) | {"int_dev": {"f1": 0.879}}, pruned):
        bench.save_row(r)
    bench.save_row(_row("MRPC", "dense", 0.0, 0.88), replaces_task=True)  # same metrics
    assert len(bench.load_rows()) == 2
    doc = bench.DOC.read_text()
    assert "float model: 1 rows measured, worst -0.8 (MRPC 80%) (NOT met)" in doc


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


def test_the_recipe_defaults_are_algo_prunes(bench) -> None:
    """The script writes them out (--render needs no torch): they must stay the library's."""
    from algo.prune.distill import DEFAULT_HARDNESS, DEFAULT_TEMPERATURE, DistillConfig
    from algo.prune.gradual import DEFAULT_END

    assert bench.RECIPE_DEFAULTS == {"prune_steps": None, "prune_end": DEFAULT_END,
                                     "prune_lr": None, "hardness": DEFAULT_HARDNESS,
                                     "temperature": DEFAULT_TEMPERATURE,
                                     "hidden_weight": DistillConfig().hidden_weight}
    assert set(bench.RECIPE_NAMES) == set(bench.RECIPE_DEFAULTS)
