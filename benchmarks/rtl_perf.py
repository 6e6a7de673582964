"""Performance of the RTL engines, MEASURED in RTL simulation (cocotb + Verilator).

HP sparse matmul: PE utilization (useful MACs / (Bo PEs x m MACs x cycles)) at 20% HP
density on the three MiniLM shapes (layer 0's real weights on real text) for L = 32, 64,
128, with ideal streams (input every cycle, no output backpressure). The target is >= 0.90.
Each figure is measured; the cycle formula of sim/rtl/cycles.py is listed beside it.
Writes benchmarks/results/rtl.json.

    python benchmarks/rtl_perf.py [--simulator verilator] [--out-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from tqdm import tqdm

from hw.config import DesignConfig
from sim.rtl.minilm import layer_case
from sim.rtl.simulators import find_simulator
from sim.rtl.spmm_case import SpmmParams
from sim.rtl.spmm_sim import simulate_spmm
from sim.rtl.stimulus import StimulusOptions

RESULTS = Path(__file__).parent / "results"
SPMM_LENGTHS = (32, 64, 128)
SPMM_DENSITY = 0.2
UTILIZATION_TARGET = 0.90
MINILM_LAYERS = {  # MiniLM shape (out, in) -> layer 0's linear of that shape
    "384x384": "layer.0.attention.self.query",
    "1536x384": "layer.0.intermediate.dense",
    "384x1536": "layer.0.output.dense",
}


def spmm(cfg: DesignConfig, sim_name: str) -> dict:
    params = SpmmParams.from_config(cfg)
    sim = find_simulator(sim_name)
    rows = []
    for shape, layer in tqdm(MINILM_LAYERS.items(), desc="spmm shapes", file=sys.stderr):
        cases = [layer_case(layer, n, SPMM_DENSITY, params.shape) for n in SPMM_LENGTHS]
        t0 = time.perf_counter()
        res = simulate_spmm(cases, params, sim, StimulusOptions(False, False))
        wall = time.perf_counter() - t0
        for r in res:
            rows.append({"shape": shape, "layer": layer, **r,
                         "sim_wall_s_shape_total": round(wall, 1)})
    utils = [r["utilization"] for r in rows]
    return {
        "kind": "measured",
        "measured_by": f"RTL simulation of hw/rtl/hp_spmm.sv ({sim.name} {sim.version}, "
                       "cocotb), cycles from the first input beat to the last output beat",
        "model_cycles_by": "sim/rtl/cycles.py:spmm_cycles (listed for comparison)",
        "parameters": params.hdl_parameters(),
        "density": SPMM_DENSITY,
        "streams": "ideal: an input beat offered every cycle, no output backpressure",
        "target_utilization": UTILIZATION_TARGET,
        "min_utilization": min(utils),
        "meets_target": min(utils) >= UTILIZATION_TARGET,
        "all_bit_exact": all(r["bit_exact"] for r in rows),
        "cycles_equal_model": all(r["cycles"] == r["model_cycles"] for r in rows),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simulator", default="verilator", choices=("verilator", "icarus"))
    ap.add_argument("--config", default=None)
    ap.add_argument("--out-dir", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    cfg = DesignConfig.from_yaml(args.config)
    result = {
        "benchmark": "rtl_perf",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"node": platform.node(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "config": args.config or "hw/configs/minilm-u200.yaml",
        "spmm": spmm(cfg, args.simulator),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / "rtl.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    s = result["spmm"]
    print(f"spmm: min utilization {s['min_utilization']:.4f} (target {UTILIZATION_TARGET}), "
          f"bit exact {s['all_bit_exact']}, cycles = model {s['cycles_equal_model']} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
