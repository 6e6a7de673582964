"""HP pruning in training: schedule, plans, masks through training, lasso, distillation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from algo.hp import HPShape, decode, is_hp_mask
from algo.hp.artifact import load_artifact
from algo.hp.mask import block_norms, choose_m
from algo.hp.model import encoder_linears, load_hp_model
from algo.prune.distill import DistillConfig, distillation_loss, soft_cross_entropy
from algo.prune.gradual import GradualPruner
from algo.prune.lasso import GroupLasso, torch_block_norms
from algo.prune.masks import (
    MagnitudeMasks,
    linear_sizes,
    magnitude_mask,
    measured_sparsity,
    scheduled_shape,
)
from algo.prune.plan import (
    PrunePlan,
    allocate,
    sample_plan,
    target_blocks,
    uniform_plan,
)
from algo.prune.recipes import export, hp_shape_for, prune_lasso, structure_shape
from algo.prune.schedule import cubic_sparsity, update_steps
from algo.train import TrainConfig, TrainHook, train
from tests.test_train import TINY_SHAPE, one_thread, tiny_data, tiny_model  # noqa: F401

# The packaged MiniLM's encoder linears: 6 layers of Q, K, V, O (384x384), FFN1, FFN2.
MINILM_SIZES = {f"layer.{i}.{n}": s for i in range(6) for n, s in (
    ("q", (384, 384)), ("k", (384, 384)), ("v", (384, 384)), ("o", (384, 384)),
    ("ffn1", (1536, 384)), ("ffn2", (384, 1536)))}


def test_cubic_schedule_values() -> None:
    assert cubic_sparsity(0, 0.8, start=0, end=10) == 0.0
    assert cubic_sparsity(5, 0.8, start=0, end=10) == pytest.approx(0.8 - 0.8 * 0.5 ** 3)
    assert cubic_sparsity(10, 0.8, start=0, end=10) == 0.8
    assert cubic_sparsity(99, 0.8, start=0, end=10) == 0.8
    assert cubic_sparsity(4, 0.9, start=2, end=6, initial=0.5) == pytest.approx(
        0.9 + (0.5 - 0.9) * 0.5 ** 3)
    s = [cubic_sparsity(t, 0.8, 0, 100) for t in range(101)]
    assert all(b >= a for a, b in zip(s, s[1:], strict=False))  # never un-prunes
    assert np.diff(s)[0] > np.diff(s)[-1]  # fast first, slow near the target
    assert update_steps(0, 10, 5) == [2, 4, 6, 8, 10]
    assert update_steps(3, 7, 1) == [7]


@pytest.mark.parametrize(("density", "m"), [(1.0, 16), (0.5, 8), (0.3, 5), (0.25, 4),
                                            (0.2, 4), (0.1, 2), (0.05, 1), (0.001, 1)])
def test_choose_m_rule(density: float, m: int) -> None:
    assert choose_m(density, 16) == m


@given(st.floats(0.001, 1.0), st.sampled_from([2, 8, 16, 32]))
def test_choose_m_is_the_least_m_that_reaches_the_density(density: float, bi: int) -> None:
    m = choose_m(density, bi)
    assert 1 <= m <= bi and m / bi >= density - 1e-9
    assert m == 1 or (m - 1) / bi < density  # one less would not reach it


@settings(max_examples=40, deadline=None)
@given(sparsity=st.floats(0.5, 0.95), seed=st.integers(0, 2**31), spread=st.floats(0.0, 2.0))
def test_sampled_plans_meet_the_overall_ratio_exactly(sparsity: float, seed: int,
                                                      spread: float) -> None:
    shape = hp_shape_for(sparsity, 16, 16)
    uni = uniform_plan(MINILM_SIZES, 1.0 - sparsity, shape)
    k = target_blocks(MINILM_SIZES, 1.0 - sparsity, shape)
    plan = sample_plan(MINILM_SIZES, 1.0 - sparsity, shape, np.random.default_rng(seed), spread)
    for p in (uni, plan):
        assert sum(p.keep_blocks.values()) == k
        assert p.kept_params == k * shape.bo * shape.m  # exact, by parameter count
        # the nearest achievable density: within half a block of the target
        assert abs(p.overall_density - (1.0 - sparsity)) <= shape.bo * shape.m / 2 / p.total_params
        assert all(1 <= p.keep_blocks[n] <= p.n_blocks(n) for n in p.sizes)
    assert PrunePlan.from_dict(plan.to_dict()) == plan


def test_uniform_plan_is_uniform_and_allocation_is_proportional() -> None:
    plan = uniform_plan(MINILM_SIZES, 0.2, HPShape(16, 16, 4))
    ratios = [plan.keep_ratio(n) for n in MINILM_SIZES]
    assert max(ratios) - min(ratios) <= 1 / 576  # one block of the smallest layer
    assert plan.overall_sparsity == pytest.approx(0.8, abs=1e-4)
    assert allocate(10, np.array([1.0, 1.0, 2.0]), np.array([5, 5, 5])).tolist() == [3, 2, 5]
    assert allocate(3, np.array([1.0, 100.0, 1.0]), np.array([4, 4, 4])).tolist() == [1, 1, 1]


def test_scheduled_shapes_use_the_fine_level_first() -> None:
    plan = uniform_plan({"w": (32, 32)}, 0.125, HPShape(8, 8, 2))  # keep 8 of 16 blocks
    assert scheduled_shape(plan, "w", 0.0) == (HPShape(8, 8, 8), 1.0)
    shape, keep = scheduled_shape(plan, "w", 4 / 7)  # density 0.5: m = 4, all blocks
    assert shape == HPShape(8, 8, 4) and keep == pytest.approx(1.0)
    assert scheduled_shape(plan, "w", 1.0) == (HPShape(8, 8, 2), 0.5)


class _MaskChecker(TrainHook):
    """After every step (the pruner's update included): masks are HP, pruned weights zero."""

    def __init__(self, pruner: GradualPruner) -> None:
        self.pruner, self.checked = pruner, 0

    def after_step(self, model: torch.nn.Module, step: int) -> None:
        for name, mask in self.pruner.masks.masks.items():
            w = self.pruner.masks.linears[name].weight.detach()
            assert is_hp_mask(mask.numpy(), self.pruner.masks.shapes[name]), (step, name)
            assert not w[~mask].any(), (step, name)
        self.checked += 1


def test_masks_stay_hp_through_training_and_export(tmp_path) -> None:
    model = tiny_model()
    linears = encoder_linears(model)
    plan = uniform_plan(linear_sizes(linears), 0.125, TINY_SHAPE)
    pruner = GradualPruner(linears, plan, end=0.6, n_updates=4)
    checker = _MaskChecker(pruner)
    sparsity_seen = []

    class Watch(TrainHook):
        def after_step(self, model: torch.nn.Module, step: int) -> None:
            sparsity_seen.append(measured_sparsity(linears))

    train(model, tiny_data(n=80), TrainConfig(max_steps=20, batch_size=8, lr=1e-3),
          hooks=[pruner, checker, Watch()], progress=False)
    assert checker.checked == 20
    assert len(pruner.steps) == 4 and pruner.steps[-1] == 12
    assert all(b >= a - 1e-9 for a, b in zip(sparsity_seen, sparsity_seen[1:], strict=False))
    for name, mask in pruner.masks.masks.items():
        assert pruner.masks.shapes[name] == plan.shape
        assert is_hp_mask(mask.numpy(), plan.shape)
        assert int(mask.sum()) == plan.keep_blocks[name] * plan.shape.bo * plan.shape.m
    assert measured_sparsity(linears) == pytest.approx(plan.overall_sparsity)

    art = tmp_path / "art"
    export(model, pruner.masks, art, {"task": "SST-2", "sparsity": plan.overall_sparsity})
    loaded = load_artifact(art)
    for name, lin in linears.items():
        assert np.array_equal(decode(loaded.hp_layers[name]), lin.weight.detach().numpy())
    rebuilt = load_hp_model(art)
    x = torch.randint(5, 20, (2, 6))
    assert torch.equal(rebuilt(input_ids=x).logits, model.eval()(input_ids=x).logits)


def test_group_lasso_alphas_follow_the_formula_at_milestones() -> None:
    model = tiny_model()
    linears = encoder_linears(model)
    lasso = GroupLasso(linears, TINY_SHAPE, lam=0.5, eps=1e-3, n_milestones=3)
    seen: list[tuple[int, bool]] = []

    class Check(TrainHook):
        """Snapshots the weights a step starts from and checks the alphas it used."""

        def extra_loss(self, model: torch.nn.Module, step: int) -> None:
            self.before = {n: lin.weight.detach().numpy().copy() for n, lin in linears.items()}
            self.alphas = {n: a.clone() for n, a in lasso.alphas.items()}

        def after_step(self, model: torch.nn.Module, step: int) -> None:
            milestone = step in lasso.milestones
            for n in linears:
                formula = torch.from_numpy(1.0 / (block_norms(self.before[n], TINY_SHAPE) + 1e-3))
                if milestone or not self.alphas:
                    assert torch.equal(lasso.alphas[n], formula.to(torch.float32)), (step, n)
                else:
                    assert torch.equal(lasso.alphas[n], self.alphas[n]), (step, n)
            seen.append((step, milestone))

    train(model, tiny_data(n=48), TrainConfig(max_steps=9, batch_size=8, lr=1e-3),
          hooks=[Check(), lasso], progress=False)
    assert lasso.milestones == [0, 3, 6]
    assert [s for s, m in seen if m] == [0, 3, 6] and len(seen) == 9
    # the penalty: lam * sum of alpha_g * ||W_g|| over all blocks, divided by their number
    penalty = lasso.extra_loss(model, step=1)
    expected = sum(float((lasso.alphas[n] * torch_block_norms(w.weight.detach(), TINY_SHAPE))
                         .sum()) for n, w in linears.items())
    assert float(penalty.detach()) == pytest.approx(0.5 * expected / lasso.n_groups, rel=1e-6)


def test_lasso_hard_prune_and_retrain_keep_hp_masks() -> None:
    model = tiny_model()
    plan = uniform_plan(linear_sizes(encoder_linears(model)), 0.125, TINY_SHAPE)
    data = tiny_data(n=32)
    masks, results = prune_lasso(model, data, plan, TrainConfig(max_steps=4, batch_size=8),
                                 TrainConfig(max_steps=3, batch_size=8), lam=1.0)
    assert [r.steps for r in results] == [4, 3]
    for name, mask in masks.masks.items():
        assert is_hp_mask(mask.numpy(), plan.shape)
        assert not masks.linears[name].weight.detach()[~mask].any()


def test_distillation_loss_formula() -> None:
    from types import SimpleNamespace as Out

    s = torch.tensor([[1.0, -1.0], [0.5, 2.0]])
    t = torch.tensor([[2.0, 0.0], [-1.0, 1.0]])
    labels = torch.tensor([0, 1])
    temp = 2.0
    p_t = np.exp(t.numpy() / temp) / np.exp(t.numpy() / temp).sum(1, keepdims=True)
    log_p_s = s.numpy() / temp - np.log(np.exp(s.numpy() / temp).sum(1, keepdims=True))
    soft = temp ** 2 * float(-(p_t * log_p_s).sum(1).mean())
    hard = float(torch.nn.functional.cross_entropy(s, labels))
    assert float(soft_cross_entropy(s, t, temp)) == pytest.approx(soft, rel=1e-6)

    hs = (torch.ones(2, 3, 4), torch.zeros(2, 3, 4))
    ht = (torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))
    cfg = DistillConfig(temperature=temp, hardness=0.25, hidden_weight=0.5)
    got = distillation_loss(Out(logits=s, hidden_states=hs), Out(logits=t, hidden_states=ht),
                            labels, cfg)
    assert float(got) == pytest.approx(0.75 * hard + 0.25 * soft + 0.5 * (1.0 + 0.0) / 2,
                                       rel=1e-6)
    # regression: the soft term is the MSE to the teacher's output
    reg = distillation_loss(Out(logits=torch.tensor([[1.0], [2.0]])),
                            Out(logits=torch.tensor([[0.0], [0.0]])),
                            torch.tensor([1.0, 1.0]), DistillConfig(hardness=1.0))
    assert float(reg) == pytest.approx((1.0 + 4.0) / 2)
    with pytest.raises(ValueError, match="temperature"):
        DistillConfig(temperature=0.0)


def test_plan_and_shape_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="sparsity"):
        hp_shape_for(1.0, 16, 16)
    with pytest.raises(ValueError, match="change m"):
        target_blocks({"w": (32, 32)}, 0.9, HPShape(16, 16, 4))
    with pytest.raises(ValueError, match="keeps 9 blocks"):
        PrunePlan(HPShape(16, 16, 4), {"w": (32, 32)}, {"w": 9})
    assert math.isclose(uniform_plan({"w": (32, 32)}, 0.25, HPShape(16, 16, 4)).overall_density,
                        0.25)


@pytest.mark.parametrize(("structure", "sparsity", "shape"), [
    ("hp", 0.8, HPShape(16, 16, 4)), ("blocks", 0.8, HPShape(16, 16, 16)),
    ("fine", 0.5, HPShape(16, 16, 8)), ("fine", 0.8, HPShape(16, 64, 13)),
    ("unstructured", 0.8, HPShape(16, 16, 4))])
def test_each_diagnosis_structure_gets_its_shape(structure: str, sparsity: float,
                                                  shape: HPShape) -> None:
    assert structure_shape(structure, sparsity, 16, 16) == shape
    sizes = MINILM_SIZES
    density = shape.m / shape.bi if structure == "fine" else 1.0 - sparsity
    plan = uniform_plan(sizes, density, shape)
    if structure == "fine":  # every block kept: the fine level alone
        assert all(plan.keep_ratio(n) == 1.0 for n in sizes)
    assert plan.overall_sparsity == pytest.approx(sparsity, abs=0.005)


def test_unknown_structure_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown structure 'bogus'; choose one of hp"):
        structure_shape("bogus", 0.8, 16, 16)


def test_unstructured_masks_keep_the_largest_weights_on_the_schedule() -> None:
    model = tiny_model()
    linears = encoder_linears(model)
    plan = uniform_plan(linear_sizes(linears), 0.25, TINY_SHAPE)
    masks = MagnitudeMasks(linears)
    pruner = GradualPruner(linears, plan, end=0.6, n_updates=4, masks=masks)
    train(model, tiny_data(n=80), TrainConfig(max_steps=20, batch_size=8, lr=1e-3),
          hooks=[pruner], progress=False)
    for name, lin in linears.items():
        w = lin.weight.detach().abs()
        kept = masks.masks[name]
        assert int(kept.sum()) == round(plan.density(name) * w.numel())
        assert w[kept].min() >= w[~kept].max()  # magnitude, no structure
    assert measured_sparsity(linears) == pytest.approx(plan.overall_sparsity, abs=0.01)
    with pytest.raises(ValueError, match="no block scores"):
        masks.update(plan, 1.0, block_scores={})


def test_magnitude_mask_keeps_the_largest_entries_anywhere() -> None:
    w = torch.tensor([[0.1, -5.0, 0.2, 0.0], [3.0, 0.3, -4.0, 0.05]])
    assert magnitude_mask(w, 0.375).tolist() == [[False, True, False, False],
                                                 [True, False, True, False]]
    assert int(magnitude_mask(w, 0.0).sum()) == 1  # at least one weight survives
