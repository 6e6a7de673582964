"""Pruning in training: HP budgets, the cubic schedule, gradual pruning, reweighted group
lasso, distillation and the AE-BERT search for per-layer ratios.

Every mask this package makes is an HP mask (`algo.hp.hp_mask`), so a pruned model
exports to the HP format unchanged; the one exception is `masks.MagnitudeMasks`
(unstructured), a reference for what the HP structure costs.
"""
