"""The integer artifact (format version 2): a `QuantizedModel` in the foundation's artifact.

Layout, per encoder layer i (`L = layer.<i>`):
  HP layers    `L.<linear>` with int8 values (the six LAYER_LINEARS, as in an HP float artifact)
  tensors      `L.<linear>.bias|mult|shift` (int32), `L.ln1|ln2.gamma` (int16),
               `L.ln1|ln2.beta|mult|shift` (int32), `L.<requant>.mult|shift` (int32) for the
               rescales attention.score, attention.context, residual1, gelu_out, residual2;
               `input_scale`, `output_scale`, `scales.<name>` (float64, for the host);
               `host.<state-dict name>` (float: embeddings, pooler, classifier)
  meta         kind "quantized-int8", per layer the scalar constants (bits, heads, i-exp,
               i-GELU), whether each mult/shift is per channel, and the numerics constants
               the artifact was built with, which loading checks against this build.
Every tensor carries its sha256 in the manifest (`algo.hp.artifact`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from algo.hp.artifact import Artifact, ArtifactError, load_artifact, save_artifact
from algo.hp.model import LAYER_LINEARS
from sim.golden import nonlinear, params
from sim.golden.nonlinear import ExpParams, GeluParams, LayerNormParams
from sim.golden.params import QAttention, QEncoderLayer, QLinear, QuantizedModel, Requant

KIND_QUANTIZED = "quantized-int8"
META_KIND = "kind"
META_LAYERS = "layers"
META_NUMERICS = "numerics"
# The constants of the integer arithmetic; an artifact built with others is refused.
NUMERICS = {
    "ACT_BITS": params.ACT_BITS, "RES_BITS": params.RES_BITS,
    "GELU_IN_BITS": params.GELU_IN_BITS, "SCORE_BITS": params.SCORE_BITS,
    "SCORE_FRAC_BITS": params.SCORE_FRAC_BITS, "PROB_BITS": nonlinear.PROB_BITS,
    "SOFTMAX_RECIP_BITS": nonlinear.SOFTMAX_RECIP_BITS, "EXP_MAX_SHIFT": nonlinear.EXP_MAX_SHIFT,
    "GELU_ONE_BITS": nonlinear.GELU_ONE_BITS, "LN_NORM_BITS": nonlinear.LN_NORM_BITS,
    "LN_RECIP_BITS": nonlinear.LN_RECIP_BITS, "GAMMA_BITS": nonlinear.GAMMA_BITS,
}
_LINEAR_FIELDS = dict(zip(LAYER_LINEARS, ("query", "key", "value", "attn_out", "ffn_in",
                                          "ffn_out"), strict=True))
_REQUANTS = ("attention.score", "attention.context", "residual1", "gelu_out", "residual2")


def _put_mult_shift(tensors: dict[str, np.ndarray], name: str, mult: Any, shift: Any) -> bool:
    """Store mult/shift as int32 tensors; True when they are per channel (not scalars)."""
    tensors[f"{name}.mult"] = np.atleast_1d(np.asarray(mult, np.int32))
    tensors[f"{name}.shift"] = np.atleast_1d(np.asarray(shift, np.int32))
    return np.ndim(mult) > 0


def _get_mult_shift(t: dict[str, np.ndarray], name: str, per_channel: bool) -> tuple[Any, Any]:
    m, s = t[f"{name}.mult"].astype(np.int64), t[f"{name}.shift"].astype(np.int64)
    return (m, s) if per_channel else (int(m[0]), int(s[0]))


def _requant_of(layer: QEncoderLayer, name: str) -> Requant:
    if name.startswith("attention."):
        return getattr(layer.attention, name.split(".")[1])
    return getattr(layer, name)


def to_artifact(qm: QuantizedModel, meta: dict[str, Any] | None = None) -> Artifact:
    """The artifact of a quantized model; `meta` adds provenance (source, calibration)."""
    hp_layers, tensors, layer_meta = {}, {}, []
    for i, layer in enumerate(qm.layers):
        p = f"layer.{i}"
        lm: dict[str, Any] = {"heads": layer.attention.heads,
                              "exp": [layer.attention.exp.q_ln2, layer.attention.exp.q_b,
                                      layer.attention.exp.q_c],
                              "gelu": {"q_b": layer.gelu.q_b, "q_one": layer.gelu.q_one,
                                       "shift": layer.gelu.shift,
                                       "out_scale": layer.gelu.out_scale}}
        for rel, field_name in _LINEAR_FIELDS.items():
            q: QLinear = getattr(layer, field_name)
            hp_layers[f"{p}.{rel}"] = q.hp
            tensors[f"{p}.{rel}.bias"] = np.asarray(q.bias, np.int32)
            _put_mult_shift(tensors, f"{p}.{rel}", q.mult, q.shift)
            lm[rel] = {"out_bits": q.out_bits}
        for name in _REQUANTS:
            r = _requant_of(layer, name)
            lm[name] = {"bits": r.bits,
                        "per_channel": _put_mult_shift(tensors, f"{p}.{name}", r.mult, r.shift)}
        for name in ("ln1", "ln2"):
            ln: LayerNormParams = getattr(layer, name)
            tensors[f"{p}.{name}.gamma"] = np.asarray(ln.gamma, np.int16)
            tensors[f"{p}.{name}.beta"] = np.asarray(ln.beta, np.int32)
            lm[name] = {"out_bits": ln.out_bits,
                        "per_channel": _put_mult_shift(tensors, f"{p}.{name}", ln.mult, ln.shift)}
        layer_meta.append(lm)
    tensors["input_scale"] = np.asarray(qm.input_scale, np.float64)
    tensors["output_scale"] = np.asarray(qm.output_scale, np.float64)
    tensors.update({f"scales.{k}": np.atleast_1d(np.asarray(v, np.float64))
                    for k, v in qm.scales.items()})
    tensors.update({f"host.{k}": np.asarray(v) for k, v in qm.host.items()})
    full_meta = {**qm.meta, **(meta or {}), META_KIND: KIND_QUANTIZED,
                 META_NUMERICS: NUMERICS, META_LAYERS: layer_meta}
    return Artifact(hp_layers=hp_layers, tensors=tensors, meta=full_meta)


def from_artifact(art: Artifact, source: str = "artifact") -> QuantizedModel:
    """The QuantizedModel stored in an artifact; ArtifactError names what is wrong."""
    if art.meta.get(META_KIND) != KIND_QUANTIZED:
        raise ArtifactError(f"{source}: kind is {art.meta.get(META_KIND)!r}, expected "
                            f"{KIND_QUANTIZED!r} (quantize it first: sbf quantize)")
    built = art.meta.get(META_NUMERICS, {})
    if built != NUMERICS:
        diff = sorted(k for k in set(NUMERICS) | set(built) if built.get(k) != NUMERICS.get(k))
        raise ArtifactError(f"{source}: built with other numerics constants ({diff}); "
                            f"re-quantize it with this version")
    t = art.tensors
    layers = []
    try:
        for i, lm in enumerate(art.meta[META_LAYERS]):
            p = f"layer.{i}"
            lin = {}
            for rel, field_name in _LINEAR_FIELDS.items():
                m, s = _get_mult_shift(t, f"{p}.{rel}", True)
                lin[field_name] = QLinear(art.hp_layers[f"{p}.{rel}"],
                                          t[f"{p}.{rel}.bias"].astype(np.int64), m, s,
                                          lm[rel]["out_bits"])
            rq = {name: Requant(*_get_mult_shift(t, f"{p}.{name}", lm[name]["per_channel"]),
                                lm[name]["bits"]) for name in _REQUANTS}
            lns = {name: LayerNormParams(t[f"{p}.{name}.gamma"].astype(np.int64),
                                         t[f"{p}.{name}.beta"].astype(np.int64),
                                         *_get_mult_shift(t, f"{p}.{name}",
                                                          lm[name]["per_channel"]),
                                         lm[name]["out_bits"])
                   for name in ("ln1", "ln2")}
            g = lm["gelu"]
            layers.append(QEncoderLayer(
                **lin,
                attention=QAttention(lm["heads"], rq["attention.score"], ExpParams(*lm["exp"]),
                                     rq["attention.context"]),
                residual1=rq["residual1"], ln1=lns["ln1"],
                gelu=GeluParams(g["q_b"], g["q_one"], g["shift"], g["out_scale"]),
                gelu_out=rq["gelu_out"], residual2=rq["residual2"], ln2=lns["ln2"]))
    except KeyError as e:
        raise ArtifactError(f"{source}: quantized artifact lacks {e}") from None
    scales = {k.removeprefix("scales."): (v if v.size > 1 else float(v[0]))
              for k, v in t.items() if k.startswith("scales.")}
    host = {k.removeprefix("host."): v for k, v in t.items() if k.startswith("host.")}
    meta = {k: v for k, v in art.meta.items() if k not in (META_LAYERS, META_NUMERICS)}
    return QuantizedModel(layers, t["input_scale"], t["output_scale"], scales, host, meta)


def save_quantized(path: str | os.PathLike, qm: QuantizedModel,
                   meta: dict[str, Any] | None = None) -> Path:
    """Write the integer artifact directory (atomically, with checksums)."""
    return save_artifact(path, to_artifact(qm, meta))


def load_quantized(path: str | os.PathLike) -> QuantizedModel:
    """Read and verify an integer artifact directory."""
    return from_artifact(load_artifact(path), str(path))
