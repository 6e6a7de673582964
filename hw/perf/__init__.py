"""Performance and resource model: per-engine estimators and whole-model figures on a board."""

from hw.perf.engines import (
    AttentionEngine,
    GeluEngine,
    LayerNormEngine,
    SpmmEngine,
    group_resources,
)
from hw.perf.model import Design, build_design, check_fits, estimate
from hw.perf.ops import ENCODER_OPS, CostModel, Op, artifact_weights, uniform_weights

__all__ = [
    "ENCODER_OPS",
    "AttentionEngine",
    "CostModel",
    "Design",
    "GeluEngine",
    "LayerNormEngine",
    "Op",
    "SpmmEngine",
    "artifact_weights",
    "build_design",
    "check_fits",
    "estimate",
    "group_resources",
    "uniform_weights",
]
