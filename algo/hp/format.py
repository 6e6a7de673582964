"""The HP storage format: block-CSR over kept blocks, Bo x m values and indices per block.

Per block-row r (of out/Bo):  block_ptr[r] .. block_ptr[r+1] index the kept blocks, whose
                              block columns are block_col[...] (ascending).
Per kept block b:             values[b] is Bo x m, idx[b] is Bo x m in-block columns
                              (ascending in each row, each < Bi).
So PE p of a block reads values[b, p, :] and idx[b, p, :] from its own bank: m each.
Decoding gives back exactly the masked weight; `validate` rejects anything else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algo.hp.mask import INDEX_DTYPE, HPShape, is_hp_mask


class HPFormatError(ValueError):
    """Malformed HP storage: the message names the field and what is wrong with it."""


@dataclass(frozen=True)
class HPMatrix:
    """One linear layer's weight in HP storage."""

    out_features: int
    in_features: int
    shape: HPShape
    block_ptr: np.ndarray  # int32 [out/bo + 1]
    block_col: np.ndarray  # int32 [nnzb]
    values: np.ndarray  # [nnzb, bo, m], float32 before quantization, int8 after
    idx: np.ndarray  # uint8 [nnzb, bo, m]

    @property
    def n_block_rows(self) -> int:
        return self.out_features // self.shape.bo

    @property
    def n_block_cols(self) -> int:
        return self.in_features // self.shape.bi

    @property
    def nnzb(self) -> int:
        return int(self.block_col.shape[0])

    @property
    def nnz(self) -> int:
        return self.nnzb * self.shape.bo * self.shape.m

    @property
    def density(self) -> float:
        return self.nnz / (self.out_features * self.in_features)

    @property
    def block_density(self) -> float:
        return self.nnzb / (self.n_block_rows * self.n_block_cols)

    def block_rows(self) -> np.ndarray:
        """The block-row of every kept block, int64 [nnzb]."""
        return np.repeat(np.arange(self.n_block_rows), np.diff(self.block_ptr))

    def columns(self) -> np.ndarray:
        """Absolute input column of every stored value, int64 [nnzb, bo, m]."""
        return self.block_col.astype(np.int64)[:, None, None] * self.shape.bi + self.idx

    def with_values(self, values: np.ndarray) -> HPMatrix:
        """The same sparsity pattern with other values (e.g. quantized int8)."""
        if values.shape != self.values.shape:
            raise HPFormatError(f"values shape {values.shape} != {self.values.shape}")
        return HPMatrix(self.out_features, self.in_features, self.shape, self.block_ptr,
                        self.block_col, values, self.idx)

    def storage_bytes(self, value_bits: int = 8) -> int:
        """Bytes of the packed format: values, log2(Bi)-bit indices, block-CSR pointers."""
        idx_bits = max(1, (self.shape.bi - 1).bit_length())
        bits = self.nnz * (value_bits + idx_bits) + 32 * (self.nnzb + self.n_block_rows + 1)
        return (bits + 7) // 8


def encode(weight: np.ndarray, mask: np.ndarray, shape: HPShape) -> HPMatrix:
    """Encode `weight * mask` in HP storage; `mask` must have the HP structure."""
    weight = np.asarray(weight)
    mask = np.asarray(mask, dtype=bool)
    if weight.ndim != 2 or weight.shape != mask.shape:
        raise HPFormatError(f"weight {weight.shape} and mask {mask.shape} must be equal 2-D shapes")
    out_f, in_f = weight.shape
    try:
        shape.check_divides(out_f, in_f)
    except ValueError as e:
        raise HPFormatError(str(e)) from None
    if not is_hp_mask(mask, shape):
        raise HPFormatError(
            f"mask is not HP-structured: every ({shape.bo}x{shape.bi}) block must be empty "
            f"or keep exactly m={shape.m} entries in each row"
        )
    nbr, nbc, bo, bi, m = out_f // shape.bo, in_f // shape.bi, shape.bo, shape.bi, shape.m
    blocks_mask = mask.reshape(nbr, bo, nbc, bi).transpose(0, 2, 1, 3)  # [nbr, nbc, bo, bi]
    kept = blocks_mask.any(axis=(2, 3))  # [nbr, nbc]
    rows, cols = np.nonzero(kept)  # row-major: ascending block col within each block-row
    block_ptr = np.zeros(nbr + 1, dtype=np.int32)
    np.cumsum(kept.sum(axis=1), out=block_ptr[1:])
    bm = blocks_mask[rows, cols]  # [nnzb, bo, bi]
    # Positions of the m kept entries per row, ascending: stable sort puts True first.
    idx = np.argsort(~bm, axis=2, kind="stable")[:, :, :m]
    wblocks = weight.reshape(nbr, bo, nbc, bi).transpose(0, 2, 1, 3)[rows, cols]
    values = np.take_along_axis(wblocks, idx, axis=2)
    return HPMatrix(out_f, in_f, shape, block_ptr, cols.astype(np.int32),
                    np.ascontiguousarray(values), idx.astype(INDEX_DTYPE))


def decode(hp: HPMatrix) -> np.ndarray:
    """The dense weight (zeros where pruned), in the dtype of `hp.values`."""
    validate(hp)
    dense = np.zeros((hp.out_features, hp.in_features), dtype=hp.values.dtype)
    rows = (hp.block_rows()[:, None, None] * hp.shape.bo
            + np.arange(hp.shape.bo)[None, :, None])
    dense[np.broadcast_to(rows, hp.idx.shape), hp.columns()] = hp.values
    return dense


def validate(hp: HPMatrix) -> None:
    """Raise HPFormatError naming the first field that breaks the format."""
    s = hp.shape
    if hp.out_features < 1 or hp.in_features < 1:
        raise HPFormatError(f"shape ({hp.out_features}, {hp.in_features}) must be positive")
    if hp.out_features % s.bo or hp.in_features % s.bi:
        raise HPFormatError(
            f"shape ({hp.out_features}, {hp.in_features}) not divisible by blocks ({s.bo}, {s.bi})")
    nbr, nbc = hp.n_block_rows, hp.n_block_cols
    bp, bc = np.asarray(hp.block_ptr), np.asarray(hp.block_col)
    if bp.ndim != 1 or bp.shape[0] != nbr + 1:
        raise HPFormatError(f"block_ptr must have {nbr + 1} entries, has shape {bp.shape}")
    if bp[0] != 0 or np.any(np.diff(bp.astype(np.int64)) < 0):
        raise HPFormatError("block_ptr must start at 0 and never decrease")
    if bc.ndim != 1 or bp[-1] != bc.shape[0]:
        raise HPFormatError(f"block_ptr ends at {bp[-1]} but block_col has {bc.shape} entries")
    if bc.size and (bc.min() < 0 or bc.max() >= nbc):
        raise HPFormatError(f"block_col out of range [0, {nbc})")
    for r in range(nbr):
        seg = bc[bp[r]:bp[r + 1]]
        if np.any(np.diff(seg.astype(np.int64)) <= 0):
            raise HPFormatError(f"block_col of block-row {r} must be strictly ascending")
    nnzb = bc.shape[0]
    if hp.values.shape != (nnzb, s.bo, s.m):
        raise HPFormatError(f"values shape {hp.values.shape} != ({nnzb}, {s.bo}, {s.m})")
    if hp.idx.shape != (nnzb, s.bo, s.m):
        raise HPFormatError(
            f"idx shape {hp.idx.shape} != ({nnzb}, {s.bo}, {s.m}): rows are unbalanced")
    idx = np.asarray(hp.idx, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= s.bi):
        raise HPFormatError(f"in-block index out of range [0, {s.bi})")
    if s.m > 1 and np.any(np.diff(idx, axis=2) <= 0):
        raise HPFormatError("in-block indices must be strictly ascending in every row")


def density_report(layers: dict[str, HPMatrix]) -> list[dict]:
    """One row per layer: its shape, kept blocks, density and packed size."""
    rows = []
    for name, hp in layers.items():
        rows.append({
            "layer": name,
            "shape": [hp.out_features, hp.in_features],
            "block": [hp.shape.bo, hp.shape.bi],
            "m": hp.shape.m,
            "kept_blocks": hp.nnzb,
            "block_density": round(hp.block_density, 6),
            "density": round(hp.density, 6),
            "bytes_int8": hp.storage_bytes(8),
            "bytes_dense_int8": hp.out_features * hp.in_features,
        })
    return rows
