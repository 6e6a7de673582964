"""Performance and resource model: per-engine estimators and whole-model figures on a board."""

from hw.perf.engines import (
    AttentionEngine,
    GeluEngine,
    LayerNormEngine,
    Resources,
    SpmmEngine,
    attention_resources,
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
    "Resources",
    "SpmmEngine",
    "artifact_weights",
    "attention_resources",
    "build_design",
    "check_fits",
    "estimate",
    "group_resources",
    "uniform_weights",
]
