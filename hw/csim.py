"""`sbf hw csim`: compile a rendered project with g++ and check it against the golden model.

Every engine runs through the project's C ABI (src/sbf_bridge.cpp, loaded with ctypes)
on the golden model's own intermediate tensors of real sentences, so a mismatch names
the engine, the layer and the length where C++ and golden part ways; then each encoder
layer as a whole, and the top kernel on all sequences at once through a schedule table.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from hw.config import DesignConfig
from hw.hls import abi, image
from hw.hls.build import compile_shared
from hw.hls.ffi import c_array, load, ptr
from hw.hls.golden_ref import topk_attention
from sim.golden.encoder import encoder
from sim.golden.params import QuantizedModel

PROJECT_SOURCES = ("src/sbf_top.cpp", "src/sbf_bridge.cpp")
PROJECT_INCLUDES = ("csim", "kernel")
DEFAULT_LENGTHS = (1, 7, 25, 64, 128)
ENGINES = ("hp_linear", "sparse_attention", "gelu", "residual_layernorm", "encoder_layer",
           "top_kernel")
# golden trace tensor feeding / produced by each HP linear
LINEAR_IO = {"query": ("input", "query"), "key": ("input", "key"),
             "value": ("input", "value"), "attn_out": ("context", "attn_out"),
             "ffn_in": ("ln1", "ffn_in"), "ffn_out": ("ffn_mid", "ffn_out")}


class CsimError(RuntimeError):
    """The library refused a call (a status code) or the inputs do not fit the design."""


def build_library(project: Path, cache_dir: Path | None = None) -> Path:
    """The project's csim shared library, compiled once per content hash."""
    return compile_shared([project / s for s in PROJECT_SOURCES],
                          [project / d for d in PROJECT_INCLUDES], cache_dir=cache_dir)


class CsimLibrary:
    """NumPy calls into a project's C ABI; the weight image stays loaded for every call."""

    def __init__(self, lib_path: Path, weights: bytes) -> None:
        self.lib = load(lib_path)
        if self.lib.sbf_abi_version() != abi.ABI_VERSION:
            raise CsimError(f"{lib_path}: ABI version {self.lib.sbf_abi_version()} != "
                            f"{abi.ABI_VERSION}; render the project again")
        words = (ctypes.c_int32 * len(abi.DESCRIBE_FIELDS))()
        self.lib.sbf_describe(words, len(words))
        self.describe = dict(zip(abi.DESCRIBE_FIELDS, list(words), strict=True))
        self.hidden = self.describe["hidden"]
        self.image = np.frombuffer(weights, dtype=np.uint8).copy()

    def _ok(self, code: int, what: str) -> None:
        if code != abi.STATUS_CODES["ok"]:
            raise CsimError(f"{what}: the library returned {abi.status_name(code)}")

    def hp_linear(self, layer: int, name: str, x: np.ndarray) -> np.ndarray:
        xa = c_array(x, np.int8)
        out_f = {"ffn_in": self.describe["ffn"]}.get(name, self.hidden)
        y = np.zeros((xa.shape[0], out_f), np.int32)
        self._ok(self.lib.sbf_hp_linear(ptr(self.image), layer, image.LINEARS.index(name),
                                        ptr(xa), xa.shape[0], ptr(y)), f"hp_linear {name}")
        return y

    def attention(self, layer: int, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                  topk: int) -> np.ndarray:
        qa, ka, va = (c_array(t, np.int8) for t in (q, k, v))
        out = np.zeros_like(qa)
        self._ok(self.lib.sbf_attention(ptr(self.image), layer, ptr(qa), ptr(ka), ptr(va),
                                        qa.shape[0], topk, ptr(out)), "attention")
        return out

    def gelu(self, layer: int, f: np.ndarray) -> np.ndarray:
        fa = c_array(f, np.int32)
        out = np.zeros(fa.shape, np.int8)
        self._ok(self.lib.sbf_gelu(ptr(self.image), layer, ptr(fa), fa.shape[0], ptr(out)),
                 "gelu")
        return out

    def residual_layernorm(self, layer: int, which: int, branch: np.ndarray,
                           skip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b, s = c_array(branch, np.int32), c_array(skip, np.int8)
        res, out = np.zeros_like(b), np.zeros_like(s)
        self._ok(self.lib.sbf_residual_layernorm(ptr(self.image), layer, which, ptr(b), ptr(s),
                                                 b.shape[0], ptr(res), ptr(out)),
                 f"residual_layernorm {which}")
        return res, out

    def encoder_layer(self, layer: int, x: np.ndarray, topk: int) -> np.ndarray:
        xa = c_array(x, np.int8)
        out = np.zeros_like(xa)
        self._ok(self.lib.sbf_encoder_layer(ptr(self.image), layer, ptr(xa), xa.shape[0], topk,
                                            ptr(out)), "encoder_layer")
        return out

    def run(self, x: np.ndarray, schedule: np.ndarray, n_layers: int) -> np.ndarray:
        """The top kernel: packed int8 tokens [N, hidden], schedule [n_seq, SCHEDULE_FIELDS]."""
        xa, sched = c_array(x, np.int8), c_array(schedule, np.int32)
        out = np.zeros_like(xa)
        status = np.zeros(sched.shape[0], np.int32)
        code = self.lib.sbf_run(ptr(sched), sched.shape[0], ptr(xa), ptr(out),
                                ptr(self.image), n_layers, ptr(status))
        self._ok(code, f"top kernel (statuses {status.tolist()})")
        return out


def schedule_table(cfg: DesignConfig, lengths: Sequence[int], topk: int) -> np.ndarray:
    """One entry per sequence: packed token offset, length, its bucket, top-k."""
    rows, offset = [], 0
    for n in lengths:
        bucket = next((i for i, e in enumerate(cfg.bucket_edges) if n <= e), None)
        if bucket is None or n < 1:
            raise CsimError(f"lengths: {n} is outside 1..max_length={cfg.max_length}")
        rows.append([offset, n, bucket, topk])
        offset += n
    return np.asarray(rows, np.int32).reshape(-1, len(abi.SCHEDULE_FIELDS))


@dataclass
class EngineTally:
    """Cases run and cases equal to the golden model, per engine."""

    cases: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENGINES, 0))
    exact: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENGINES, 0))
    first_mismatch: dict[str, str] = field(default_factory=dict)

    def add(self, engine: str, got: np.ndarray, want: np.ndarray, where: str) -> None:
        self.cases[engine] += 1
        got, want = np.asarray(got, np.int64), np.asarray(want, np.int64)
        if got.shape != want.shape:
            self.first_mismatch.setdefault(engine, f"{where}: shape {got.shape} != {want.shape}")
        elif np.array_equal(got, want):
            self.exact[engine] += 1
        else:
            self.first_mismatch.setdefault(
                engine, f"{where}: {int(np.count_nonzero(got != want))} elements differ")

    def report(self) -> list[dict]:
        rows = []
        for e in ENGINES:
            row = {"name": e, "cases": self.cases[e],
                   "bit_exact": self.cases[e] > 0 and self.exact[e] == self.cases[e]}
            if e in self.first_mismatch:
                row["first_mismatch"] = self.first_mismatch[e]
            rows.append(row)
        return rows


def check_library(lib: CsimLibrary, model: QuantizedModel, cfg: DesignConfig,
                  sequences: Sequence[np.ndarray], topk: int,
                  progress: bool = False) -> dict:
    """Every engine of every layer on every sequence, then the top kernel on all at once."""
    tally = EngineTally()
    attn = topk_attention(topk)
    steps = len(sequences) * (len(model.layers) + 1)
    bar = tqdm(total=steps, desc="csim", disable=not progress)
    for x in sequences:
        L = x.shape[0]
        trace: dict = {}
        encoder(x, model, [L], trace=trace, attention=attn)
        for i in range(len(model.layers)):
            t = {k.split(".", 2)[2]: v for k, v in trace.items()
                 if k.startswith(f"layer.{i}.")}
            where = f"layer {i}, L={L}"
            for name, (src, dst) in LINEAR_IO.items():
                tally.add("hp_linear", lib.hp_linear(i, name, t[src]), t[dst], f"{name} {where}")
            tally.add("sparse_attention", lib.attention(i, t["query"], t["key"], t["value"],
                                                        min(topk, L)), t["context"], where)
            tally.add("gelu", lib.gelu(i, t["ffn_in"]), t["ffn_mid"], where)
            for which, (branch, skip, res, out) in enumerate(
                    (("attn_out", "input", "residual1", "ln1"),
                     ("ffn_out", "ln1", "residual2", "output")), start=1):
                r, y = lib.residual_layernorm(i, which, t[branch], t[skip])
                tally.add("residual_layernorm", np.concatenate([r.ravel(), y.ravel()]),
                          np.concatenate([t[res].ravel(), t[out].ravel()]), f"LN{which} {where}")
            tally.add("encoder_layer", lib.encoder_layer(i, t["input"], min(topk, L)),
                      t["output"], where)
            bar.update()
    lengths = [s.shape[0] for s in sequences]
    packed = np.concatenate(sequences)
    want = encoder(packed, model, lengths, attention=attn)
    got = lib.run(packed, schedule_table(cfg, lengths, topk), len(model.layers))
    tally.add("top_kernel", got, want, f"{len(lengths)} sequences, {len(model.layers)} layers")
    bar.update(len(sequences))
    bar.close()
    engines = tally.report()
    return {"engines": engines, "all_bit_exact": all(e["bit_exact"] for e in engines)}


def run_check(project: Path, model: QuantizedModel, cfg: DesignConfig,
              sequences: Sequence[np.ndarray], cache_dir: Path | None = None,
              progress: bool = False) -> dict:
    """Compile (or reuse) the project's library and check it; adds timing and paths."""
    t0 = time.perf_counter()
    lib_path = build_library(project, cache_dir)
    t1 = time.perf_counter()
    lib = CsimLibrary(lib_path, (project / "weights" / "weights.bin").read_bytes())
    result = check_library(lib, model, cfg, sequences, cfg.attn_k, progress)
    t2 = time.perf_counter()
    return {**result, "lengths": [int(s.shape[0]) for s in sequences],
            "layers": len(model.layers), "topk": cfg.attn_k, "library": str(lib_path),
            "seconds_compile": round(t1 - t0, 2), "seconds_check": round(t2 - t1, 2)}
