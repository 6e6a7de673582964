"""The encoder layer as operators, their weights, and what each costs on g PE groups.

One place for W(v, s, g): the scheduler, the whole-model estimate and the design-space
exploration all ask `CostModel`. HP weights come from an artifact or, without one, from a
uniform-density skeleton with the same block-CSR structure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from algo.hp.artifact import Artifact
from algo.hp.format import HPMatrix
from algo.hp.mask import HPShape, choose_m, split_density
from algo.hp.model import LAYER_LINEARS
from hw.config import DesignConfig
from hw.perf.engines import (
    AttentionEngine,
    GeluEngine,
    LayerNormEngine,
    SpmmEngine,
)

LINEAR, ATTENTION, LAYERNORM = "linear", "attention", "layernorm"
(Q_W, K_W, V_W, ATTN_OUT_W, FFN1_W, FFN2_W) = LAYER_LINEARS


@dataclass(frozen=True)
class Op:
    """One operator of an encoder layer; `deps` name operators of the same layer."""

    name: str
    kind: str
    deps: tuple[str, ...]
    weight: str | None = None  # the linear's name relative to `layer.<i>.`
    gelu: bool = False  # i-GELU fused on the output stream


ENCODER_OPS: tuple[Op, ...] = (
    Op("q", LINEAR, (), Q_W),
    Op("k", LINEAR, (), K_W),
    Op("v", LINEAR, (), V_W),
    Op("attn", ATTENTION, ("q", "k", "v")),
    Op("attn_out", LINEAR, ("attn",), ATTN_OUT_W),
    Op("ln1", LAYERNORM, ("attn_out",)),
    Op("ffn1", LINEAR, ("ln1",), FFN1_W, gelu=True),
    Op("ffn2", LINEAR, ("ffn1",), FFN2_W),
    Op("ln2", LAYERNORM, ("ffn2",)),
)
OPS_BY_NAME = {op.name: op for op in ENCODER_OPS}


def linear_name(layer: int, op: Op) -> str:
    """The artifact / `encoder_linears` name of an operator's weight."""
    return f"layer.{layer}.{op.weight}"


def linear_shapes(cfg: DesignConfig) -> dict[str, tuple[int, int]]:
    """(out, in) of every per-layer linear for the config's model dims."""
    h, f = cfg.model.hidden, cfg.model.ffn
    return {Q_W: (h, h), K_W: (h, h), V_W: (h, h), ATTN_OUT_W: (h, h), FFN1_W: (f, h),
            FFN2_W: (h, f)}


def uniform_layer(out_f: int, in_f: int, shape: HPShape, density: float) -> HPMatrix:
    """A block-CSR skeleton at `density`: kept blocks spread evenly over the block-rows.

    Only the structure is real (block_ptr, block_col); values and indices are zero-size
    broadcasts, which is all the cost model and `storage_bytes` read.
    """
    rows, cols = out_f // shape.bo, in_f // shape.bi
    total = max(rows, round(split_density(density, shape) * rows * cols))
    per_row = np.full(rows, total // rows, dtype=np.int64)
    per_row[: total % rows] += 1
    ptr = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int32)
    col = np.concatenate([np.arange(n) for n in per_row]).astype(np.int32)
    zeros = np.broadcast_to(np.zeros((), np.int8), (int(total), shape.bo, shape.m))
    return HPMatrix(out_f, in_f, shape, ptr, col, zeros, zeros.view(np.uint8))


def with_density(cfg: DesignConfig, density: float) -> DesignConfig:
    """The config with m raised, if it must be, to the m that pruning picks for `density`.

    HP density is at most m / bi (every block kept); a denser variant needs a larger m.
    """
    m = max(cfg.m, choose_m(density, cfg.bi))
    return cfg if m == cfg.m else cfg.replace(m=m)


def uniform_weights(cfg: DesignConfig, density: float) -> dict[str, HPMatrix]:
    """Every encoder linear at one density, in the config's HP shape."""
    shape = HPShape(cfg.bo, cfg.bi, cfg.m)
    per_kind = {w: uniform_layer(o, i, shape, density) for w, (o, i) in linear_shapes(cfg).items()}
    return {f"layer.{layer}.{w}": hp for layer in range(cfg.model.layers)
            for w, hp in per_kind.items()}


def artifact_weights(art: Artifact, cfg: DesignConfig) -> dict[str, HPMatrix]:
    """The artifact's HP layers, checked against the config's shape and model dims."""
    shapes = linear_shapes(cfg)
    weights = {}
    for layer in range(cfg.model.layers):
        for w, (o, i) in shapes.items():
            name = f"layer.{layer}.{w}"
            hp = art.hp_layers.get(name)
            if hp is None:
                raise ValueError(f"artifact: no HP layer {name!r} (config has "
                                 f"{cfg.model.layers} layers)")
            if (hp.out_features, hp.in_features) != (o, i):
                raise ValueError(f"artifact: {name} is {hp.out_features}x{hp.in_features}, "
                                 f"config model dims need {o}x{i}")
            if (hp.shape.bo, hp.shape.bi, hp.shape.m) != (cfg.bo, cfg.bi, cfg.m):
                raise ValueError(f"artifact: {name} has HP shape {hp.shape}, config has "
                                 f"bo={cfg.bo} bi={cfg.bi} m={cfg.m}")
            weights[name] = hp
    return weights


@dataclass(frozen=True)
class OffChip:
    """Weights streamed from DDR: a stage with g of G groups gets g/G of the bandwidth."""

    bytes_per_cycle: float
    total_groups: int


class CostModel:
    """W(v, s, g): cycles of operators of one layer at length s on g PE groups.

    Attention runs on the design's attn_heads_parallel attention engines whatever g is.
    """

    def __init__(self, cfg: DesignConfig, weights: dict[str, HPMatrix],
                 offchip: OffChip | None = None) -> None:
        self.cfg, self.weights, self.offchip = cfg, weights, offchip
        self._attn, self._ln, self._gelu = AttentionEngine(cfg), LayerNormEngine(cfg), \
            GeluEngine(cfg)
        self._spmm: dict[tuple[int, str], SpmmEngine] = {}
        signatures: dict[bytes, int] = {}
        self._layer_key = []  # layers with identical sparsity share cache entries
        for layer in range(cfg.model.layers):
            sig = b"".join(np.asarray(weights[f"layer.{layer}.{w}"].block_ptr).tobytes()
                           for w in LAYER_LINEARS)
            self._layer_key.append(signatures.setdefault(sig, layer))
        self._cache: dict[tuple, int] = {}

    def spmm(self, layer: int, op: Op) -> SpmmEngine:
        key = (layer, op.name)
        if key not in self._spmm:
            hp = self.weights[linear_name(layer, op)]
            self._spmm[key] = SpmmEngine(self.cfg, tuple(int(n) for n in np.diff(hp.block_ptr)),
                                         hp.in_features)
        return self._spmm[key]

    def op_cycles(self, op: Op, layer: int, length: int, groups: int) -> int:
        return self.stage_cycles((op,), layer, length, groups)

    def stage_cycles(self, ops: Sequence[Op], layer: int, length: int, groups: int) -> int:
        """Cycles of `ops` run one after another on `groups` groups.

        Linear operators that share their inputs (Q, K, V) are pooled: their block-rows
        are dealt out together, as one fused weight's would be.
        """
        key = (tuple(op.name for op in ops), self._layer_key[layer], length, groups)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        total, i = 0, 0
        while i < len(ops):
            op = ops[i]
            if op.kind == LINEAR:
                j = i + 1
                while j < len(ops) and ops[j].kind == LINEAR and ops[j].deps == op.deps:
                    j += 1
                engines = [self.spmm(layer, o) for o in ops[i:j]]
                pooled = SpmmEngine(self.cfg, sum((e.row_nnzb for e in engines), ()),
                                    engines[0].in_features)
                total += pooled.cycles(length, groups)
                total += sum(self._gelu.cycles(length) for o in ops[i:j] if o.gelu)
                i = j
                continue
            if op.kind == ATTENTION:  # on the design's attention engines, not the groups
                total += self._attn.cycles(length)
            else:
                total += self._ln.cycles(length, groups)
            i += 1
        total = max(total, self._ddr_cycles(ops, layer, groups))
        self._cache[key] = total
        return total

    def _ddr_cycles(self, ops: Sequence[Op], layer: int, groups: int) -> int:
        if self.offchip is None:
            return 0
        nbytes = sum(self.weights[linear_name(layer, op)].storage_bytes()
                     for op in ops if op.kind == LINEAR)
        if not nbytes:
            return 0
        share = self.offchip.bytes_per_cycle * groups / self.offchip.total_groups
        return math.ceil(nbytes / share)

    def op_macs(self, op: Op, layer: int, length: int) -> int:
        if op.kind == LINEAR:
            return self.spmm(layer, op).macs(length)
        if op.kind == ATTENTION:
            return self._attn.macs(length)
        return 0

    def layer_cycles(self, layer: int, length: int, groups: int) -> int:
        """One layer with every group on one sequence, operators in dataflow order."""
        return self.stage_cycles(ENCODER_OPS, layer, length, groups)

    def sequence_cycles(self, length: int, groups: int) -> int:
        return sum(self.layer_cycles(layer, length, groups)
                   for layer in range(self.cfg.model.layers))

    def sequence_macs(self, length: int) -> int:
        return sum(self.op_macs(op, layer, length) for layer in range(self.cfg.model.layers)
                   for op in ENCODER_OPS)
