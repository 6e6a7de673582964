"""The RTL kernel's overhead over the layer top, MEASURED in RTL simulation (cocotb +
Verilator) on the small build "a" of tests/test_rtl_layer.py (hidden 32, two layers).

Runs the same sequences through hw/rtl/sbf_kernel.sv (registers and AXI4 masters, the
first call loading the image) and through encoder_layer.sv alone, and reports cycles of
each call (kernel: ap_start write to the ap_done read, polled every 50 cycles; layer:
first input beat to last output beat), every output checked bit for bit. Writes
benchmarks/results/rtl_kernel.json.

    python benchmarks/rtl_kernel.py [--out-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from host.machine import machine_info  # noqa: E402
from sim.rtl import kernel_case as kc  # noqa: E402
from sim.rtl.kernel_sim import simulate_kernel  # noqa: E402
from sim.rtl.layer_sim import simulate_layer  # noqa: E402
from sim.rtl.simulators import find_simulator  # noqa: E402
from sim.rtl.stimulus import StimulusOptions  # noqa: E402
from tests import test_rtl_kernel as t  # noqa: E402

RESULTS = Path(__file__).parent / "results"
CALLS = (("L13", (13,), 1), ("L13_again", (13,), 1), ("batch_5_1_24", (5, 1, 24), 2))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=RESULTS)
    args = ap.parse_args()
    cfg, _, _, image = t._setup()
    sim = find_simulator("verilator")
    calls = [kc.call(name, t._cases(lengths, seed), cfg, image.layers, run)
             for run, (name, lengths, seed) in enumerate(CALLS, start=1)]
    kernel = simulate_kernel(cfg, image, calls, sim)
    problems = [p for c, r in zip(calls, kernel, strict=True) for p in kc.result_problems(c, r)]
    layer_rows = simulate_layer(image, [x for c in CALLS[1:] for x in t._cases(c[1], c[2])],
                                sim, StimulusOptions(False, False))
    by_len = {r["length"]: r for r in layer_rows}
    rows = []
    for (name, lengths, _), res in zip(CALLS, kernel, strict=True):
        rows.append({"call": name, "lengths": list(lengths), "kernel_cycles": res["cycles"],
                     "layer_cycles": sum(by_len[n]["cycles"] for n in lengths),
                     "layer_bit_exact": all(by_len[n]["bit_exact"] for n in lengths)})
    out = {"what": "RTL kernel vs encoder_layer cycles, measured (cocotb + Verilator "
                   f"{sim.version}), build a", "machine": machine_info(),
           "image_bytes": len(kc.pack_image(image, tuple(cfg.bucket_edges))),
           "kernel_bit_exact": not problems, "problems": problems, "calls": rows}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "rtl_kernel.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(rows, indent=1))
    return 0 if not problems and all(r["layer_bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
