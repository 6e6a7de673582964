"""`sbf hw render`: a design config plus an integer model -> a self-contained HLS project.

Jinja renders only the glue (config headers, the top kernel, the C ABI bridge, the
cosim testbench, Vitis HLS Tcl, the v++ connectivity file, a Makefile and a README);
the engines are the hand-written headers of hw/hls/include, copied in. Weights go into
one binary image (hw/hls/image.py). Templates are logic-free: every decision (ports,
DDR banks, SLR, constants) is made here. Same inputs, same bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from boards.loader import load_board
from hw import vitis
from hw.config import DesignConfig
from hw.csim import schedule_table
from hw.hls import abi, image
from hw.hls.build import INCLUDE_DIR
from hw.hls.constants import estimate_lut, golden_constants
from hw.hls.golden_ref import topk_attention
from sim.golden.encoder import encoder
from sim.golden.params import QuantizedModel

TEMPLATE_DIR = Path(__file__).parent / "templates"
CSIM_ONLY_HEADERS = ("hls_stream.h",)  # C-simulation models: never on the Vitis path
GENERATED_HEADERS = {"sbf_golden.h": "sbf_golden.h.j2",
                     "sbf_image_layout.h": "sbf_image_layout.h.j2"}
MANIFEST = "manifest.json"
WEIGHTS_PORT = "image"  # the kernel port that reads the weight image
TB_SEED = 0
# The top kernel's on-chip activation buffers hold a group of GROUP_LENGTHS full-length
# sequences (GROUP_TOKENS = GROUP_LENGTHS * max_length tokens); a group has at most
# GROUP_SEQS_MAX sequences (short ones). The trip counts assume a call of at most
# GROUP_SEQS_MAX sequences (the host's batches are smaller: host.accelerator).
GROUP_LENGTHS = 4
GROUP_SEQS_MAX = 64
ACT_LIMIT = 128  # int8 range of the random testbench activations


class RenderError(ValueError):
    """The model and the design disagree; the message names the field."""


def fit_report(cfg: DesignConfig) -> dict[str, Any]:
    """Whether one PE group, the attention engines and the activation buffers of `cfg` fit
    the board, by the `hw.perf` resource model (what `sbf hw estimate` reports): per
    resource what it needs, what is usable (the kernel share times the model's utilisation
    target) and, where it overflows, by how much. Weights that do not fit on chip stream
    from DDR, so they never make a design unfit."""
    from hw.config import ConfigError
    from hw.perf.model import (
        MODEL_NAME,
        UTIL_TARGET,
        build_design,
        hls_parts,
        kernel_share,
        max_groups,
        place,
        resources,
    )

    board = load_board(cfg.board)
    report: dict[str, Any] = {"board": board.name, "model": MODEL_NAME, "figures": "modeled"}
    try:
        used = resources(cfg, 1, hls_parts(cfg, place(cfg, board, {})))
    except ConfigError as e:  # the activation buffers alone overflow the on-chip memory
        return {**report, "fits": False, "overflows": [{"resource": "on-chip memory",
                                                        "detail": str(e)}]}
    share = kernel_share(board)
    rows = {k: {"need": int(used[k]), "usable": int(share[k] * UTIL_TARGET[k]),
                "kernel_share": int(share[k])} for k in used}
    over: list[dict[str, Any]] = [{"resource": k.upper(), **r, "over": r["need"] - r["usable"]}
                                  for k, r in rows.items() if r["need"] > r["usable"]]
    if not over and max_groups(cfg, board, place(cfg, board, {})) < 1:
        # the totals fit, but the model's own check (engines placed per SLR) does not:
        # build_design names why, before it needs any weights
        try:
            build_design(cfg, board, {}, machine="analytical")
            detail = "not even one PE group fits next to the buffers"
        except ConfigError as e:
            detail = str(e)
        over.append({"resource": "floorplan", "detail": detail})
    return {**report, "fits": not over, "resources": rows, "overflows": over}


def fit_refusal(report: dict[str, Any]) -> str:
    """One line saying what overflows and by how much (for a report that does not fit)."""
    parts = [o["detail"] if "detail" in o else
             f"{o['resource']} needs {o['need']} of {o['usable']} usable "
             f"({o['kernel_share']} left to kernels), {o['over']} over"
             for o in report["overflows"]]
    return (f"the design does not fit board {report['board']} ({report['model']}): "
            f"{'; '.join(parts)}; shrink bo/m/attn_heads_parallel in --config, or pass "
            f"--force to render it anyway")


@dataclass(frozen=True)
class RenderResult:
    """The project directory and the sha256 of every file written (path -> digest)."""

    out: Path
    files: dict[str, str]


def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              autoescape=False)


def generated_headers() -> dict[str, str]:
    """The headers rendered from the golden model and the image layout (no config needed)."""
    env = environment()
    ctx = {"constants": golden_constants(), "estimate_lut": estimate_lut(),
           "magic": image.MAGIC, "version": image.IMAGE_VERSION, "align": image.ALIGN,
           "header_words": image.HEADER_WORDS, "layer_words": len(image.layer_word_names()),
           "enums": image.layout_enums()}
    return {name: env.get_template(t).render(ctx) for name, t in GENERATED_HEADERS.items()}


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def memory_plan(cfg: DesignConfig) -> dict[str, Any]:
    """Kernel placement: the SLR with the most DDR banks; weights on its first bank,
    activations, schedule and status on its second (or the same when it has one)."""
    board = load_board(cfg.board)
    banks: dict[int, list[str]] = {}
    for b in board.memory:
        banks.setdefault(b.slr, []).append(b.name)
    slr = max(sorted(banks), key=lambda s: len(banks[s]))
    weights_bank = banks[slr][0]
    data_bank = banks[slr][1] if len(banks[slr]) > 1 else weights_bank
    bank_of = {p: weights_bank if p == WEIGHTS_PORT else data_bank for p in abi.M_AXI_PORTS}
    return {"board": board, "slr": slr, "bank_of": bank_of}


def _check_model(cfg: DesignConfig, model: QuantizedModel) -> None:
    if len(model.layers) != cfg.model.layers:
        raise RenderError(f"model.layers: the config says {cfg.model.layers}, the artifact "
                          f"has {len(model.layers)} encoder layers")


def testbench_vectors(cfg: DesignConfig, model: QuantizedModel) -> dict[str, np.ndarray]:
    """Random int8 inputs of two lengths (one token; one more than a tile) and the golden
    output of the whole stack: what the cosim testbench checks the kernel against."""
    lengths = [1, min(cfg.tile_tokens + 1, cfg.max_length)]
    rng = np.random.default_rng(TB_SEED)
    x = rng.integers(-ACT_LIMIT, ACT_LIMIT, size=(sum(lengths), cfg.model.hidden))
    y = encoder(x, model, lengths, attention=topk_attention(cfg.attn_k))
    sched = schedule_table(cfg, lengths, cfg.attn_k)
    return {"schedule": sched.astype("<i4"), "input": x.astype(np.int8),
            "expected": y.astype(np.int8)}


def _context(cfg: DesignConfig, config_source: str) -> dict[str, Any]:
    plan = memory_plan(cfg)
    platform = plan["board"].platform
    steps = {t: [st.command for st in vitis.plan(platform, t)] for t in vitis.TARGETS}
    m_axi = [(p, f"gmem_{p}") for p in abi.M_AXI_PORTS]  # one bundle per port
    describe = dict(abi_version=abi.ABI_VERSION, bo=cfg.bo, bi=cfg.bi, m=cfg.m,
                    tile_tokens=cfg.tile_tokens, hidden=cfg.model.hidden,
                    heads=cfg.model.heads, ffn=cfg.model.ffn, layers=cfg.model.layers,
                    max_length=cfg.max_length, attn_k=cfg.attn_k,
                    n_buckets=len(cfg.bucket_edges), schedule_words=len(abi.SCHEDULE_FIELDS))
    return {
        "cfg": cfg, "config_source": config_source, "kernel": abi.KERNEL,
        "head_dim": cfg.model.head_dim, "max_in": max(cfg.model.hidden, cfg.model.ffn),
        "bucket_edges": list(cfg.bucket_edges), "abi_version": abi.ABI_VERSION,
        "schedule_fields": abi.SCHEDULE_FIELDS, "status_codes": list(abi.STATUS_CODES.items()),
        "describe": [(n, describe[n]) for n in abi.DESCRIBE_FIELDS],
        "linears": image.LINEARS,
        "linear_bits": [image.LINEAR_OUT_BITS[n] for n in image.LINEARS],
        "s_axilite_ports": abi.SCALAR_PORTS,
        "sp": [(p, plan["bank_of"][p]) for p, _ in m_axi], "slr": plan["slr"],
        "platform": platform, "part": plan["board"].part,
        "clock_period_ns": f"{1000.0 / cfg.clock_mhz:.3f}", "clock_mhz": cfg.clock_mhz,
        "steps": steps, "xo": vitis.XO, "csynth_report": vitis.CSYNTH_REPORT,
        "tb_files": ("weights.bin", "schedule.bin", "input.bin", "expected.bin"),
        "library_headers": _library_headers(),
    }


def _beat_lanes(cfg: DesignConfig) -> int:
    """int8 lanes of the engines' channel word and activation ports (beat<CFG>::LANES)."""
    return min(cfg.bo, cfg.bi)


def _kernel_context(cfg: DesignConfig, image_bytes: int,
                    tb: dict[str, np.ndarray]) -> dict[str, Any]:
    """What the top kernel's pragmas need: m_axi depths (elements of the cosim testbench's
    buffers, the image's 512-bit words), loop trip counts, the on-chip arrays to shape."""
    lanes = _beat_lanes(cfg)
    bpt = cfg.model.hidden // lanes
    group_tokens = GROUP_LENGTHS * cfg.max_length
    group_seqs = min(GROUP_SEQS_MAX, group_tokens)
    n_seq = tb["schedule"].shape[0]
    depth = {"schedule": tb["schedule"].size, "act_in": tb["input"].size // lanes,
             "act_out": tb["expected"].size // lanes, "image": -(-image_bytes // image.ALIGN),
             "status": n_seq}
    channels = [f"{name}.{part}" for name in ("residual1", "residual2", "gelu_out")
                for part in ("mult", "shift")]
    channels += [f"{name}.{part}" for name in ("ln1", "ln2")
                 for part in ("gamma", "beta", "mult", "shift")]
    return {
        "lanes": lanes, "group_tokens": group_tokens, "group_seqs": group_seqs,
        "m_axi_ports": [(p, f"gmem_{p}", depth[p]) for p in abi.M_AXI_PORTS],
        "banks": list(image.LINEARS), "channel_arrays": channels,
        "tripcount": {"groups": GROUP_SEQS_MAX, "group_seqs": group_seqs,
                      "beats_min": bpt, "beats_max": cfg.max_length * bpt,
                      "group_beats": group_tokens * bpt},
    }


def _library_headers() -> list[str]:
    return sorted(p.name for p in INCLUDE_DIR.glob("*.h") if p.name not in CSIM_ONLY_HEADERS)


# rendered file -> template
PROJECT_TEMPLATES = {
    "kernel/sbf_config.h": "sbf_config.h.j2",
    "src/sbf_top.cpp": "sbf_top.cpp.j2",
    "src/sbf_bridge.cpp": "sbf_bridge.cpp.j2",
    "tb/sbf_tb.cpp": "sbf_tb.cpp.j2",
    "vitis/run_hls.tcl": "run_hls.tcl.j2",
    "vitis/link.cfg": "link.cfg.j2",
    "Makefile": "Makefile.j2",
    "README.md": "README.md.j2",
}


def render(cfg: DesignConfig, model: QuantizedModel, out: Path, config_source: str = "",
           source: dict[str, Any] | None = None) -> RenderResult:
    """Write the project for `cfg` and `model` into `out`; returns every file's sha256."""
    _check_model(cfg, model)
    img = image.build_image(model.layers, cfg)
    files: dict[str, bytes] = {}
    env = environment()
    tb = testbench_vectors(cfg, model)
    ctx = {**_context(cfg, config_source), **_kernel_context(cfg, len(img.data), tb)}
    for path, tmpl in PROJECT_TEMPLATES.items():
        files[path] = env.get_template(tmpl).render(ctx).encode()
    for name, text in generated_headers().items():
        files[f"kernel/{name}"] = text.encode()
    for name in _library_headers():
        files[f"kernel/{name}"] = (INCLUDE_DIR / name).read_bytes()
    for name in CSIM_ONLY_HEADERS:
        files[f"csim/{name}"] = (INCLUDE_DIR / name).read_bytes()
    files["weights/weights.bin"] = img.data
    files["weights/layout.json"] = _json({"header": dict(zip(
        image.HEADER_FIELDS, np.frombuffer(img.data[:4 * len(image.HEADER_FIELDS)], "<i4")
        .tolist(), strict=True)), "layers": img.directory})
    for name, arr in tb.items():
        files[f"tb/{name}.bin"] = arr.tobytes()
    digests = {p: hashlib.sha256(b).hexdigest() for p, b in sorted(files.items())}
    files[MANIFEST] = _json({"generator": "sbf hw render", "config": cfg.to_dict(),
                             "config_source": config_source, "source": source or {},
                             "files": digests})
    out.mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        _write_if_changed(out / path, data)
    return RenderResult(out, {p: hashlib.sha256(b).hexdigest() for p, b in files.items()})


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()

