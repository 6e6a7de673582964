"""Simulate the sparse attention engine on cases and check every output byte and selection.

Each case's int8 context rows are compared bit for bit with the golden
`sparse_attention_head`, and the key indices the engine kept (m_axis_out_tuser) with the
golden `select`. Cycles are compared with sim/rtl/cycles.py:attention_cycles.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim.rtl.attention_case import AttentionCase, AttentionParams, unpack_selection
from sim.rtl.cycles import attention_cycles
from sim.rtl.runner import ENGINES, int8_mismatches, run_cases, waves_field
from sim.rtl.simulators import Simulator
from sim.rtl.stimulus import StimulusOptions


def simulate_attention(cases: Sequence[AttentionCase], params: AttentionParams, sim: Simulator,
                       options: StimulusOptions, build_root: Path | None = None,
                       waves: bool = False) -> list[dict[str, Any]]:
    """Per case: bit_exact (output and selection), cycles measured and modelled, MACs,
    utilization of the d-wide exact datapath (useful exact MACs / (d x cycles))."""
    for case in cases:
        params.check_case(case)
    raw = run_cases(ENGINES["attention"], params.hdl_parameters(), cases, sim, options,
                    build_root, waves)
    rows = []
    for case, res in zip(cases, raw, strict=True):
        mismatches = int8_mismatches(res["output"], case.reference())
        sel = unpack_selection(res["tuser"], case.kept, params.index_bits)
        selection_exact = sel.shape == (case.length, case.kept) and bool(
            np.array_equal(sel, case.selection()))
        cycles = int(res["cycles"])
        rows.append({
            "name": case.name,
            "length": case.length,
            "k": case.k,
            "bit_exact": mismatches == 0 and selection_exact,
            "mismatches": mismatches,
            "selection_exact": selection_exact,
            "cycles": cycles,
            "model_cycles": attention_cycles(case.length, case.k, params.d),
            "estimate_cycles": int(res["estimate_cycles"]),
            "exact_cycles": int(res["exact_cycles"]),
            "macs": case.macs,
            "utilization": round(case.macs / (params.d * cycles), 4),
            **waves_field(res),
        })
    return rows
