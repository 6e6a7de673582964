"""Build an RTL engine with cocotb's runner and run its testbench on a list of cases.

Builds are kept per (engine, simulator, parameters, waves) under a build root (default
`out/rtl_build`, git-ignored) and reused while up to date; a file lock makes two
pytest-xdist workers share one build instead of racing.
"""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cocotb_tools.check_results import get_results
from cocotb_tools.runner import get_runner

from sim.rtl.attention_case import lut_hex
from sim.rtl.simulators import Simulator
from sim.rtl.stimulus import CASES_ENV, RESULTS_ENV, StimulusOptions

REPO_ROOT = Path(__file__).resolve().parents[2]
RTL_DIR = REPO_ROOT / "hw" / "rtl"
# Builds go under the cache directory ($SBF_CACHE_DIR/rtl_build) or the working directory
# (./out/rtl_build), never into the source tree or an installed package.
DEFAULT_BUILD_ROOT = (Path(os.environ["SBF_CACHE_DIR"]) / "rtl_build"
                      if os.environ.get("SBF_CACHE_DIR") else Path.cwd() / "out" / "rtl_build")
TIMESCALE = ("1ns", "1ps")
LOG_TAIL_CHARS = 4000
WAVE_SUFFIXES = (".vcd", ".fst")


class RtlSimError(RuntimeError):
    """A build or simulation failed; the message carries the log's tail."""


@dataclass(frozen=True)
class Engine:
    """An RTL engine: its top module, sources (dependencies first), cocotb bench, and the
    data files its simulation reads from its working directory (name -> content maker)."""

    name: str
    toplevel: str
    sources: tuple[str, ...]
    testbench: str
    run_files: tuple[tuple[str, Callable[[], str]], ...] = ()

    def source_paths(self) -> list[Path]:
        return [RTL_DIR / s for s in self.sources]


ENGINES = {
    "spmm": Engine("spmm", "hp_spmm",
                   ("hp_spmm_pe.sv", "hp_spmm_acc.sv", "requant.sv", "hp_spmm.sv"),
                   "sim.rtl.tb_spmm"),
    "attention": Engine("attention", "sparse_attention",
                        ("requant.sv", "reduce_tree.sv", "sparse_attention.sv"),
                        "sim.rtl.tb_attention",
                        (("estimate_lut.hex", lut_hex),)),
    "gelu": Engine("gelu", "gelu_unit", ("requant.sv", "gelu_lane.sv", "gelu_unit.sv"),
                   "sim.rtl.tb_gelu"),
    "layernorm": Engine("layernorm", "residual_layernorm",
                        ("requant.sv", "reduce_tree.sv", "isqrt_pipe.sv", "recip_pipe.sv",
                         "residual_layernorm.sv"), "sim.rtl.tb_layernorm"),
}


def _sources_of(*engines: str) -> tuple[str, ...]:
    """The sources of several engines, each once, dependencies first."""
    return tuple(dict.fromkeys(s for e in engines for s in ENGINES[e].sources))


# The encoder-layer top composes the engines above (their sources first) with its own.
ENGINES["layer"] = Engine(
    "layer", "encoder_layer",
    _sources_of("spmm", "attention", "gelu", "layernorm")
    + ("sdp_ram.sv", "buf_reader.sv", "spmm_group.sv", "encoder_layer.sv"),
    "sim.rtl.tb_layer", ENGINES["attention"].run_files)

# The Vitis RTL kernel: the layer top behind the AXI4-Lite control slave and AXI4 masters
# (its bench simulates the rendered top, hw/rtl_kernel.py:top_source, over these sources).
ENGINES["kernel"] = Engine(
    "kernel", "sbf_kernel",
    _sources_of("layer")
    + ("axil_regs.sv", "axi_reader.sv", "axi_writer.sv", "axis_gearbox.sv", "sbf_kernel.sv"),
    "sim.rtl.tb_kernel", ENGINES["layer"].run_files)


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-LOG_TAIL_CHARS:] if path.is_file() else ""


def build(engine: Engine, parameters: dict[str, int], sim: Simulator,
          build_root: Path | None = None, waves: bool = False) -> tuple[Any, Path]:
    """Build the simulation model, or reuse an up-to-date one; returns (runner, build dir).

    Both tools skip up-to-date work themselves (Icarus: cocotb compares timestamps;
    Verilator: its skip-identical check, then an incremental make), so a cached build
    costs a second or two.
    """
    sim.apply_env()
    key = "_".join(f"{k.lower()}{v}" for k, v in parameters.items())
    if waves:
        key += "_waves" + sim.wave_suffix.replace(".", "_")
    build_dir = (build_root or DEFAULT_BUILD_ROOT) / sim.name / f"{engine.name}_{key}"
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "build.log"
    runner = get_runner(sim.name)
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            runner.build(sources=engine.source_paths(), hdl_toplevel=engine.toplevel,
                         parameters=parameters, build_dir=build_dir, waves=waves,
                         build_args=sim.build_args if waves else [],
                         timescale=TIMESCALE, log_file=log)
        except (SystemExit, Exception) as e:
            raise RtlSimError(f"{sim.name} build of {engine.toplevel} failed ({e}); "
                              f"log {log}:\n{_log_tail(log)}") from None
    return runner, build_dir


def run_cases(engine: Engine, parameters: dict[str, int], cases: Sequence[Any],
              sim: Simulator, options: StimulusOptions, build_root: Path | None = None,
              waves: bool = False) -> list[dict[str, Any]]:
    """Simulate `cases` in one simulator run; per case the raw output and cycle count.

    The run directory is removed after a clean run, kept (and named in `waves`) with waves.
    """
    runner, build_dir = build(engine, parameters, sim, build_root, waves)
    run_dir = Path(tempfile.mkdtemp(prefix="run_", dir=build_dir))
    cases_file, results_file = run_dir / "cases.pkl", run_dir / "results.json"
    cases_file.write_bytes(pickle.dumps({"cases": list(cases), "options": options}))
    for name, make in engine.run_files:
        (run_dir / name).write_text(make())
    log = run_dir / "sim.log"
    try:
        runner.test(test_module=engine.testbench, hdl_toplevel=engine.toplevel,
                    build_dir=build_dir, test_dir=run_dir, waves=waves,
                    results_xml=str(run_dir / "results.xml"), log_file=log,
                    extra_env={CASES_ENV: str(cases_file), RESULTS_ENV: str(results_file)})
        _, failed = get_results(run_dir / "results.xml")
    except (SystemExit, Exception) as e:
        raise RtlSimError(f"{sim.name} simulation of {engine.toplevel} failed ({e}); "
                          f"log {log}:\n{_log_tail(log)}") from None
    if failed or not results_file.is_file():
        raise RtlSimError(f"{sim.name} testbench {engine.testbench} failed; "
                          f"log {log}:\n{_log_tail(log)}")
    results = json.loads(results_file.read_text())
    if waves:
        # Verilator dumps into the run directory, Icarus (through cocotb) into the build's
        dumps = sorted(str(f) for d in (run_dir, build_dir) for f in d.iterdir()
                       if f.suffix in WAVE_SUFFIXES)
        for res in results:
            res["waves"] = dumps
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    return results


def lint(engine: Engine, parameters: dict[str, int], sim: Simulator) -> str:
    """`verilator --lint-only -Wall` on the engine with these parameters; '' when clean.

    Returns the warnings (Verilator exits non-zero on any -Wall warning).
    """
    sim.apply_env()
    cmd = [str(sim.binary), "--lint-only", "-Wall", "--top-module", engine.toplevel,
           *[f"-G{k}={v}" for k, v in parameters.items()],
           *[str(p) for p in engine.source_paths()]]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return "" if proc.returncode == 0 else (proc.stdout + proc.stderr)


def int8_mismatches(output_hex: str, ref: np.ndarray) -> int:
    """Bytes of a bench's int8 output (hex) that differ from `ref`; all of them when the
    bench returned a different number of bytes."""
    y = np.frombuffer(bytes.fromhex(output_hex), dtype=np.int8)
    return int(np.count_nonzero(y.reshape(ref.shape) != ref)) if y.size == ref.size \
        else int(ref.size)


def waves_field(res: dict[str, Any]) -> dict[str, Any]:
    """{"waves": path} for a result row when the run dumped waves, else {}."""
    return {"waves": res["waves"]} if "waves" in res else {}
