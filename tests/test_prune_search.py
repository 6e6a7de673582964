"""The AE-BERT ratio search on a tiny model: plans meet the ratio, executors agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from algo.hp.model import encoder_linears
from algo.prune.executor import InlineExecutor, LocalExecutor, make_executor
from algo.prune.masks import linear_sizes
from algo.prune.recipes import save_model
from algo.prune.search import candidate_plans, search
from algo.train import TrainConfig
from tests.test_train import (  # noqa: F401
    TINY_SHAPE,
    one_thread,
    tiny_data,
    tiny_model,
    tiny_tokenizer,
)

DENSITY = 0.125
CANDIDATE_CFG = TrainConfig(max_steps=3, batch_size=8, lr=1e-3)


@pytest.fixture
def dense_dir(tmp_path: Path) -> str:
    return str(save_model(tiny_model(), tiny_tokenizer(), tmp_path / "dense", {}))


def test_candidates_meet_the_overall_ratio() -> None:
    sizes = linear_sizes(encoder_linears(tiny_model()))
    plans = candidate_plans(sizes, DENSITY, TINY_SHAPE, n_candidates=6, spread=1.0, seed=3)
    totals = {sum(p.keep_blocks.values()) for p in plans}
    assert len(totals) == 1  # every candidate keeps exactly as many blocks as uniform
    assert {p.kept_params for p in plans} == {plans[0].kept_params}
    assert len({tuple(p.keep_blocks.values()) for p in plans}) > 1  # and they differ
    ratios = [plans[0].keep_ratio(n) for n in sizes]
    assert max(ratios) == min(ratios)  # candidate 0 is the uniform plan


def _search(dense_dir: str, executor) -> object:
    return search(dense_dir, "SST-2", tiny_data(n=40), DENSITY, TINY_SHAPE, executor,
                  CANDIDATE_CFG, n_candidates=3, spread=1.0, holdout=0.25, seed=0)


def test_search_scores_on_held_out_training_data(dense_dir: str) -> None:
    found = _search(dense_dir, InlineExecutor())
    assert len(found.scores) == 3
    assert [s["index"] for s in found.scores] == [0, 1, 2]
    best = found.scores[found.best]["score"]
    assert all(best >= s["score"] for s in found.scores)
    report = found.to_dict()
    assert report["candidates"][0]["kind"] == "uniform"
    assert {c["overall_sparsity"] for c in report["candidates"]} == {
        found.plans[0].overall_sparsity}


def test_local_processes_keep_the_job_order() -> None:
    with LocalExecutor(workers=2) as ex:
        assert ex.map(abs, [-3, 1, -2, 0]) == [3, 1, 2, 0]


@pytest.mark.slow
def test_local_processes_give_the_inline_result(dense_dir: str) -> None:
    inline = _search(dense_dir, InlineExecutor())
    with LocalExecutor(workers=1) as ex:
        local = _search(dense_dir, ex)
    assert [s["metrics"] for s in local.scores] == [s["metrics"] for s in inline.scores]
    assert local.best == inline.best


def test_ray_executor_on_a_local_instance(dense_dir: str) -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        inline = _search(dense_dir, InlineExecutor())
        with make_executor("ray") as ex:
            found = _search(dense_dir, ex)
        assert [s["metrics"] for s in found.scores] == [s["metrics"] for s in inline.scores]
    finally:
        ray.shutdown()


def test_unknown_executor_is_named() -> None:
    with pytest.raises(ValueError, match="'dask'"):
        make_executor("dask")
