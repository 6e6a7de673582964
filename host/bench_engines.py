"""CPU inference engines people deploy BERT with, as baselines beside torch fp32 in `sbf bench`:
ONNX Runtime with dynamic int8 quantization and OpenVINO int8.

Both are optional (`pip install -e '.[bench]'`) and imported lazily: when one is absent its
rows are skipped with a note naming the package. Each engine is wrapped so that it is called
like the torch model (`model(input_ids=..., attention_mask=...)`, `model.config`), which lets
host.bench time it with the same `measure` (one timing method for every row).

The model is exported once with `torch.onnx.export` (dynamic batch and sequence axes) into
the cache directory (`SBF_CACHE_DIR`, else ./out), keyed by a content hash of the weights
and config, so a rerun reuses the export and the quantized copies.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

CACHE_ENV = "SBF_CACHE_DIR"
DEFAULT_CACHE = Path("out")
CACHE_SUBDIR = "bench_onnx"
# ONNX opset of the export: opset 17 has LayerNormalization and every ORT >= 1.15 runs it.
OPSET = 17
# Bumped when what is stored under a hash changes (export settings, quantization recipe).
CACHE_FORMAT = 1
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "logits"
# Export sample: batch 2, 8 tokens, the second row padded, so the traced graph keeps the
# attention-mask path (an all-ones mask may be optimised away by the attention code).
EXPORT_SHAPE = (2, 8)
EXPORT_PAD = 3
EXPORT_TOKEN_ID = 1000
ORT_SYSTEM = "onnxruntime-int8-dynamic"
OV_SYSTEM = "openvino-int8"
# The packages each engine needs (onnx for the export), checked by `installed`.
ENGINE_MODULES = {ORT_SYSTEM: ("onnxruntime", "onnx"), OV_SYSTEM: ("openvino", "nncf", "onnx")}
ORT_INSTALL = "pip install onnxruntime onnx  (or: pip install -e '.[bench]')"
OV_INSTALL = "pip install openvino nncf  (or: pip install -e '.[bench]')"


def have(module: str) -> bool:
    """Whether a package is importable, without importing it (they are slow to import)."""
    return importlib.util.find_spec(module) is not None


def cache_dir() -> Path:
    """Where exports live: never the source tree."""
    return Path(os.environ.get(CACHE_ENV) or (Path.cwd() / DEFAULT_CACHE)) / CACHE_SUBDIR


def model_hash(model: Any) -> str:
    """Content hash of a torch model's config and weights: which export belongs to it."""
    h = hashlib.sha256(f"format {CACHE_FORMAT} opset {OPSET}\n".encode())
    h.update(model.config.to_json_string().encode())
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def export_onnx(model: Any, root: Path | None = None) -> Path:
    """The fp32 ONNX export of a BertForSequenceClassification, cached by content hash."""
    import torch

    path = (root or cache_dir()) / model_hash(model) / "model.onnx"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = torch.full(EXPORT_SHAPE, EXPORT_TOKEN_ID, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[-1, -EXPORT_PAD:] = 0
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            OUTPUT: {0: "batch"}}
    tmp = path.with_suffix(".tmp.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), str(tmp), input_names=list(INPUTS),
                          output_names=[OUTPUT], dynamic_axes=axes, opset_version=OPSET,
                          dynamo=False)
    tmp.replace(path)  # a killed export never leaves a half file under the final name
    return path


def quantize_ort(fp32: Path) -> Path:
    """ONNX Runtime dynamic int8 (QInt8 weights, activations quantized per call), cached."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = fp32.with_name("model.ort-int8-dynamic.onnx")
    if not path.exists():
        tmp = path.with_suffix(".tmp.onnx")
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
        tmp.replace(path)
    return path


class EngineModel:
    """An engine called like the torch model, so host.bench.measure times it unchanged."""

    def __init__(self, run: Any, config: Any) -> None:
        self._run = run
        self.config = config

    def __call__(self, input_ids: Any, attention_mask: Any) -> np.ndarray:
        return self._run({"input_ids": input_ids.cpu().numpy(),
                          "attention_mask": attention_mask.cpu().numpy()})


def ort_model(model: Any, threads: int, root: Path | None = None) -> EngineModel:
    """An ONNX Runtime CPU session over the dynamic-int8 export, on `threads` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(quantize_ort(export_onnx(model, root))), opts,
                                   providers=["CPUExecutionProvider"])
    return EngineModel(lambda feed: session.run([OUTPUT], feed)[0], model.config)


def calibration_feeds(lengths: Sequence[int], vocab: int) -> list[dict[str, np.ndarray]]:
    """One batch-1 feed per length: the sentences' lengths, random ids as in the timed runs."""
    rng = np.random.default_rng(0)
    return [{"input_ids": rng.integers(EXPORT_TOKEN_ID, vocab, (1, int(n)), dtype=np.int64),
             "attention_mask": np.ones((1, int(n)), dtype=np.int64)} for n in lengths]


def openvino_model(model: Any, threads: int, calib_lengths: Sequence[int],
                   root: Path | None = None) -> tuple[EngineModel, str]:
    """OpenVINO on the CPU: NNCF post-training int8 (`nncf.quantize`) on a calibration set
    of the bench's own lengths; the returned text says how it was quantized."""
    import nncf
    import openvino as ov

    core = ov.Core()
    fp32 = export_onnx(model, root)
    calib = hashlib.sha256(np.asarray(calib_lengths, dtype=np.int64).tobytes()).hexdigest()
    xml = fp32.with_name(f"openvino-int8-calib-{calib[:12]}.xml")  # per calibration set
    if xml.exists():
        q = core.read_model(str(xml))
    else:
        feeds = calibration_feeds(calib_lengths, model.config.vocab_size)
        q = nncf.quantize(core.read_model(str(fp32)), nncf.Dataset(feeds),
                          model_type=nncf.ModelType.TRANSFORMER, subset_size=len(feeds))
        ov.save_model(q, str(xml))
    compiled = core.compile_model(q, "CPU", {"INFERENCE_NUM_THREADS": threads})
    how = (f"NNCF nncf.quantize (int8 weights and activations, transformer preset) "
           f"calibrated on {len(calib_lengths)} sequences of the trace's lengths")
    return EngineModel(lambda feed: compiled(feed)[0], model.config), how


def available(system: str) -> bool:
    """Whether every package `system` needs is importable here."""
    return all(have(m) for m in ENGINE_MODULES[system])


def installed() -> list[str]:
    """The engine systems whose packages are importable here."""
    return [system for system in ENGINE_MODULES if available(system)]


def missing_notes() -> list[str]:
    """One note per absent engine, naming the missing packages and what to install."""
    notes = []
    for system, label, install in ((ORT_SYSTEM, "ONNX Runtime", ORT_INSTALL),
                                   (OV_SYSTEM, "OpenVINO", OV_INSTALL)):
        if system not in installed():
            missing = [m for m in ENGINE_MODULES[system] if not have(m)]
            notes.append(f"{label} rows left out: {', '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} not installed ({install})")
    return notes


def engine_models(model: Any, threads: int,
                  calib_lengths: Sequence[int]) -> list[tuple[str, EngineModel, str]]:
    """(system, callable, how it was built) for each installed engine."""
    out = []
    if ORT_SYSTEM in installed():
        out.append((ORT_SYSTEM, ort_model(model, threads),
                    "onnxruntime.quantization.quantize_dynamic, QInt8 weights"))
    if OV_SYSTEM in installed():
        ov_m, how = openvino_model(model, threads, calib_lengths)
        out.append((OV_SYSTEM, ov_m, how))
    return out
