"""Simulate the vector units (gelu_unit, residual_layernorm) and check every output byte.

One simulator run takes all cases; each is compared bit for bit with the golden model
(`GeluCase.reference`, `LayerNormCase.reference`), its passed-through sideband with what
was sent, and its cycles with the formulas of sim/rtl/vector_case.py (exact when the
streams run without gaps or backpressure).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim.rtl.runner import ENGINES, run_cases, waves_field
from sim.rtl.simulators import Simulator
from sim.rtl.stimulus import StimulusOptions
from sim.rtl.vector_case import (
    GeluCase,
    GeluUnitParams,
    LayerNormCase,
    LayerNormUnitParams,
    gelu_cycles,
    layernorm_cycles,
    unpack_gelu_output,
    unpack_layernorm_output,
)


def simulate_gelu(cases: Sequence[GeluCase], params: GeluUnitParams, sim: Simulator,
                  options: StimulusOptions, build_root: Path | None = None,
                  waves: bool = False) -> list[dict[str, Any]]:
    """Per case: bit_exact, mismatches, sideband_exact, measured and modelled cycles."""
    for case in cases:
        case.check(params)
    raw = run_cases(ENGINES["gelu"], params.hdl_parameters(), [(params, c) for c in cases],
                    sim, options, build_root, waves)
    rows = []
    for case, res in zip(cases, raw, strict=True):
        y = unpack_gelu_output(bytes.fromhex(res["output"]), case)
        mismatches = int(np.count_nonzero(y != case.reference()))
        beats = case.tokens * params.words
        dest = [b % params.words for b in range(beats)]
        rows.append({
            "name": case.name, "tokens": case.tokens, "bit_exact": mismatches == 0,
            "mismatches": mismatches,
            "sideband_exact": res["tuser"] == case.user(params).tolist() and res["tdest"] == dest,
            "cycles": int(res["cycles"]), "model_cycles": gelu_cycles(beats),
            **waves_field(res),
        })
    return rows


def simulate_layernorm(cases: Sequence[LayerNormCase], params: LayerNormUnitParams,
                       sim: Simulator, options: StimulusOptions,
                       build_root: Path | None = None,
                       waves: bool = False) -> list[dict[str, Any]]:
    """Per case: bit_exact, mismatches, framing_exact, measured and modelled cycles."""
    for case in cases:
        case.check(params)
    raw = run_cases(ENGINES["layernorm"], params.hdl_parameters(),
                    [(params, c) for c in cases], sim, options, build_root, waves)
    rows = []
    for case, res in zip(cases, raw, strict=True):
        y = unpack_layernorm_output(bytes.fromhex(res["output"]), case)
        mismatches = int(np.count_nonzero(y != case.reference()))
        rows.append({
            "name": case.name, "tokens": case.tokens, "bit_exact": mismatches == 0,
            "mismatches": mismatches,
            "framing_exact": res["frames"] == [params.beats] * case.tokens,
            "cycles": int(res["cycles"]),
            "model_cycles": layernorm_cycles(case.tokens, params.n, params.lanes),
            **waves_field(res),
        })
    return rows
