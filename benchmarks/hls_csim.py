"""C simulation of the rendered HLS engines against the golden model, on the real model.

MEASURED (bit-exactness, g++ C simulation here, no FPGA): the packaged MiniLM, HP-pruned
one-shot to 20% density (80% sparsity), calibrated on GLUE SST-2 train, top-k attention
with k from the design config, checked on SST-2 dev sentences cut to each length. Writes
benchmarks/results/hls_csim.json with the command, the machine and the per-engine result.

    .venv/bin/python benchmarks/hls_csim.py [--lengths 1,7,25,64,128]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from host.machine import machine_info  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "hls_csim.json"


def machine() -> dict[str, object]:
    cxx = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout
    return {**machine_info(torch_details=False), "compiler": cxx.splitlines()[0] if cxx else ""}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", help="comma-separated lengths (default: the csim default)")
    args = ap.parse_args()
    from host.cli import main as sbf

    argv = ["hw", "csim", "--json"] + (["--lengths", args.lengths] if args.lengths else [])
    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        code = sbf(argv)
    result = json.loads(buf.getvalue())
    record = {
        "command": "sbf " + shlex.join(argv),
        "machine": machine(),
        "kind": "measured: g++ C simulation of the rendered HLS project vs the NumPy golden "
                "model (bit-exactness); no FPGA, no Vitis",
        "seconds_total": round(time.perf_counter() - t0, 1),
        "exit_status": code,
        **result,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: record[k] for k in ("all_bit_exact", "lengths", "seconds_total")}))
    return code


if __name__ == "__main__":
    sys.exit(main())
