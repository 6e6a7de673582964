"""Logic depth of the requantization lane and the attention engine, MEASURED on Yosys
netlists (synth_xilinx -family xcup), before and after their pipelining (issue 14).

Each unit is synthesised from hw/rtl as committed at each revision (hw.synth.snapshot_rtl,
so edits in the work tree do not leak in) with small parameters (Yosys runs as
WebAssembly), and hw.synth_timing walks the netlist for the worst register-to-register
path: its LUT/MUXF levels, CARRY cells, DSPs and the delay its per-level estimates give.
Writes benchmarks/results/rtl_depth.json.

    python benchmarks/rtl_depth.py [--before REV] [--after REV] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hw.synth import (  # noqa: E402
    SynthEngine,
    group_cells,
    netlist_path,
    run_yosys,
    snapshot_rtl,
)
from hw.synth_timing import load_netlist, worst_path  # noqa: E402
from sim.rtl.attention_case import AttentionParams  # noqa: E402
from sim.rtl.runner import ENGINES, Engine  # noqa: E402

BEFORE = "98c6dfa~1"  # the last commit before requant and sparse_attention were pipelined
AFTER = "HEAD"
OUT = REPO / "benchmarks" / "results" / "rtl_depth.json"
REQUANT = Engine("requant", "requant", ("requant.sv",), "sim.rtl.tb_requant")
ATTENTION_SMALL = AttentionParams(d=8, max_len=16, max_k=4)


class _Unit(SynthEngine):
    """A SynthEngine for an Engine that sim.rtl.runner.ENGINES does not list (requant)."""

    _engine: Engine

    @property
    def rtl(self) -> Any:
        return self._engine


def _unit(engine: Engine, params: dict[str, int]) -> SynthEngine:
    unit = _Unit(engine.name, lambda _c: params, lambda: params, in_all=False)
    object.__setattr__(unit, "_engine", engine)
    return unit


UNITS = {
    "requant": (REQUANT, {"OUT_BITS": 8}),
    "attention": (ENGINES["attention"], ATTENTION_SMALL.hdl_parameters()),
}


def measure(rev: str, name: str) -> dict[str, Any]:
    engine, params = UNITS[name]
    rtl_dir, commit = snapshot_rtl(rev)
    unit = _unit(engine, params)
    t0 = time.monotonic()
    meta = run_yosys(unit, params, quiet=True, rtl_dir=rtl_dir)
    path = worst_path(load_netlist(netlist_path(meta)))
    return {"unit": name, "rev": rev, "commit": commit, "parameters": params,
            "counts": group_cells(meta["cells"]), "worst_path": path.to_dict(),
            "yosys_seconds": meta["seconds"], "wall_seconds": round(time.monotonic() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default=BEFORE, help=f"baseline revision (default {BEFORE})")
    ap.add_argument("--after", default=AFTER, help=f"pipelined revision (default {AFTER})")
    ap.add_argument("--out", type=Path, default=OUT, help=f"result file (default {OUT})")
    args = ap.parse_args(argv)
    rows = []
    for name in UNITS:
        for rev in (args.before, args.after):
            row = measure(rev, name)
            wp = row["worst_path"]
            print(f"{name:9s} {rev:10s} levels {wp['levels']:2d}  carry {wp['carry_cells']:2d}  "
                  f"{wp['delay_ns']:.2f} ns  ~{wp['fmax_mhz']:.0f} MHz  "
                  f"({wp['start']} -> {wp['end']})", flush=True)
            rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "figures": "measured: Yosys (yowasp) netlists, synth_xilinx -family xcup; path delay "
                   "modeled from its levels by hw.synth_timing (not a Vivado timing report)",
        "command": "python benchmarks/rtl_depth.py", "rows": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
