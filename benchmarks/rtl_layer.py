"""The encoder-layer RTL top, MEASURED in Verilator (cocotb), against its cycle model.

Two array sizes: `small` (a seeded random BERT of hidden 32, ffn 64, 2 layers; W=8, m=2,
T=4, 3 PE groups, 2 attention engines) and `minilm` (the packaged MiniLM HP-pruned to
20% density on real SST-2 dev text, one layer of the default design's datapath with
`--groups` PE groups and `--engines` attention engines). Every output is checked bit for
bit against the golden encoder; cycles are measured per case (first input beat to last
output beat) and per operator (the layer's perf counters), and set beside
hw/perf/layer.py:layer_op_cycles. The model's constants are fitted on the `fit`
lengths of the small array; its error is reported on the held-out lengths and on the
other array. Writes benchmarks/results/rtl_layer.json.

    python benchmarks/rtl_layer.py [--arrays small,minilm] [--groups 4] [--engines 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from hw.config import DesignConfig, ModelDims
from hw.perf.layer import layer_op_cycles
from sim.rtl.layer_case import LayerParams, build_image, make_case
from sim.rtl.layer_sim import simulate_layer
from sim.rtl.simulators import find_simulator
from sim.rtl.stimulus import StimulusOptions

sys.path.insert(0, str(Path(__file__).parent))
from shared_results import write_results  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "rtl_layer.json"
SMALL = DesignConfig(bo=8, bi=8, m=2, tile_tokens=4, attn_k=4, attn_heads_parallel=2,
                     max_length=24, bucket_edges=(8, 16, 24),
                     model=ModelDims(hidden=32, heads=2, ffn=64, layers=2))
SMALL_FIT = (1, 5, 24)
SMALL_HELD_OUT = (2, 13, 17)
# SST-2 dev: 1, 2, the median (24), the p95 (44), a partial tile (13), the longest (128)
MINILM_LENGTHS = (1, 2, 13, 24, 44, 128)


def _rows(array: str, image, cases, held_out: set[int]) -> list[dict[str, Any]]:
    """Simulate the cases; the measured rows, each with what the cycle model needs."""
    t0 = time.time()
    measured = simulate_layer(image, cases, find_simulator("verilator"),
                              StimulusOptions(input_gaps=False, output_backpressure=False))
    wall = time.time() - t0
    return [{"array": array, **r, "held_out": case.length in held_out or array != "small",
             "parameters": image.params.hdl_parameters(),
             "simulation_wall_s": round(wall / len(cases), 1)}
            for case, r in zip(cases, measured, strict=True)]


def with_model(rows: list[dict[str, Any]], images: dict[str, Any]) -> list[dict[str, Any]]:
    """Each row with the model's cycles per operator beside the measured ones."""
    out = []
    for r in rows:
        measured = r["op_cycles"] if "model" not in r["op_cycles"] else r["op_cycles"]["measured"]
        model = layer_op_cycles(images[r["array"]], r["length"], r["k"])
        total, total_model = sum(measured.values()), sum(model.values())
        out.append({**r, "op_cycles": {
            "measured": measured, "model": model,
            "source": "measured: Verilator perf counters of encoder_layer.sv; "
                      "model: hw/perf/layer.py"},
            "op_cycles_total": {"measured": total, "model": total_model,
                                "error": round(total_model / total - 1, 4)},
            "op_error": {k: round(model[k] / v - 1, 4) for k, v in measured.items() if v}})
    return out


def small_image():
    from hw.hls.synthetic import synthetic_model

    model = synthetic_model(SMALL)
    return model, build_image(model, LayerParams.from_config(SMALL, groups=3))


def small_rows() -> list[dict[str, Any]]:
    model, image = small_image()
    rng = np.random.default_rng(0)
    cases = [make_case(f"random:L{n}", model, rng.integers(-128, 128, size=(n, 32)),
                       SMALL.attn_k, image.layers) for n in SMALL_FIT + SMALL_HELD_OUT]
    return _rows("small", image, cases, set(SMALL_HELD_OUT))


def minilm_image(groups: int, engines: int):
    from hw.hls.model_source import load_source

    cfg = DesignConfig.from_yaml().replace(attn_heads_parallel=engines)
    src = load_source(cfg, density=0.2)
    return cfg, src, build_image(src.quantized, LayerParams.from_config(cfg, groups, layers=1), 1)


def minilm_rows(groups: int, engines: int) -> list[dict[str, Any]]:
    from hw.hls.model_source import real_sequences

    cfg, src, image = minilm_image(groups, engines)
    seqs, origin = real_sequences(src, list(MINILM_LENGTHS))
    cases = [make_case(f"{origin}:L{len(x)}", src.quantized, x, cfg.attn_k, 1) for x in seqs]
    return _rows("minilm", image, cases, set(MINILM_LENGTHS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arrays", default="small,minilm")
    ap.add_argument("--groups", type=int, default=4)
    ap.add_argument("--engines", type=int, default=4)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--refit", action="store_true",
                    help="recompute the model columns of --out without simulating again")
    args = ap.parse_args()
    arrays = args.arrays.split(",")
    if args.refit:
        import json

        rows = [r for r in json.loads(args.out.read_text())["rows"] if r["array"] in arrays]
    else:
        rows = []
        for array in arrays:
            rows += small_rows() if array == "small" else minilm_rows(args.groups, args.engines)
            write_results(args.out, rows)  # the measurements are kept whatever follows
    images = {a: (small_image()[1] if a == "small" else minilm_image(args.groups,
                                                                      args.engines)[2])
              for a in arrays}
    rows = with_model(rows, images)
    held = [abs(r["op_cycles_total"]["error"]) for r in rows if r["held_out"]]
    doc = write_results(args.out, rows)
    print(f"{len(rows)} cases, all bit-exact: {all(r['bit_exact'] for r in rows)}; "
          f"model error on held-out cases: max {max(held, default=0):.2%}")
    for r in doc["rows"]:
        print(f"  {r['array']:7s} L={r['length']:4d} cycles {r['cycles']:8d} model "
              f"{r['op_cycles_total']['model']:8d} ({r['op_cycles_total']['error']:+.2%}) "
              f"util {r['utilization']:.3f}")


if __name__ == "__main__":
    main()
