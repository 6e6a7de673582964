"""The weight image: every encoder layer's integer parameters in one binary the kernel reads.

Why one binary and not headers: the host uploads it once to a DDR bank and the same
kernel runs any pruning of the model (nnzb and offsets are data, not constants), and
a 6-layer MiniLM would make multi-megabyte C arrays that compilers choke on.

Layout (little-endian): HEADER_WORDS int32 header, then a directory of LAYER_WORDS int32
words per layer, then segments, each aligned to ALIGN bytes. Per HP linear the directory
holds nnzb and the byte offsets of block_ptr, block_col, blocks, bias, mult, shift; then the scalar
constants of attention and i-GELU; then the offsets of the per-channel int32 arrays of the
residual alignments, the GELU rescale and the LayerNorms.
`blocks` holds one record per kept block, in block-CSR order: the block's Bo*m int8 values
(PE-major: PE p's m values at p*m), then its Bo*m in-block column indices (one byte each),
zero-padded to `record_bytes`: a power of two up to one 64-byte memory word, whole words
beyond. Why: the kernel reads the image through a 512-bit m_axi port in bursts, and a
record is what one PE group consumes per step (all Bo PE banks of one kept block), so a
block never straddles a word unless it is wider than one.
The C++ reader (`weight_image.h`) takes the word indices from the rendered
`sbf_image_layout.h`, which is generated from the lists below: one definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hw.config import DesignConfig
from sim.golden.params import (
    ACT_BITS,
    GELU_IN_BITS,
    RES_BITS,
    SCORE_BITS,
    QEncoderLayer,
    QLinear,
)

MAGIC = 0x57464253  # "SBFW" read as a little-endian int32
IMAGE_VERSION = 2
ALIGN = 64  # bytes of one m_axi word (ap_uint<512>): every segment starts on a word
HEADER_FIELDS = ("magic", "version", "layers", "layer_words", "hidden", "heads", "ffn",
                 "bo", "bi", "m", "bytes")
HEADER_WORDS = 16
LINEARS = ("query", "key", "value", "attn_out", "ffn_in", "ffn_out")
LINEAR_FIELDS = ("nnzb", "block_ptr", "block_col", "blocks", "bias", "mult", "shift")
# Per-layer constants: one int32 word each.
SCALAR_FIELDS = (
    "score_mult", "score_shift", "exp_q_ln2", "exp_q_b", "exp_q_c",
    "context_mult", "context_shift", "gelu_q_b", "gelu_q_one", "gelu_shift",
)
# Per-channel constants: the byte offset of an int32 array, one entry per channel (a
# per-tensor value is repeated), so the engines index them the same way either way.
CHANNEL_FIELDS = (
    "residual1_mult", "residual1_shift", "ln1_gamma", "ln1_beta", "ln1_mult", "ln1_shift",
    "gelu_out_mult", "gelu_out_shift", "residual2_mult", "residual2_shift",
    "ln2_gamma", "ln2_beta", "ln2_mult", "ln2_shift",
)
# The output width each engine is built for; a layer quantized otherwise is rejected.
LINEAR_OUT_BITS = {"query": ACT_BITS, "key": ACT_BITS, "value": ACT_BITS,
                   "attn_out": RES_BITS, "ffn_in": GELU_IN_BITS, "ffn_out": RES_BITS}
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT8_MIN, INT8_MAX = -(1 << 7), (1 << 7) - 1


class ImageError(ValueError):
    """Parameters that the engines cannot run; the message names the layer and field."""


def record_bytes(bo: int, m: int) -> int:
    """Bytes of one kept block's record (values then indices, zero-padded): the next power
    of two up to ALIGN, else a whole number of ALIGN-byte words."""
    need = 2 * bo * m
    if need >= ALIGN:
        return -(-need // ALIGN) * ALIGN
    size = 1
    while size < need:
        size *= 2
    return size


def block_records(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """[nnzb, record_bytes] uint8: each kept block's values (PE-major) and indices."""
    nnzb, bo, m = values.shape
    rec = np.zeros((nnzb, record_bytes(bo, m)), np.uint8)
    rec[:, :bo * m] = np.asarray(values, np.int8).reshape(nnzb, bo * m).view(np.uint8)
    rec[:, bo * m:2 * bo * m] = np.asarray(idx, np.uint8).reshape(nnzb, bo * m)
    return rec


def layer_word_names() -> list[str]:
    """Directory words of one layer, in order: `<linear>_<field>`, then the scalars."""
    return ([f"{lin}_{f}" for lin in LINEARS for f in LINEAR_FIELDS] + list(SCALAR_FIELDS)
            + list(CHANNEL_FIELDS))


def layout_enums() -> dict[str, list[tuple[str, int]]]:
    """The word indices the C++ reader uses, as (C name, index) lists for the template."""
    return {
        "header": [(f"H_{n.upper()}", i) for i, n in enumerate(HEADER_FIELDS)],
        "linear_fields": [(f"LF_{n.upper()}", i) for i, n in enumerate(LINEAR_FIELDS)],
        "layer": _layer_enum(),
    }


def _layer_enum() -> list[tuple[str, int]]:
    """W_<LINEAR> is the first word of that linear's fields, W_<NAME> any other word."""
    out = [(f"W_{lin.upper()}", i * len(LINEAR_FIELDS)) for i, lin in enumerate(LINEARS)]
    base = len(LINEARS) * len(LINEAR_FIELDS)
    out += [(f"W_{n.upper()}", base + i) for i, n in enumerate((*SCALAR_FIELDS,
                                                               *CHANNEL_FIELDS))]
    return out


@dataclass(frozen=True)
class WeightImage:
    """The bytes and, per layer, the directory words by name (for docs and the host)."""

    data: bytes
    directory: list[dict[str, int]]


class _Writer:
    def __init__(self, start: int) -> None:
        self.chunks: list[bytes] = []
        self.size = start

    def add(self, a: np.ndarray, dtype: type) -> int:
        arr = np.ascontiguousarray(a, dtype=dtype)
        pad = -self.size % ALIGN
        self.chunks.append(b"\0" * pad)
        self.size += pad
        off = self.size
        self.chunks.append(arr.tobytes())
        self.size += arr.nbytes
        return off


def _check_int32(where: str, v: int) -> int:
    v = int(v)
    if not INT32_MIN <= v <= INT32_MAX:
        raise ImageError(f"{where}: {v} does not fit an int32 directory word")
    return v


def _check_bits(where: str, got: int, want: int) -> None:
    if got != want:
        raise ImageError(f"{where}: the engine is built for {want} bits, the layer has {got}")


def _linear_words(w: _Writer, name: str, q: QLinear, cfg: DesignConfig, out_f: int,
                  in_f: int) -> dict[str, int]:
    hp = q.hp
    s = hp.shape
    if (s.bo, s.bi, s.m) != (cfg.bo, cfg.bi, cfg.m):
        raise ImageError(f"{name}: HP block ({s.bo}, {s.bi}, m={s.m}) != config "
                         f"(bo={cfg.bo}, bi={cfg.bi}, m={cfg.m})")
    if (hp.out_features, hp.in_features) != (out_f, in_f):
        raise ImageError(f"{name}: shape ({hp.out_features}, {hp.in_features}) != model "
                         f"({out_f}, {in_f})")
    for part, arr in (("values", hp.values), ("bias", q.bias), ("mult", q.mult),
                      ("shift", q.shift)):
        if not np.issubdtype(np.asarray(arr).dtype, np.integer):
            raise ImageError(f"{name}.{part}: must be integers (a quantized artifact), "
                             f"got {np.asarray(arr).dtype}")
    if hp.values.size and (hp.values.min() < INT8_MIN or hp.values.max() > INT8_MAX):
        raise ImageError(f"{name}.values: must lie in the int8 range")
    rows = hp.out_features
    return {
        "nnzb": hp.nnzb,
        "block_ptr": w.add(hp.block_ptr, np.int32),
        "block_col": w.add(hp.block_col, np.int32),
        "blocks": w.add(block_records(hp.values, hp.idx), np.uint8),
        "bias": w.add(_int32_array(f"{name}.bias", q.bias, rows), np.int32),
        "mult": w.add(_int32_array(f"{name}.mult", q.mult, rows), np.int32),
        "shift": w.add(_int32_array(f"{name}.shift", q.shift, rows), np.int32),
    }


def _int32_array(where: str, a: np.ndarray | int, n: int) -> np.ndarray:
    """`a` as n int32 channels (a per-tensor scalar is repeated)."""
    a = np.asarray(a, dtype=np.int64)
    if a.ndim > 1 or (a.ndim == 1 and a.shape[0] != n):
        raise ImageError(f"{where}: expected a scalar or {n} channels, got shape {a.shape}")
    a = np.broadcast_to(a, (n,))
    if a.size and (a.min() < INT32_MIN or a.max() > INT32_MAX):
        raise ImageError(f"{where}: values outside int32")
    return a


def _layer_words(w: _Writer, i: int, layer: QEncoderLayer, cfg: DesignConfig) -> list[int]:
    h, f = cfg.model.hidden, cfg.model.ffn
    shapes = {"query": (h, h), "key": (h, h), "value": (h, h), "attn_out": (h, h),
              "ffn_in": (f, h), "ffn_out": (h, f)}
    words: dict[str, int] = {}
    for lin in LINEARS:
        q: QLinear = getattr(layer, lin)
        _check_bits(f"layer {i} {lin}.out_bits", q.out_bits, LINEAR_OUT_BITS[lin])
        for k, v in _linear_words(w, f"layer {i} {lin}", q, cfg, *shapes[lin]).items():
            words[f"{lin}_{k}"] = v
    a = layer.attention
    if a.heads != cfg.model.heads:
        raise ImageError(f"layer {i} attention.heads: {a.heads} != model.heads "
                         f"{cfg.model.heads}")
    _check_bits(f"layer {i} attention.score.bits", a.score.bits, SCORE_BITS)
    _check_bits(f"layer {i} attention.context.bits", a.context.bits, ACT_BITS)
    for name, r in (("score", a.score), ("context", a.context)):
        if np.ndim(r.mult) or np.ndim(r.shift):
            raise ImageError(f"layer {i} attention.{name}: the engine takes one per-tensor "
                             f"(mult, shift), got per-channel arrays")
    words.update(score_mult=a.score.mult, score_shift=a.score.shift, exp_q_ln2=a.exp.q_ln2,
                 exp_q_b=a.exp.q_b, exp_q_c=a.exp.q_c, context_mult=a.context.mult,
                 context_shift=a.context.shift, gelu_q_b=layer.gelu.q_b,
                 gelu_q_one=layer.gelu.q_one, gelu_shift=layer.gelu.shift)
    for name, r, bits, n in (("residual1", layer.residual1, RES_BITS, h),
                             ("gelu_out", layer.gelu_out, ACT_BITS, f),
                             ("residual2", layer.residual2, RES_BITS, h)):
        _check_bits(f"layer {i} {name}.bits", r.bits, bits)
        for part in ("mult", "shift"):
            words[f"{name}_{part}"] = w.add(
                _int32_array(f"layer {i} {name}.{part}", getattr(r, part), n), np.int32)
    for name in ("ln1", "ln2"):
        ln = getattr(layer, name)
        _check_bits(f"layer {i} {name}.out_bits", ln.out_bits, ACT_BITS)
        for part in ("gamma", "beta", "mult", "shift"):
            words[f"{name}_{part}"] = w.add(
                _int32_array(f"layer {i} {name}.{part}", getattr(ln, part), h), np.int32)
    return [_check_int32(f"layer {i} {n}", words[n]) for n in layer_word_names()]


def build_image(layers: Sequence[QEncoderLayer], cfg: DesignConfig) -> WeightImage:
    """The image of `layers` for the engines of `cfg`; deterministic bytes."""
    if not layers:
        raise ImageError("layers: the model has no encoder layers")
    names = layer_word_names()
    dir_bytes = 4 * (HEADER_WORDS + len(layers) * len(names))
    w = _Writer(dir_bytes)
    directory = [_layer_words(w, i, layer, cfg) for i, layer in enumerate(layers)]
    total = w.size + (-w.size % ALIGN)
    d = cfg.model
    header = dict(magic=MAGIC, version=IMAGE_VERSION, layers=len(layers),
                  layer_words=len(names), hidden=d.hidden, heads=d.heads, ffn=d.ffn,
                  bo=cfg.bo, bi=cfg.bi, m=cfg.m, bytes=_check_int32("image size", total))
    head = np.zeros(HEADER_WORDS, np.int64)
    head[:len(HEADER_FIELDS)] = [header[n] for n in HEADER_FIELDS]
    words = np.concatenate([head, np.asarray(directory, np.int64).ravel()])
    data = b"".join([words.astype("<i4").tobytes(), *w.chunks])
    data += b"\0" * (total - len(data))
    return WeightImage(data, [dict(zip(names, ws, strict=True)) for ws in directory])
