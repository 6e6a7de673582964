"""The HP format: masks, exact encode/decode, and every malformed input named."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algo.hp import HPFormatError, HPShape, decode, encode, hp_mask, is_hp_mask, split_density
from algo.hp.artifact import (
    MANIFEST,
    WEIGHTS,
    Artifact,
    ArtifactError,
    load_artifact,
    save_artifact,
)
from algo.hp.format import density_report, validate

POW2 = st.sampled_from([1, 2, 4, 8, 16])


@st.composite
def hp_cases(draw: st.DrawFn) -> tuple[np.ndarray, HPShape, float]:
    """A weight (with ties: small integer-valued floats), a block shape and a keep ratio."""
    bo, bi = draw(POW2), draw(POW2)
    m = draw(st.integers(1, bi))
    nbr, nbc = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    keep = draw(st.floats(0.01, 1.0))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    levels = draw(st.sampled_from([3, 100]))  # few levels force ties; +-100 fits int8
    w = rng.integers(-levels, levels + 1, size=(nbr * bo, nbc * bi)).astype(np.float32) / 7
    return w, HPShape(bo, bi, m), keep


@settings(max_examples=150, deadline=None)
@given(hp_cases())
def test_encode_decode_is_exactly_the_masked_weight(case) -> None:
    w, shape, keep = case
    mask = hp_mask(w, shape, keep)
    assert is_hp_mask(mask, shape)
    hp = encode(w, mask, shape)
    assert np.array_equal(decode(hp), w * mask)
    assert decode(hp).dtype == w.dtype
    nb = hp.n_block_rows * hp.n_block_cols
    assert hp.nnzb == max(1, min(nb, math.floor(keep * nb + 0.5)))
    assert hp.density == hp.nnzb * shape.bo * shape.m / w.size == mask.mean()
    q = hp.with_values(np.round(hp.values * 7).astype(np.int8))  # the int8 path too
    assert np.array_equal(decode(q), np.round(w * 7).astype(np.int8) * mask)


@settings(max_examples=100, deadline=None)
@given(hp_cases())
def test_mask_keeps_the_largest(case) -> None:
    """Kept blocks outrank dropped ones; inside a kept row, kept entries outrank dropped ones."""
    w, s, keep = case
    mask = hp_mask(w, s, keep)
    nbr, nbc = w.shape[0] // s.bo, w.shape[1] // s.bi
    blocks = mask.reshape(nbr, s.bo, nbc, s.bi).any(axis=(1, 3))
    norms = np.sqrt((w.astype(np.float64).reshape(nbr, s.bo, nbc, s.bi) ** 2).sum(axis=(1, 3)))
    if blocks.any() and (~blocks).any():
        assert norms[blocks].min() >= norms[~blocks].max()
    mag = np.abs(w).reshape(nbr, s.bo, nbc, s.bi)
    m4 = mask.reshape(nbr, s.bo, nbc, s.bi)
    for r, c in zip(*np.nonzero(blocks), strict=True):
        for p in range(s.bo):
            kept, dropped = mag[r, p, c][m4[r, p, c]], mag[r, p, c][~m4[r, p, c]]
            if dropped.size:
                assert kept.min() >= dropped.max()


@given(st.sampled_from([(16, 4), (16, 8), (8, 2), (4, 4)]), st.floats(0.01, 1.0))
def test_density_formula(bi_m: tuple[int, int], frac: float) -> None:
    bi, m = bi_m
    shape = HPShape(16, bi, m)
    density = frac * m / bi
    keep = split_density(density, shape)
    assert keep * m / bi == pytest.approx(density)


def test_density_above_fine_level_is_refused() -> None:
    with pytest.raises(ValueError, match="density 0.5 is above what m=4 of bi=16 allows"):
        split_density(0.5, HPShape(16, 16, 4))
    with pytest.raises(ValueError, match="density must be in"):
        split_density(0.0, HPShape(16, 16, 4))
    with pytest.raises(ValueError, match="m=5 cannot exceed bi=4"):
        HPShape(4, 4, 5)


def _example() -> tuple[np.ndarray, HPShape]:
    rng = np.random.default_rng(7)
    return rng.standard_normal((32, 64)).astype(np.float32), HPShape(8, 16, 4)


def _encoded():
    w, shape = _example()
    return encode(w, hp_mask(w, shape, 0.5), shape)


MALFORMED = {
    "index out of range": (lambda hp: {"idx": np.full_like(hp.idx, 16)},
                           r"in-block index out of range \[0, 16\)"),
    "unbalanced rows": (lambda hp: {"idx": hp.idx[:, :, :3], "values": hp.values[:, :, :3]},
                        "values shape"),
    "unbalanced idx only": (lambda hp: {"idx": hp.idx[:, :, :3]}, "rows are unbalanced"),
    "indices not ascending": (lambda hp: {"idx": hp.idx[:, :, ::-1].copy()},
                              "strictly ascending in every row"),
    "block column out of range": (lambda hp: {"block_col": hp.block_col + 100},
                                  r"block_col out of range \[0, 4\)"),
    "block_ptr length": (lambda hp: {"block_ptr": hp.block_ptr[:-1]}, "block_ptr must have 5"),
    "block_ptr decreasing": (lambda hp: {"block_ptr": hp.block_ptr[::-1].copy()},
                             "block_ptr must start at 0"),
    "block columns repeated": (lambda hp: {"block_col": np.zeros_like(hp.block_col)},
                               "block_col of block-row 0 must be strictly ascending"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_storage_is_named(case: str) -> None:
    hp = _encoded()
    change, message = MALFORMED[case]
    bad = dataclasses.replace(hp, **change(hp))
    with pytest.raises(HPFormatError, match=message):
        validate(bad)
    with pytest.raises(HPFormatError):
        decode(bad)


def test_encode_refuses_non_hp_mask() -> None:
    w, shape = _example()
    mask = hp_mask(w, shape, 0.5)
    mask[0, np.nonzero(~mask[0])[0][0]] = True  # one row of one block keeps m+1
    with pytest.raises(HPFormatError, match="mask is not HP-structured"):
        encode(w, mask, shape)
    with pytest.raises(HPFormatError, match="not divisible"):
        encode(w[:, :60], mask[:, :60], shape)


def _saved(tmp_path: Path) -> Path:
    w, _ = _example()
    art = Artifact(hp_layers={"layer.0.q": _encoded()}, tensors={"bias": w[0]},
                   meta={"density": 0.125, "command": "test"})
    return save_artifact(tmp_path / "art", art)


def test_artifact_round_trip(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    art = load_artifact(path)
    hp = _encoded()
    assert np.array_equal(decode(art.hp_layers["layer.0.q"]), decode(hp))
    assert np.array_equal(art.tensors["bias"], _example()[0][0])
    assert art.meta == {"density": 0.125, "command": "test"}
    (row,) = density_report(art.hp_layers)
    assert row["density"] == 0.125 and row["kept_blocks"] == 8 and row["shape"] == [32, 64]


def _edit_manifest(path: Path, edit) -> None:
    manifest = json.loads((path / MANIFEST).read_text())
    edit(manifest)
    (path / MANIFEST).write_text(json.dumps(manifest))


def test_artifact_wrong_version(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    _edit_manifest(path, lambda m: m.update(version=99))
    with pytest.raises(ArtifactError, match=r"manifest.json: version 99 is not supported"):
        load_artifact(path)


def test_artifact_bad_checksum(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    _edit_manifest(path, lambda m: m["tensors"]["bias"].update(sha256="0" * 64))
    with pytest.raises(ArtifactError, match="checksum mismatch for tensor 'bias'"):
        load_artifact(path)


def test_artifact_flipped_byte(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    data = bytearray((path / WEIGHTS).read_bytes())
    data[-1] ^= 0x01  # the last byte belongs to the last tensor's data
    (path / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        load_artifact(path)


def test_artifact_truncated(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    data = (path / WEIGHTS).read_bytes()
    (path / WEIGHTS).write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match=r"weights.safetensors: unreadable"):
        load_artifact(path)


def test_artifact_malformed_layer_and_missing_files(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    _edit_manifest(path, lambda m: m["hp_layers"]["layer.0.q"].update(m=3))
    with pytest.raises(ArtifactError, match="HP layer 'layer.0.q' is malformed"):
        load_artifact(path)
    (path / MANIFEST).unlink()
    with pytest.raises(ArtifactError, match="manifest.json: missing"):
        load_artifact(path)


def test_artifact_shape_or_dtype_edited(tmp_path: Path) -> None:
    """Same bytes, another shape: the checksum alone would not notice."""
    path = _saved(tmp_path)
    _edit_manifest(path, lambda m: m["tensors"]["bias"].update(shape=[8, 8]))
    with pytest.raises(ArtifactError, match=r"tensor 'bias' is \[64\] float32, the manifest"):
        load_artifact(path)
    _edit_manifest(path, lambda m: m["tensors"]["bias"].pop("sha256"))
    with pytest.raises(ArtifactError, match="'bias' lacks shape, dtype or sha256"):
        load_artifact(path)
