"""Simulate the HP sparse matmul engine on cases and check every output byte.

One simulator run takes all cases; each is compared bit for bit with the golden model
(`SpmmCase.reference`, i.e. sim/golden/linear.py:hp_linear) and its cycles with the
cycle formula of sim/rtl/cycles.py (which holds exactly when the streams run without
gaps or backpressure).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hw.config import DesignConfig, ModelDims
from sim.rtl.cycles import spmm_cycles
from sim.rtl.runner import ENGINES, run_cases, waves_field
from sim.rtl.simulators import Simulator
from sim.rtl.spmm_case import SpmmCase, SpmmParams, unpack_output
from sim.rtl.stimulus import StimulusOptions


def formula_config(params: SpmmParams) -> DesignConfig:
    """A DesignConfig carrying the engine's parameters, for `spmm_cycles`."""
    width = params.bo * params.bi  # any model both block sizes divide
    return DesignConfig(bo=params.bo, bi=params.bi, m=params.m, tile_tokens=params.t,
                        max_length=params.max_len, bucket_edges=(params.max_len,),
                        model=ModelDims(hidden=width, heads=1, ffn=width, layers=1))


def simulate_spmm(cases: Sequence[SpmmCase], params: SpmmParams, sim: Simulator,
                  options: StimulusOptions, build_root: Path | None = None,
                  waves: bool = False) -> list[dict[str, Any]]:
    """Per case: bit_exact, mismatching bytes, measured and modelled cycles, MACs, utilization."""
    for case in cases:
        params.check_case(case)
    raw = run_cases(ENGINES["spmm"], params.hdl_parameters(), cases, sim, options,
                    build_root, waves)
    cfg = formula_config(params)
    rows = []
    for case, res in zip(cases, raw, strict=True):
        hp = case.hp
        y = unpack_output(bytes.fromhex(res["output"]), case.length, hp.out_features,
                          params.bo, params.t)
        mismatches = int(np.count_nonzero(y != case.reference()))
        cycles = int(res["cycles"])
        rows.append({
            "name": case.name,
            "shape": [hp.out_features, hp.in_features],
            "length": case.length,
            "density": round(hp.density, 4),
            "bit_exact": mismatches == 0,
            "mismatches": mismatches,
            "cycles": cycles,
            "model_cycles": spmm_cycles(case.length, case.nnzb_per_blockrow(), cfg,
                                        in_features=hp.in_features),
            "macs": case.macs,
            "utilization": round(case.macs / (params.bo * params.m * cycles), 4),
            **waves_field(res),
        })
    return rows
