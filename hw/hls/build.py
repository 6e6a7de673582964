"""g++ builds of HLS C++ for C simulation, cached by content hash.

The ap_int/ap_fixed headers come from the installed hls4ml wheel, found at run time and
never copied into the repo; `hls_stream.h` is the project's own model. Both refuse
synthesis, so they appear only on this g++ include path, never on a Vitis one.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path

INCLUDE_DIR = Path(__file__).parent / "include"
UNIT_DIR = Path(__file__).parent / "tests"
CXX = os.environ.get("CXX", "g++")
CXXFLAGS = ("-std=c++14", "-O2", "-fPIC", "-shared", "-w")
CACHE_ENV = "SBF_CACHE_DIR"
LIB_NAME = "libsbf.so"
HEADER_SUFFIXES = (".h", ".hpp")


class BuildError(RuntimeError):
    """g++ is missing or the compile failed; the message carries the compiler's output."""


@cache
def ap_types_dir() -> Path:
    """The directory of `ap_int.h` inside the installed hls4ml package."""
    try:
        root = Path(str(importlib.resources.files("hls4ml")))
    except ModuleNotFoundError:
        raise BuildError("hls4ml is not installed: C simulation needs its ap_types headers "
                         "(pip install 'hls4ml>=1.0', or `pip install -e .[hls]`)") from None
    hits = sorted(root.rglob("ap_int.h"))
    if not hits:
        raise BuildError(f"no ap_int.h under the hls4ml package at {root}")
    return hits[0].parent


def cache_root() -> Path:
    """Where compiled libraries live: $SBF_CACHE_DIR/csim, else ~/.cache/sbf/csim."""
    base = os.environ.get(CACHE_ENV)
    return (Path(base) if base else Path.home() / ".cache" / "sbf") / "csim"


def _digest(sources: Sequence[Path], include_dirs: Sequence[Path], defines: Sequence[str]) -> str:
    h = hashlib.sha256()
    h.update(" ".join((CXX, *CXXFLAGS, *defines)).encode())
    for src in sources:
        h.update(src.name.encode() + b"\0" + src.read_bytes())
    for d in include_dirs:
        if d == ap_types_dir():
            h.update(str(d).encode())  # a vendored tree: its path names its version
            continue
        for f in sorted(p for p in d.rglob("*") if p.suffix in HEADER_SUFFIXES):
            h.update(str(f.relative_to(d)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:20]


def compile_shared(sources: Sequence[Path], include_dirs: Sequence[Path] = (),
                   defines: Sequence[str] = (), cache_dir: Path | None = None) -> Path:
    """Compile `sources` into a shared library; reuse it when nothing it reads has changed.

    The include path is `include_dirs` (which must hold the kernel library and the
    hls_stream.h model), then hls4ml's ap_types: our own hls_stream.h wins over the one
    hls4ml ships. Safe for concurrent callers: the library is written to a temporary file
    and renamed into place.
    """
    if shutil.which(CXX) is None:
        raise BuildError(f"C simulation needs a C++ compiler: {CXX!r} is not on PATH "
                         f"(apt-get install g++, or set CXX to another compiler)")
    sources = [Path(s) for s in sources]
    incs = [*(Path(d) for d in include_dirs), ap_types_dir()]
    out_dir = (cache_dir or cache_root()) / _digest(sources, incs, defines)
    lib = out_dir / LIB_NAME
    if lib.is_file():
        return lib
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out_dir)
    os.close(fd)
    cmd = [CXX, *CXXFLAGS, *(f"-D{d}" for d in defines), *(f"-I{d}" for d in incs),
           *map(str, sources), "-o", tmp]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        os.unlink(tmp)
        raise BuildError(f"g++ failed ({proc.returncode}) on {', '.join(map(str, sources))}:\n"
                         f"{proc.stderr[-4000:]}")
    os.replace(tmp, lib)
    return lib


def unit_library(name: str, cache_dir: Path | None = None) -> Path:
    """The compiled unit driver `hw/hls/tests/<name>.cpp`, with the generated headers
    (golden constants, image layout) rendered next to it."""
    from hw.render import generated_headers

    src = UNIT_DIR / f"{name}.cpp"
    if not src.is_file():
        raise BuildError(f"no unit driver {src}")
    headers = generated_headers()
    key = hashlib.sha256("".join(headers.values()).encode()).hexdigest()[:20]
    gen = (cache_dir or cache_root()) / f"generated-{key}"
    gen.mkdir(parents=True, exist_ok=True)
    for fname, text in headers.items():
        if not (gen / fname).is_file():
            fd, tmp = tempfile.mkstemp(dir=gen)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, gen / fname)
    return compile_shared([src], [INCLUDE_DIR, gen], cache_dir=cache_dir)
