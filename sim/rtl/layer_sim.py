"""Simulate the encoder-layer accelerator on cases and check every output byte.

Each case's int8 hidden states are compared bit for bit with the golden encoder; cycles
are measured from the first accepted input beat to the last accepted output beat, and
per operator from the layer's perf counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.rtl.layer_case import LayerCase, LayerImage, LayerRun, mac_lanes, useful_macs
from sim.rtl.runner import ENGINES, int8_mismatches, run_cases, waves_field
from sim.rtl.simulators import Simulator
from sim.rtl.stimulus import StimulusOptions


def simulate_layer(image: LayerImage, cases: Sequence[LayerCase], sim: Simulator,
                   options: StimulusOptions, build_root: Path | None = None,
                   waves: bool = False) -> list[dict[str, Any]]:
    """Per case: bit_exact, mismatches, cycles (measured), cycles per operator, useful
    MACs, utilization = useful MACs / (MAC lanes x cycles), and beside them what
    hw.perf.layer predicts (model_cycles, model_op_cycles), as the engine sims do."""
    from hw.perf.layer import layer_op_cycles

    p = image.params
    for case in cases:
        if case.x.shape[1] != p.hidden or not 1 <= case.length <= p.max_len:
            raise ValueError(f"case {case.name}: x {list(case.x.shape)} must be [L, "
                             f"{p.hidden}] with 1 <= L <= {p.max_len}")
        if not 1 <= case.k <= p.max_k:
            raise ValueError(f"case {case.name}: k={case.k} outside [1, {p.max_k}]")
    raw = run_cases(ENGINES["layer"], p.hdl_parameters(), [LayerRun(image, list(cases))],
                    sim, options, build_root, waves)
    rows = []
    lanes = mac_lanes(p)
    for case, res in zip(cases, raw, strict=True):
        mismatches = int8_mismatches(res["output"], case.expected)
        cycles = int(res["cycles"])
        macs = useful_macs(image, case.length, case.k)
        model = layer_op_cycles(image, case.length, case.k)
        rows.append({
            "name": case.name,
            "length": case.length,
            "layers": image.layers,
            "k": case.k,
            "bit_exact": mismatches == 0,
            "mismatches": mismatches,
            "cycles": cycles,
            "op_cycles": res["perf"],
            "macs": macs,
            "utilization": round(macs / (lanes * cycles), 4),
            "model_cycles": sum(model.values()),
            "model_op_cycles": model,
            **waves_field(res),
        })
    return rows
