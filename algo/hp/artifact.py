"""The artifact: a directory with `weights.safetensors` and `manifest.json`.

The manifest carries a format name and version, the producing command, free metadata
(model, task, sparsity, quantization), and per tensor its shape, dtype and sha256, so a
truncated or edited file is caught on load. HP layers are stored as four tensors
`<layer>.block_ptr|block_col|values|idx` and described under `hp_layers`.
Other tensors (scales, biases, LayerNorm parameters, embeddings) go under their own names.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from algo.hp.format import HPFormatError, HPMatrix, validate
from algo.hp.mask import HPShape

FORMAT_NAME = "sbf-artifact"
# Version 2 (issue 3) adds integer artifacts (meta kind "quantized-int8", `algo.quantize.io`);
# the container is unchanged, so version 1 artifacts stay readable.
FORMAT_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
_HP_PARTS = ("block_ptr", "block_col", "values", "idx")


class ArtifactError(ValueError):
    """A malformed or mismatched artifact; the message names the file and the problem."""


@dataclass
class Artifact:
    """What an artifact holds: HP layers, other tensors and metadata."""

    hp_layers: dict[str, HPMatrix] = field(default_factory=dict)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    version: int = FORMAT_VERSION


def _sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def save_artifact(path: str | os.PathLike, art: Artifact) -> Path:
    """Write the artifact atomically: into a temporary directory, then renamed in place."""
    path = Path(path)
    flat: dict[str, np.ndarray] = {}
    hp_desc: dict[str, Any] = {}
    for name, hp in art.hp_layers.items():
        validate(hp)
        for part in _HP_PARTS:
            flat[f"{name}.{part}"] = np.ascontiguousarray(getattr(hp, part))
        hp_desc[name] = {
            "shape": [hp.out_features, hp.in_features],
            "bo": hp.shape.bo, "bi": hp.shape.bi, "m": hp.shape.m,
            "nnzb": hp.nnzb, "density": hp.density,
        }
    for name, t in art.tensors.items():
        if name in flat:
            raise ArtifactError(f"tensor name {name!r} collides with an HP layer tensor")
        flat[name] = np.ascontiguousarray(t)
    manifest = {
        "format": FORMAT_NAME,
        "version": art.version,
        "command": art.meta.get("command", " ".join(sys.argv)),
        "meta": art.meta,
        "hp_layers": hp_desc,
        "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype), "sha256": _sha256(v)}
                    for k, v in flat.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        save_file(flat, str(tmp / WEIGHTS))
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load_artifact(path: str | os.PathLike) -> Artifact:
    """Read and verify an artifact: format, version, every checksum, every HP layer."""
    path = Path(path)
    mpath, wpath = path / MANIFEST, path / WEIGHTS
    for p in (mpath, wpath):
        if not p.is_file():
            raise ArtifactError(f"{p}: missing (is {path} an sbf artifact directory?)")
    try:
        manifest = json.loads(mpath.read_text())
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{mpath}: not valid JSON ({e})") from None
    if manifest.get("format") != FORMAT_NAME:
        raise ArtifactError(f"{mpath}: format is {manifest.get('format')!r}, "
                            f"expected {FORMAT_NAME!r}")
    version = manifest.get("version")
    if version not in SUPPORTED_VERSIONS:
        raise ArtifactError(f"{mpath}: version {version!r} is not supported "
                            f"(this build reads {list(SUPPORTED_VERSIONS)})")
    try:
        flat = load_file(str(wpath))
    except Exception as e:  # safetensors raises its own error types
        raise ArtifactError(f"{wpath}: unreadable ({e})") from None
    described = manifest.get("tensors", {})
    if set(described) != set(flat):
        missing, extra = set(described) - set(flat), set(flat) - set(described)
        raise ArtifactError(f"{wpath}: tensors do not match the manifest "
                            f"(missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]})")
    for name, desc in described.items():
        t = flat[name]
        try:
            want = (list(desc["shape"]), desc["dtype"], desc["sha256"])
        except (KeyError, TypeError):
            raise ArtifactError(f"{mpath}: tensor {name!r} lacks shape, dtype or sha256") from None
        if (list(t.shape), str(t.dtype)) != want[:2]:
            raise ArtifactError(f"{wpath}: tensor {name!r} is {list(t.shape)} {t.dtype}, "
                                f"the manifest says {want[0]} {want[1]}")
        if _sha256(t) != want[2]:
            raise ArtifactError(f"{wpath}: checksum mismatch for tensor {name!r}")
    hp_layers: dict[str, HPMatrix] = {}
    for name, d in manifest.get("hp_layers", {}).items():
        try:
            hp = HPMatrix(d["shape"][0], d["shape"][1], HPShape(d["bo"], d["bi"], d["m"]),
                          *(flat.pop(f"{name}.{part}") for part in _HP_PARTS))
            validate(hp)
        except (KeyError, ValueError, HPFormatError) as e:
            raise ArtifactError(f"{path}: HP layer {name!r} is malformed: {e}") from None
        hp_layers[name] = hp
    return Artifact(hp_layers=hp_layers, tensors=flat, meta=manifest.get("meta", {}),
                    version=version)
