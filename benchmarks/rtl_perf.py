"""Performance of the RTL engines, MEASURED in RTL simulation (cocotb + Verilator).

HP sparse matmul: PE utilization (useful MACs / (Bo PEs x m MACs x cycles)) at 20% HP
density on the three MiniLM shapes (layer 0's real weights on real text) for L = 32, 64,
128, with ideal streams (input every cycle, no output backpressure). The target is >= 0.90.
Sparse attention (one MiniLM head, real text, fixed k): cycles of the exact part (scores,
softmax, V) and of the estimate over L = 32 ... 256, the fitted growth exponent of each
(L**p), and the estimate's share of all cycles. Each figure is measured; the cycle
formulas of sim/rtl/cycles.py are listed beside them. Writes benchmarks/results/rtl.json
and rtl_attention.png.

    python benchmarks/rtl_perf.py [--simulator verilator] [--out-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt  # headless: matplotlib falls back to Agg
from matplotlib.ticker import NullFormatter
from tqdm import tqdm

from algo.attention.cost import growth_exponent
from host.machine import machine_info
from hw.config import DesignConfig
from sim.rtl.attention_case import AttentionParams, minilm_case
from sim.rtl.attention_sim import simulate_attention
from sim.rtl.minilm import layer_case
from sim.rtl.simulators import find_simulator
from sim.rtl.spmm_case import SpmmParams
from sim.rtl.spmm_sim import simulate_spmm
from sim.rtl.stimulus import StimulusOptions

RESULTS = Path(__file__).parent / "results"
SPMM_LENGTHS = (32, 64, 128)
SPMM_DENSITY = 0.2
UTILIZATION_TARGET = 0.90
ATTN_LENGTHS = (32, 64, 128, 256)
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


def attention(cfg: DesignConfig, sim_name: str, out_dir: Path) -> dict:
    """Fixed k = the config's attn_k; the engine is built for the longest length here."""
    params = AttentionParams(d=cfg.model.head_dim, max_len=max(ATTN_LENGTHS),
                             max_k=cfg.attn_k)
    sim = find_simulator(sim_name)
    cases = [minilm_case(params, n, params.max_k) for n in ATTN_LENGTHS]
    rows = simulate_attention(cases, params, sim, StimulusOptions(False, False))
    lengths = [r["length"] for r in rows]
    exact = [r["exact_cycles"] for r in rows]
    est = [r["estimate_cycles"] for r in rows]
    for r in rows:
        r["estimate_share"] = round(r["estimate_cycles"] / r["cycles"], 4)
    _plot_attention(lengths, exact, est, [r["cycles"] for r in rows], params.max_k,
                    out_dir / "rtl_attention.png")
    return {
        "kind": "measured",
        "measured_by": f"RTL simulation of hw/rtl/sparse_attention.sv ({sim.name} "
                       f"{sim.version}, cocotb); exact and estimate cycles from the engine's "
                       "own per-state counters, total from the first K beat to the last output",
        "model_cycles_by": "sim/rtl/cycles.py:attention_cycles (listed for comparison)",
        "parameters": params.hdl_parameters(),
        "k": params.max_k,
        "head": "MiniLM layer 0 head 0 on real text",
        "exponent_exact": round(growth_exponent(lengths, exact), 4),
        "exponent_estimate": round(growth_exponent(lengths, est), 4),
        "exponent_total": round(growth_exponent(lengths, [r["cycles"] for r in rows]), 4),
        "all_bit_exact": all(r["bit_exact"] for r in rows),
        "cycles_equal_model": all(r["cycles"] == r["model_cycles"] for r in rows),
        "rows": rows,
    }


def _plot_attention(lengths: list[int], exact: list[int], est: list[int], total: list[int],
                    k: int, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(lengths, total, "o-", label="total")
    ax.loglog(lengths, est, "s-", label="estimate + top-k (L per query)")
    ax.loglog(lengths, exact, "^-", label=f"exact part, k={k} (fixed per query)")
    ax.set_xlabel("sequence length L")
    ax.set_ylabel("cycles, one head (measured, RTL sim)")
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
        "machine": machine_info(torch_details=False),
        "config": args.config or "hw/configs/minilm-u200.yaml",
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    result["attention"] = attention(cfg, args.simulator, args.out_dir)
    result["spmm"] = spmm(cfg, args.simulator)
    out = args.out_dir / "rtl.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    s = result["spmm"]
    print(f"spmm: min utilization {s['min_utilization']:.4f} (target {UTILIZATION_TARGET}), "
          f"bit exact {s['all_bit_exact']}, cycles = model {s['cycles_equal_model']}")
    a = result["attention"]
    print(f"attention: exact-part exponent {a['exponent_exact']}, estimate exponent "
          f"{a['exponent_estimate']}, bit exact {a['all_bit_exact']} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
