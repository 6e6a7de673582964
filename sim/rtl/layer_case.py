"""The encoder-layer accelerator (hw/rtl/encoder_layer.sv): its parameters, the model
image it loads, the cases it runs, and their reference.

The image deals every linear's block-rows over the PE groups (`deal_rows`), so each
group's weight memory holds its share of every layer, and packs the streams the layer
loads once per model. The reference is the golden encoder (`sim.golden.encoder`) with
the top-k sparse attention of `sim.golden.sparse_attention`, which the HLS kernel and
the host emulation also match.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from algo.hp import HPMatrix
from hw.config import DesignConfig
from hw.hls.golden_ref import topk_attention
from sim.golden.encoder import encoder
from sim.golden.nonlinear import EXP_MAX_SHIFT, PROB_BITS, SOFTMAX_RECIP_BITS
from sim.golden.params import ACT_BITS, RES_BITS, QEncoderLayer, QLinear, QuantizedModel
from sim.golden.sparse_attention import Q4_MAX, SCORE_BITS
from sim.rtl.cycles import field_bits
from sim.rtl.spmm_case import pack_row_beats, pack_weights
from sim.rtl.vector_case import (
    GeluCase,
    GeluUnitParams,
    LayerNormCase,
    LayerNormUnitParams,
    pack_gelu_params,
    pack_layernorm_params,
)

# The linear operators of a layer, in the descriptor order of encoder_layer.sv (OPS).
OPS = ("qkv", "attn_out", "ffn_in", "ffn_out")
QKV = ("query", "key", "value")
DEST_BITS = 16  # destination code of a block-row (DEST_W)
DESC_BYTES = 12  # rbase u32, wbase u32, nrows u16, phase u8, nphase u8
ATTPRM_BYTES = 18
LANE_BITS = RES_BITS  # PE-group output lanes: int8 (narrow) and RES_BITS results
PERF_KINDS = ("input", "qkv", "attention", "attn_out", "ln1", "ffn_in", "ffn_out", "ln2")


@dataclass(frozen=True)
class LayerParams:
    """The SV parameters of one encoder_layer build."""

    w: int  # BO = BI: elements per buffer word
    m: int
    t: int
    groups: int
    engines: int
    hidden: int
    ffn: int
    heads: int
    max_len: int
    max_k: int
    max_layers: int
    g_max_nbr: int = 0  # 0: sized by `capacity` for dense weights
    g_max_nnzb: int = 0

    def __post_init__(self) -> None:
        d = self.hidden // self.heads
        checks = (
            (self.groups >= 1, f"groups: need at least 1, got {self.groups}"),
            (self.t >= 2, f"tile_tokens: the RTL needs >= 2, got {self.t}"),
            (self.heads % self.engines == 0,
             f"attn_heads_parallel: {self.engines} does not divide heads={self.heads}"),
            (d % self.w == 0, f"bo/bi: {self.w} does not divide head_dim={d}"),
            (self.hidden % self.w == 0 and self.ffn % self.w == 0,
             f"bo/bi: {self.w} does not divide hidden={self.hidden} and ffn={self.ffn}"),
            (2 <= self.max_k <= self.max_len,
             f"attn_k: need 2 <= k <= max_length, got {self.max_k}"),
        )
        for ok, why in checks:
            if not ok:
                raise ValueError(why)

    @classmethod
    def from_config(cls, cfg: DesignConfig, groups: int, layers: int | None = None
                    ) -> LayerParams:
        if cfg.bo != cfg.bi:
            raise ValueError(f"bo/bi: the layer top needs bo == bi (one buffer word is "
                             f"both), got bo={cfg.bo}, bi={cfg.bi}")
        d = cfg.model
        p = cls(w=cfg.bo, m=cfg.m, t=cfg.tile_tokens, groups=groups,
                engines=cfg.attn_heads_parallel, hidden=d.hidden, ffn=d.ffn, heads=d.heads,
                max_len=cfg.max_length, max_k=cfg.attn_k, max_layers=layers or d.layers)
        nbr, nnzb = p.capacity()
        return cls(**{**p.__dict__, "g_max_nbr": nbr, "g_max_nnzb": nnzb})

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def op_shape(self, op: str) -> tuple[int, int]:
        """(block-rows, block columns) of a linear operator."""
        nh, nf = self.hidden // self.w, self.ffn // self.w
        return {"qkv": (3 * nh, nh), "attn_out": (nh, nh), "ffn_in": (nf, nh),
                "ffn_out": (nh, nf)}[op]

    def rows_per_group(self, rows: int) -> int:
        """The most block-rows `deal_rows` gives one group of an operator of `rows`."""
        return math.ceil(rows / self.groups) if rows >= self.groups else 1

    def capacity(self) -> tuple[int, int]:
        """Rows and kept blocks one group stores for `max_layers` layers of dense weights
        (the most any HP pruning of them needs, since `deal_rows` caps rows per group)."""
        rows = blocks = 0
        for op in OPS:
            nbr, nbc = self.op_shape(op)
            rows += self.rows_per_group(nbr)
            blocks += self.rows_per_group(nbr) * nbc
        return max(2, rows * self.max_layers), max(2, blocks * self.max_layers)

    def gelu(self) -> GeluUnitParams:
        return GeluUnitParams(lanes=self.w, channels=self.ffn, max_sets=self.max_layers,
                              user_w=field_bits(self.max_len * self.ffn // self.w),
                              dest_w=DEST_BITS)

    def layernorm(self) -> LayerNormUnitParams:
        return LayerNormUnitParams(lanes=self.w, n=self.hidden, max_sets=2 * self.max_layers)

    def hdl_parameters(self) -> dict[str, int]:
        ln = self.layernorm().hdl_parameters()
        return {"W": self.w, "M": self.m, "T": self.t, "G": self.groups, "A": self.engines,
                "H": self.hidden, "F": self.ffn, "HEADS": self.heads, "MAX_LEN": self.max_len,
                "MAX_K": self.max_k, "MAX_LAYERS": self.max_layers,
                "G_MAX_NBR": self.g_max_nbr, "G_MAX_NNZB": self.g_max_nnzb,
                "DEST_W": DEST_BITS, "RES_BITS": RES_BITS, "Q4_MAX": Q4_MAX,
                "SCORE_BITS": SCORE_BITS, "PROB_BITS": PROB_BITS,
                "RECIP_BITS": SOFTMAX_RECIP_BITS, "EXP_MAX_SHIFT": EXP_MAX_SHIFT,
                "LN_PRM_W": 8 * self.layernorm().prm_bytes,
                "GELU_PRM_W": 8 * self.gelu().prm_bytes,
                "LN_MEAN_MULT": ln["MEAN_MULT"], "LN_MEAN_SHIFT": ln["MEAN_SHIFT"]}

    def key(self) -> str:
        return "_".join(f"{k.lower()}{v}" for k, v in self.hdl_parameters().items()
                        if k in ("W", "M", "T", "G", "A", "H", "F", "MAX_LEN", "MAX_LAYERS"))

    # ---- destination codes of block-rows (encoder_layer.sv: wb_bank, wb_hl, wb_seg) ----
    def qkv_dest(self, row: int) -> int:
        """Where QKV block-row `row` lands: {bank = which * A + engine, local head, segment}."""
        nh, dw = self.hidden // self.w, self.head_dim // self.w
        which, word = divmod(row, nh)
        head, seg = divmod(word, dw)
        local, engine = divmod(head, self.engines)
        sg_w, hl_w = field_bits(dw), field_bits(self.heads // self.engines)
        return ((which * self.engines + engine) << (hl_w + sg_w)) | (local << sg_w) | seg


def deal_rows(work: Sequence[int], groups: int) -> list[tuple[list[int], int, int]]:
    """Deal an operator's block-rows over the groups: per group (rows, phase, nphase).

    With at least as many rows as groups: longest work first to the least-loaded group
    that has fewer than ceil(rows / groups) rows (so the weight memories can be sized
    for dense weights), every group on every token tile. With fewer rows than groups:
    P = groups // rows copies of each row, copy p taking the token tiles k with
    k mod P == p, so that no group idles while tiles last.
    """
    n = len(work)
    if n >= groups:
        cap = math.ceil(n / groups)
        rows: list[list[int]] = [[] for _ in range(groups)]
        load = [0] * groups
        for r in sorted(range(n), key=lambda r: (-work[r], r)):
            g = min((g for g in range(groups) if len(rows[g]) < cap),
                    key=lambda g: (load[g], g))
            rows[g].append(r)
            load[g] += work[r]
        return [(sorted(r), 0, 1) for r in rows]
    copies = groups // n
    return [([g % n], g // n, copies) if g < n * copies else ([], 0, 1)
            for g in range(groups)]


def op_plan(blocks: Sequence[int], groups: int
            ) -> tuple[list[tuple[list[int], int, int]], list[tuple[list[int], int, int]]]:
    """An operator's block-rows (kept blocks of each) dealt over the groups: the rows of
    each group as `deal_rows` gives them, and the same with each row's kept blocks (the
    plan that hp_spmm's cycles follow). An empty row still costs a (null) block."""
    dealt = deal_rows([max(b, 1) for b in blocks], groups)
    return dealt, [([blocks[j] for j in rows], ph, nph) for rows, ph, nph in dealt]


def _rows_of(hp: HPMatrix, rows: Sequence[int]) -> HPMatrix:
    """The block-rows `rows` of `hp`, in that order, as a matrix of their own."""
    counts = np.diff(hp.block_ptr)
    ptr = np.zeros(len(rows) + 1, dtype=hp.block_ptr.dtype)
    np.cumsum(counts[list(rows)], out=ptr[1:])
    keep = np.concatenate([np.arange(hp.block_ptr[r], hp.block_ptr[r + 1]) for r in rows]
                          ) if rows else np.zeros(0, np.int64)
    return HPMatrix(len(rows) * hp.shape.bo, hp.in_features, hp.shape, ptr,
                    hp.block_col[keep], hp.values[keep], hp.idx[keep])


@dataclass
class _OpRows:
    """An operator's block-rows as one matrix: per row its source linear and row."""

    linears: list[QLinear]
    sources: list[tuple[int, int]]  # (linear, block-row of it)
    dests: list[int]


def _op_rows(p: LayerParams, layer: QEncoderLayer, op: str) -> _OpRows:
    if op == "qkv":
        linears = [getattr(layer, n) for n in QKV]
        nh = p.hidden // p.w
        sources = [(i, r) for i in range(3) for r in range(nh)]
        return _OpRows(linears, sources, [p.qkv_dest(j) for j in range(3 * nh)])
    lin = getattr(layer, op)
    n = lin.hp.n_block_rows
    return _OpRows([lin], [(0, r) for r in range(n)], list(range(n)))


def _check_linear(name: str, lin: QLinear, p: LayerParams, bits: int) -> None:
    s = lin.hp.shape
    if (s.bo, s.bi, s.m) != (p.w, p.w, p.m):
        raise ValueError(f"{name}: HP shape {s} does not match the design "
                         f"(bo=bi={p.w}, m={p.m}); prune with the design's shape")
    if lin.out_bits != bits:
        raise ValueError(f"{name}: out_bits {lin.out_bits}, the layer top gives {bits}")


@dataclass
class GroupImage:
    """One group's share of the model, as the bytes of its four load streams."""

    wgt: bytes = b""
    row: bytes = b""
    dest: bytes = b""
    desc: bytes = b""
    rows: int = 0
    blocks: int = 0


@dataclass
class LayerImage:
    """Everything encoder_layer loads once per model."""

    params: LayerParams
    layers: int
    groups: list[GroupImage]
    attprm: bytes
    lnprm: bytes
    geluprm: bytes
    nnz: list[dict[str, int]] = field(default_factory=list)  # per layer: stored weights per op
    # per layer, per op, per group: (kept blocks of each of its rows, phase, nphase)
    plan: list[dict[str, list[tuple[list[int], int, int]]]] = field(default_factory=list)


def build_image(model: QuantizedModel, p: LayerParams, layers: int | None = None) -> LayerImage:
    """Deal and pack `layers` (default all) of `model` for a build with parameters `p`."""
    layers = len(model.layers) if layers is None else layers
    if not 1 <= layers <= min(p.max_layers, len(model.layers)):
        raise ValueError(f"layers: {layers} outside [1, {min(p.max_layers, len(model.layers))}]")
    groups = [GroupImage() for _ in range(p.groups)]
    nnz: list[dict[str, int]] = []
    plan: list[dict[str, list[tuple[list[int], int, int]]]] = []
    att, ln_parts, gelu_parts = [], [], []
    lnp, gelup = p.layernorm(), p.gelu()
    for li, layer in enumerate(model.layers[:layers]):
        nnz.append({})
        plan.append({})
        for name in QKV:
            _check_linear(f"layer.{li}.{name}", getattr(layer, name), p, ACT_BITS)
        for op in OPS[1:]:
            _check_linear(f"layer.{li}.{op}", getattr(layer, op), p, LANE_BITS)
        for op in OPS:
            ops = _op_rows(p, layer, op)
            nnz[li][op] = sum(lin.hp.nnz for lin in ops.linears)
            blocks = [int(np.diff(ops.linears[i].hp.block_ptr)[r]) for i, r in ops.sources]
            dealt, plan[li][op] = op_plan(blocks, p.groups)
            for g, (rows, phase, nphase) in enumerate(dealt):
                img = groups[g]
                img.desc += (img.rows.to_bytes(4, "little") + img.blocks.to_bytes(4, "little")
                             + len(rows).to_bytes(2, "little") + bytes([phase, nphase]))
                for j in rows:
                    i, r = ops.sources[j]
                    lin = ops.linears[i]
                    sub = _rows_of(lin.hp, [r])
                    if sub.nnzb:  # an empty row stores no block (hp_spmm runs a null one)
                        img.wgt += pack_weights(sub)
                    sl = slice(r * p.w, (r + 1) * p.w)
                    img.row += pack_row_beats(sub.block_ptr, lin.bias[sl], lin.mult[sl],
                                              lin.shift[sl], p.w)
                    img.dest += ops.dests[j].to_bytes(DEST_BITS // 8, "little")
                    img.rows += 1
                    img.blocks += sub.nnzb
        a = layer.attention
        att.append(int(a.score.mult).to_bytes(2, "little") + bytes([int(a.score.shift)])
                   + b"".join(int(v).to_bytes(4, "little", signed=True)
                              for v in (a.exp.q_ln2, a.exp.q_b, a.exp.q_c))
                   + int(a.context.mult).to_bytes(2, "little") + bytes([int(a.context.shift)]))
        empty_h = np.zeros((0, p.hidden), np.int64)
        for which, (align, ln) in enumerate(((layer.residual1, layer.ln1),
                                             (layer.residual2, layer.ln2))):
            case = LayerNormCase(f"layer.{li}.ln{which + 1}", empty_h, empty_h, align, ln,
                                 set_index=2 * li + which)
            case.check(lnp)
            ln_parts.append(pack_layernorm_params(case, lnp))
        gcase = GeluCase(f"layer.{li}.gelu", np.zeros((0, p.ffn), np.int64), layer.gelu,
                         layer.gelu_out, set_index=li)
        gcase.check(gelup)
        gelu_parts.append(pack_gelu_params(gcase, gelup))
    for g, img in enumerate(groups):
        if img.rows > p.g_max_nbr or img.blocks > p.g_max_nnzb:
            raise ValueError(f"group {g}: {img.rows} block-rows and {img.blocks} kept blocks "
                             f"exceed the build's {p.g_max_nbr} and {p.g_max_nnzb}")
    return LayerImage(p, layers, groups, b"".join(att), b"".join(ln_parts),
                      b"".join(gelu_parts), nnz, plan)


@dataclass(frozen=True)
class LayerCase:
    """One sequence through `layers` layers: int8 x [L, hidden], k keys per query."""

    name: str
    x: np.ndarray
    k: int
    expected: np.ndarray  # int8 [L, hidden], the golden encoder's output

    @property
    def length(self) -> int:
        return int(self.x.shape[0])


@dataclass
class LayerRun:
    """What one simulation loads (the image) and runs (the cases), pickled for the bench."""

    image: LayerImage
    cases: list[LayerCase]


def make_case(name: str, model: QuantizedModel, x: np.ndarray, k: int, layers: int
              ) -> LayerCase:
    """A case with its golden reference: `layers` layers of `model` on x."""
    x = np.asarray(x, dtype=np.int8)
    sub = QuantizedModel(model.layers[:layers], model.input_scale, model.output_scale)
    want = encoder(x.astype(np.int64), sub, [x.shape[0]], attention=topk_attention(k))
    return LayerCase(name, x, k, want.astype(np.int8))


def op_macs(image: LayerImage, length: int, k: int) -> dict[str, int]:
    """Useful MACs of each operator kind over the image's layers (the keys of
    perf_cycles): stored weights times tokens for the linears; for attention the exact
    part (k keys by head_dim, scores and values, every query and head)."""
    out = dict.fromkeys(PERF_KINDS, 0)
    for per_layer in image.nnz:
        for op, n in per_layer.items():
            out[op] += n * length
    out["attention"] = image.layers * 2 * length * min(k, length) * image.params.hidden
    return out


def op_lanes(p: LayerParams) -> dict[str, int]:
    """MAC lanes of the engines that run each operator kind (0: no MACs): G groups of W
    PEs x M MACs for the linears, A engines of head_dim for attention."""
    lanes = dict.fromkeys(PERF_KINDS, 0)
    for op in OPS:
        lanes[op] = p.groups * p.w * p.m
    lanes["attention"] = p.engines * p.head_dim
    return lanes


def useful_macs(image: LayerImage, length: int, k: int) -> int:
    """MACs the golden model needs: every operator's `op_macs`."""
    return sum(op_macs(image, length, k).values())


def mac_lanes(p: LayerParams) -> int:
    """Multipliers of the build: the groups' and the attention engines'."""
    lanes = op_lanes(p)
    return lanes[OPS[0]] + lanes["attention"]


def layer_cycles_bound(image: LayerImage, length: int) -> int:
    """A generous bound on one run's cycles (the bench's hang timeout scales it): every
    kept block on one group, every head on one engine, the units one word per cycle."""
    p = image.params
    blocks = sum(sum(d.values()) for d in image.nnz) // (p.w * p.m)
    rows = image.layers * sum(p.op_shape(op)[0] for op in OPS)
    attention = image.layers * p.heads * (length + 3 * p.max_k + 200)
    words = image.layers * 8 * (p.hidden + p.ffn) // p.w
    return length * (blocks + rows + attention + words) + 1000
