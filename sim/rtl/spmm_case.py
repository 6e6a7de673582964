"""Test cases for the HP sparse matmul engine: generation, stream packing and the reference.

A case is one int8 HP layer with per-row bias and requantization, and one sequence of L
int8 activation rows. The byte layouts below are those documented at the top of
hw/rtl/hp_spmm.sv; the reference is the golden model's `hp_linear`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from algo.hp import HPMatrix, HPShape, encode, hp_mask, split_density
from hw.config import DesignConfig
from sim.golden.linear import hp_linear
from sim.golden.requant import ACC_MAX, MULT_MAX, MULT_MIN, quantize_multipliers

INT8_MAX = 127
COL_BYTES = 2  # block column / kept-block count fields of the beats
BIAS_BYTES = 4
MULT_BYTES = 2
SHIFT_BYTES = 1
RANDOM_SHIFT_MIN = 10  # random cases: shifts that keep most outputs inside int8
RANDOM_SHIFT_MAX = 22
RANDOM_BIAS = 1 << 12


@dataclass(frozen=True)
class SpmmParams:
    """The SV parameters of one hp_spmm build (memory sizes bound the layers it takes)."""

    bo: int
    bi: int
    m: int
    t: int
    max_nbr: int
    max_nbc: int
    max_nnzb: int
    max_len: int

    def __post_init__(self) -> None:
        for name in ("bi", "t", "max_nbr", "max_nbc", "max_nnzb"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name}: the RTL needs >= 2, got {getattr(self, name)}")
        if self.m > self.bi:
            raise ValueError(f"m: {self.m} cannot exceed bi={self.bi}")

    @classmethod
    def from_config(cls, cfg: DesignConfig) -> SpmmParams:
        """Sized for every linear layer of the config's encoder (hidden x ffn at most)."""
        d = cfg.model
        widest = max(d.hidden, d.ffn)
        return cls(bo=cfg.bo, bi=cfg.bi, m=cfg.m, t=cfg.tile_tokens,
                   max_nbr=widest // cfg.bo, max_nbc=widest // cfg.bi,
                   max_nnzb=(d.ffn // cfg.bo) * (d.hidden // cfg.bi), max_len=cfg.max_length)

    @property
    def shape(self) -> HPShape:
        return HPShape(self.bo, self.bi, self.m)

    def hdl_parameters(self) -> dict[str, int]:
        return {"BO": self.bo, "BI": self.bi, "M": self.m, "T": self.t,
                "MAX_NBR": self.max_nbr, "MAX_NBC": self.max_nbc,
                "MAX_NNZB": self.max_nnzb, "MAX_LEN": self.max_len}

    def key(self) -> str:
        """A directory name for this parameter set's build."""
        return "_".join(f"{k.lower()}{v}" for k, v in self.hdl_parameters().items())

    def check_case(self, case: SpmmCase) -> None:
        """Raise ValueError naming what of `case` does not fit this build."""
        hp = case.hp
        if (hp.shape.bo, hp.shape.bi, hp.shape.m) != (self.bo, self.bi, self.m):
            raise ValueError(f"case {case.name}: block shape {hp.shape} != engine "
                             f"(bo={self.bo}, bi={self.bi}, m={self.m})")
        for what, have, cap in (("block-rows", hp.n_block_rows, self.max_nbr),
                                ("block columns", hp.n_block_cols, self.max_nbc),
                                ("kept blocks", hp.nnzb, self.max_nnzb),
                                ("length", case.length, self.max_len)):
            if have > cap:
                raise ValueError(f"case {case.name}: {what} {have} exceed the engine's {cap}")


@dataclass(frozen=True)
class SpmmCase:
    """One layer and one sequence: y = requant(W x + bias) per token."""

    name: str
    hp: HPMatrix  # int8 values
    bias: np.ndarray  # int32 [out]
    mult: np.ndarray  # [out], 15-bit
    shift: np.ndarray  # [out], in [SHIFT_MIN, SHIFT_MAX]
    x: np.ndarray  # int8 [L, in]

    @property
    def length(self) -> int:
        return int(self.x.shape[0])

    @property
    def macs(self) -> int:
        """Useful multiply-accumulates: every stored weight times every token."""
        return self.hp.nnz * self.length

    def nnzb_per_blockrow(self) -> list[int]:
        return np.diff(self.hp.block_ptr).astype(int).tolist()

    def reference(self) -> np.ndarray:
        """The golden model's output, int8 [L, out]."""
        return hp_linear(self.x, self.hp, self.bias, self.mult, self.shift).astype(np.int8)


def pack_weights(hp: HPMatrix) -> bytes:
    """s_axis_wgt: per kept block, its column, then Bo*m values, then Bo*m indices."""
    nnzb = hp.nnzb
    cols = hp.block_col.astype("<u2").view(np.uint8).reshape(nnzb, COL_BYTES)
    vals = hp.values.astype(np.int8).view(np.uint8).reshape(nnzb, -1)
    idx = hp.idx.astype(np.uint8).reshape(nnzb, -1)
    return np.concatenate([cols, vals, idx], axis=1).tobytes()


def pack_rows(case: SpmmCase) -> bytes:
    """s_axis_row: per block-row, its kept-block count, then Bo biases, mults and shifts."""
    return pack_row_beats(case.hp.block_ptr, case.bias, case.mult, case.shift,
                          case.hp.shape.bo)


def pack_row_beats(block_ptr: np.ndarray, bias: np.ndarray, mult: np.ndarray,
                   shift: np.ndarray, bo: int) -> bytes:
    """The s_axis_row beats of the block-rows that `block_ptr` delimits."""
    nbr = len(block_ptr) - 1
    count = np.diff(block_ptr).astype("<u2").view(np.uint8).reshape(nbr, COL_BYTES)
    bias = np.asarray(bias).astype("<i4").view(np.uint8).reshape(nbr, bo * BIAS_BYTES)
    mult = np.asarray(mult).astype("<u2").view(np.uint8).reshape(nbr, bo * MULT_BYTES)
    shift = np.asarray(shift).astype(np.uint8).reshape(nbr, bo * SHIFT_BYTES)
    return np.concatenate([count, bias, mult, shift], axis=1).tobytes()


def unpack_output(data: bytes, length: int, out_features: int, bo: int, t: int) -> np.ndarray:
    """m_axis_out bytes, ordered (tile, block-row, token), back to y int8 [L, out]."""
    flat = np.frombuffer(data, dtype=np.int8)
    if flat.size != length * out_features:
        raise ValueError(f"output has {flat.size} bytes, expected {length}x{out_features}")
    y = np.empty((length, out_features), dtype=np.int8)
    pos = 0
    for base in range(0, length, t):
        tc = min(t, length - base)
        n = tc * out_features
        tile = flat[pos:pos + n].reshape(out_features // bo, tc, bo)  # [block-row, token, PE]
        y[base:base + tc] = tile.transpose(1, 0, 2).reshape(tc, out_features)
        pos += n
    return y


def hp_mask_at(weight: np.ndarray, density: float, shape: HPShape) -> np.ndarray:
    """The HP mask of `weight` at `density` (block keep ratio from `split_density`)."""
    return hp_mask(weight, shape, split_density(density, shape))


def random_case(name: str, params: SpmmParams, out_features: int, in_features: int,
                length: int, density: float, rng: np.random.Generator,
                zero_blockrows: tuple[int, ...] = ()) -> SpmmCase:
    """Random int8 weights and activations; `zero_blockrows` lose all their blocks."""
    shape = params.shape
    w = rng.integers(-INT8_MAX, INT8_MAX + 1, size=(out_features, in_features)).astype(np.int8)
    hp = encode(w, hp_mask_at(w, density, shape), shape)
    if zero_blockrows:
        hp = drop_blockrows(hp, zero_blockrows)
    bias = rng.integers(-RANDOM_BIAS, RANDOM_BIAS, size=out_features).astype(np.int32)
    mult = rng.integers(MULT_MIN, MULT_MAX + 1, size=out_features)
    shift = rng.integers(RANDOM_SHIFT_MIN, RANDOM_SHIFT_MAX + 1, size=out_features)
    x = rng.integers(-INT8_MAX - 1, INT8_MAX + 1, size=(length, in_features)).astype(np.int8)
    return SpmmCase(name, hp, bias, mult, shift, x)


def drop_blockrows(hp: HPMatrix, rows: tuple[int, ...]) -> HPMatrix:
    """The same layer with every kept block of the given block-rows removed."""
    keep = ~np.isin(hp.block_rows(), rows)
    counts = np.diff(hp.block_ptr).copy()
    counts[list(rows)] = 0
    ptr = np.zeros_like(hp.block_ptr)
    np.cumsum(counts, out=ptr[1:])
    return HPMatrix(hp.out_features, hp.in_features, hp.shape, ptr, hp.block_col[keep],
                    hp.values[keep], hp.idx[keep])


def quantize_layer(name: str, weight: np.ndarray, bias: np.ndarray, x: np.ndarray,
                   density: float, shape: HPShape) -> SpmmCase:
    """A float layer and float activations as the accelerator takes them.

    Weights int8 per output row, activations int8 per tensor, bias int32 at the
    accumulator's scale, and per-row (M, S) mapping the accumulator to an output scale
    that covers the float output's range.
    """
    mask = hp_mask_at(weight, density, shape)
    dense = np.where(mask, weight, 0.0)
    w_scale = np.abs(dense).max(axis=1) / INT8_MAX
    w_scale[w_scale == 0] = 1.0
    wq = np.clip(np.round(dense / w_scale[:, None]), -INT8_MAX, INT8_MAX).astype(np.int8)
    x_scale = float(np.abs(x).max()) / INT8_MAX or 1.0
    xq = np.clip(np.round(x / x_scale), -INT8_MAX, INT8_MAX).astype(np.int8)
    acc_scale = x_scale * w_scale
    bias_q = np.round(bias / acc_scale)
    y_scale = float(np.abs(x @ dense.T + bias).max()) / INT8_MAX or 1.0
    mult, shift = quantize_multipliers(acc_scale / y_scale)
    hp = encode(wq, mask, shape)
    bias_q = np.clip(bias_q, -ACC_MAX, ACC_MAX).astype(np.int32)
    return SpmmCase(name, hp, bias_q, mult, shift, xq)


RANDOM_BLOCKS = 4  # random cases: block-rows and block columns of their layers


def suite(params: SpmmParams, lengths: Sequence[int], density: float, seed: int,
          real: bool = True) -> list[SpmmCase]:
    """The standard cases: MiniLM layers at every length (the FFN ones at the shortest),
    and random layers with empty block-rows at the longest length, one all-empty at L=1.

    `real=False` leaves out the MiniLM cases (whose layers need a MiniLM-sized engine).
    """
    from sim.rtl.minilm import layer_case

    rng = np.random.default_rng(seed)
    lengths = sorted(set(lengths))
    if not lengths or lengths[0] < 1 or lengths[-1] > params.max_len:
        raise ValueError(f"lengths: {lengths} must lie in [1, {params.max_len}]")
    cases = []
    if real:
        cases += [layer_case("layer.0.attention.self.query", n, density, params.shape, seed)
                  for n in lengths]
        cases += [layer_case(f"layer.0.{name}", lengths[0], density, params.shape, seed)
                  for name in ("intermediate.dense", "output.dense")]
    out_f, in_f = RANDOM_BLOCKS * params.bo, RANDOM_BLOCKS * params.bi
    cases.append(random_case(f"random:empty-rows:L{lengths[-1]}", params, out_f, in_f,
                             lengths[-1], density, rng, zero_blockrows=(0, RANDOM_BLOCKS - 2)))
    cases.append(random_case(f"random:dense:L{lengths[0]}", params, out_f, in_f, lengths[0],
                             params.m / params.bi, rng))
    cases.append(random_case("random:all-empty:L1", params, out_f, in_f, 1, density, rng,
                             zero_blockrows=tuple(range(RANDOM_BLOCKS))))
    return cases
