"""The vendor flow: Vitis HLS csynth/cosim, v++ link to an xclbin, csynth report parsing.

Runs only where `vitis_hls` and `v++` are on PATH. Elsewhere `build` reports which tool is
missing and the exact commands it would have run, so a user can take the rendered project
to a machine with Vitis (the project's Makefile runs the same commands).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hw.hls.abi import KERNEL

TARGETS = ("hw_emu", "hw")
HLS_TOOL = "vitis_hls"
LINK_TOOL = "v++"
BRAM18_PER_BRAM36 = 2
CSYNTH_REPORT = f"hls_prj/solution1/syn/report/{KERNEL}_csynth.xml"
XO = f"{KERNEL}.xo"
# The RTL kernel's package (hw/rtl_kernel.py) and xclbin: here, so the host finds them
# without importing the RTL tooling.
RTL_PACKAGE_DIR = "rtl_kernel"


def rtl_xclbin_name(target: str) -> str:
    return f"{KERNEL}.rtl.{target}.xclbin"


class VitisError(RuntimeError):
    """A vendor tool is missing or failed; the message names it."""


@dataclass(frozen=True)
class Step:
    """One vendor command, run in the rendered project directory."""

    tool: str
    args: tuple[str, ...]
    what: str

    @property
    def command(self) -> str:
        return " ".join((self.tool, *self.args))


def plan(platform: str, target: str, cosim: bool = True) -> list[Step]:
    """The commands that turn a rendered project into an xclbin for `target`."""
    if target not in TARGETS:
        raise VitisError(f"target: must be one of {TARGETS}, got {target!r}")
    steps = [Step(HLS_TOOL, ("-f", "vitis/run_hls.tcl", "-tclargs", "csynth"),
                  "C synthesis and export of the kernel as a Vitis .xo")]
    if cosim:
        steps.append(Step(HLS_TOOL, ("-f", "vitis/run_hls.tcl", "-tclargs", "cosim"),
                          "C/RTL co-simulation of the synthesised kernel"))
    steps.append(Step(LINK_TOOL, ("-l", "-t", target, "--platform", platform,
                                  "--config", "vitis/link.cfg", "-o",
                                  f"{KERNEL}.{target}.xclbin", XO),
                      f"link the kernel into {KERNEL}.{target}.xclbin for {platform}"))
    return steps


def missing_tools(steps: list[Step]) -> list[str]:
    """The tools of `steps` that are not on PATH, in order."""
    return sorted({s.tool for s in steps if shutil.which(s.tool) is None})


def run(steps: list[Step], project: Path) -> list[dict]:
    """Run every step in `project`; stop at the first failure with the tool's output."""
    done = []
    for s in steps:
        proc = subprocess.run([s.tool, *s.args], cwd=project, capture_output=True, text=True)
        (project / "vitis").mkdir(exist_ok=True)
        log = project / "vitis" / f"{len(done)}-{s.tool}.log"
        log.write_text(proc.stdout + proc.stderr)
        if proc.returncode:
            raise VitisError(f"{s.command} failed ({proc.returncode}); see {log}")
        done.append({"command": s.command, "log": str(log)})
    return done


def _int(node: ET.Element | None) -> int | None:
    if node is None or node.text is None:
        return None
    try:
        return int(node.text.strip())
    except ValueError:  # "undef" when a loop bound is only known at run time
        return None


def parse_csynth(xml_path: Path) -> dict[str, int | None]:
    """Resources and latency from a Vitis HLS csynth XML report.

    Keys match the resource estimator: dsp, bram (BRAM36 equivalents: the report counts
    BRAM_18K), uram, lut, ff, and latency (worst-case cycles; None when the report says
    "undef" because a trip count depends on the run-time length).
    """
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError) as e:
        raise VitisError(f"{xml_path}: not a readable csynth report ({e})") from None
    res = root.find("AreaEstimates/Resources")
    if res is None:
        raise VitisError(f"{xml_path}: no AreaEstimates/Resources section")
    bram18 = _int(res.find("BRAM_18K"))
    lat = root.find("PerformanceEstimates/SummaryOfOverallLatency/Worst-caseLatency")
    return {
        "dsp": _int(res.find("DSP")) if res.find("DSP") is not None else _int(res.find("DSP48E")),
        "bram": None if bram18 is None else math.ceil(bram18 / BRAM18_PER_BRAM36),
        "uram": _int(res.find("URAM")),
        "lut": _int(res.find("LUT")),
        "ff": _int(res.find("FF")),
        "latency": _int(lat),
    }


def link_plan(cfg: Any, density: float = 0.2) -> dict[str, Any]:
    """Where `v++` places the kernel, from the resource model's per-SLR floorplan.

    The floorplan (`hw.perf.model.floorplan`) packs the design's PE groups and attention
    engines into the SLRs' kernel shares. When they all sit in one SLR the compute unit
    is pinned there (`slr=`); when they need several, one compute unit cannot be pinned
    to one SLR, so no `slr=` is written and the link places it across the SLRs named
    (`banks`: the memory banks of those SLRs, for the ports to stay local).
    """
    from boards.loader import load_board
    from hw.perf.model import build_design, floorplan
    from hw.perf.ops import uniform_weights, with_density

    board = load_board(cfg.board)
    cfg = with_density(cfg, density)
    # the HLS kernel: the analytical machine's structure (separate weight store)
    design = build_design(cfg, board, uniform_weights(cfg, density), machine="analytical")
    plan = floorplan(cfg, board, design.parts, design.groups)
    used = [s for s in plan if s.groups or s.attention_engines]
    per_slr = {s.slr: {"pe_groups": s.groups, "attention_engines": s.attention_engines}
               for s in used}
    clock = math.floor(design.clock["mhz"])  # capped by the slowest engine's logic depth
    spans = [s.slr for s in used]
    banks = [b.name for b in board.memory if b.slr in spans]  # for the ports: local banks
    return {"slr": spans[0] if len(spans) == 1 else None, "spans": spans,
            "per_slr": per_slr, "pe_groups": design.groups, "clock_mhz": clock,
            "banks": banks}
