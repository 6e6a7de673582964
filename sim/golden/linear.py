"""Integer linear layers: the HP sparse product straight from the HP storage, and int matmuls.

Why floats appear here: NumPy has no BLAS for integers, and a pure integer gather of
every stored weight is far too slow for whole GLUE dev sets. Every product below is of
two integers of at most 9 bits and every partial sum is an integer whose magnitude is
bounded in advance (k * max|a| * max|b|); below 2**24 (float32) or 2**53 (float64) the
float BLAS result IS the exact integer result, in any summation order. `exact_dtype`
checks that bound before each product, and results go back to int64 at once, so the
arithmetic stays integer.
"""

from __future__ import annotations

import numpy as np

from algo.hp.format import HPMatrix
from sim.golden.requant import ACC_MAX, add_bias, requantize

# Integers below these magnitudes are represented exactly by float32 / float64.
EXACT_F32 = 1 << 24
EXACT_F64 = 1 << 53
ACT_BITS = 8
WEIGHT_BITS = 8


def _max_abs(a: np.ndarray) -> int:
    """max |a| without a temporary array; for int8 data the type bound, without a pass."""
    if a.dtype == np.int8:
        return 1 << (WEIGHT_BITS - 1)
    return max(-int(a.min()), int(a.max())) if a.size else 0


def exact_dtype(k: int, a_max: int, b_max: int) -> type[np.floating]:
    """The narrowest float type whose matmul of k products |a| <= a_max, |b| <= b_max is exact.

    Every partial sum is an integer of magnitude <= k * a_max * b_max; float32 holds such
    integers exactly below 2**24, float64 below 2**53.
    """
    bound = k * a_max * b_max
    if bound < EXACT_F32:
        return np.float32
    if bound < EXACT_F64:
        return np.float64
    raise OverflowError(f"integer matmul with k={k}, |a|<={a_max}, |b|<={b_max} "
                        f"may exceed 2**53; not exact in float64")


def exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for integer arrays (batched like np.matmul), exact, as int64."""
    dt = exact_dtype(a.shape[-1], _max_abs(a), _max_abs(b))
    return np.matmul(a.astype(dt), b.astype(dt)).astype(np.int64)


def check_acc_bound(in_features: int, a_max: int, b_max: int) -> None:
    """Raise unless in_features * a_max * b_max fits the int32 accumulator (no wrap possible)."""
    if in_features * a_max * b_max > ACC_MAX:
        raise OverflowError(f"{in_features} products of |{a_max}| x |{b_max}| may overflow int32")


def _block_row_groups(hp: HPMatrix) -> dict[tuple[int, ...], list[int]]:
    """Block-rows grouped by their kept block columns (a dense layer is one group)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for r in range(hp.n_block_rows):
        cols = tuple(int(c) for c in hp.block_col[hp.block_ptr[r]:hp.block_ptr[r + 1]])
        groups.setdefault(cols, []).append(r)
    return groups


def _tiles(hp: HPMatrix, cols: tuple[int, ...], rows: list[int]) -> np.ndarray:
    """The PE values of block-rows `rows` laid on their in-block columns: [len(rows)*bo, nb*bi]."""
    s, nb, g = hp.shape, len(cols), len(rows)
    # kept block j of block-row rows[i] is stored at block_ptr[rows[i]] + j
    blocks = hp.block_ptr[np.asarray(rows)].astype(np.int64)[:, None] + np.arange(nb)
    tile_col = np.arange(nb)[None, :, None, None] * s.bi + hp.idx[blocks].astype(np.int64)
    tiles = np.zeros((g, s.bo, nb * s.bi), dtype=hp.values.dtype)
    tiles[np.arange(g)[:, None, None, None], np.arange(s.bo)[None, None, :, None],
          tile_col] = hp.values[blocks]
    return tiles.reshape(g * s.bo, nb * s.bi)


def hp_matmul(x: np.ndarray, hp: HPMatrix) -> np.ndarray:
    """acc[t, o] = sum over stored (o, c) of values * x[t, c], read from the HP storage. int64.

    The hardware dataflow, block-row by block-row: the Bi activations of each kept block
    column (`block_col`) are broadcast to the Bo PEs, and PE p multiplies the m of them
    that its in-block indices (`idx`) select with its m values. Here each block-row's PE
    values are laid on their in-block columns (a Bo x (kept*Bi) tile) and applied to the
    gathered activations in one exact product; block-rows keeping the same block columns
    share one gather (a dense layer is one product). Block-rows without kept blocks
    accumulate 0. The accumulator bound is checked first (`check_acc_bound`).
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != hp.in_features:
        raise ValueError(f"x must be [tokens, {hp.in_features}], got {x.shape}")
    s = hp.shape
    x_max, w_max = _max_abs(x), _max_abs(hp.values)
    check_acc_bound(hp.in_features, x_max, w_max)
    dt = exact_dtype(hp.in_features, x_max, w_max)
    xf = x.astype(dt)
    groups = _block_row_groups(hp)
    all_cols = tuple(range(hp.n_block_cols))
    if list(groups) == [all_cols]:  # every block-row keeps every block: one product
        return (xf @ _tiles(hp, all_cols, groups[all_cols]).astype(dt).T).astype(np.int64)
    acc = np.zeros((x.shape[0], hp.out_features), dtype=dt)
    for cols, rows in groups.items():
        if not cols:
            continue
        gather = (np.asarray(cols)[:, None] * s.bi + np.arange(s.bi)).ravel()  # [nb*bi]
        out_cols = (np.asarray(rows)[:, None] * s.bo + np.arange(s.bo)).ravel()
        acc[:, out_cols] = xf[:, gather] @ _tiles(hp, cols, rows).astype(dt).T
    return acc.astype(np.int64)


def hp_linear(x: np.ndarray, hp: HPMatrix, bias: np.ndarray, mult: np.ndarray,
              shift: np.ndarray, out_bits: int = 8) -> np.ndarray:
    """y = requantize(add_bias(hp_matmul(x, hp), bias), mult, shift, out_bits), per output row.

    x int8 [tokens, in]; hp int8 values; bias int32 [out]; mult/shift [out] (or scalars).
    Accumulation is exact int32 (bounded by `check_acc_bound`), the bias add saturates
    (SAT_BIAS), the requantization rounds half up and saturates (SAT_REQUANT).
    Returns int64 in the signed `out_bits` range.
    """
    return requantize(add_bias(hp_matmul(x, hp), bias), mult, shift, out_bits)


def dense_linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, mult: np.ndarray,
                 shift: np.ndarray, out_bits: int = 8) -> np.ndarray:
    """The reference: the same as `hp_linear` with a dense int weight [out, in], pure int64."""
    acc = np.asarray(x, np.int64) @ np.asarray(weight, np.int64).T
    return requantize(add_bias(acc, bias), mult, shift, out_bits)
