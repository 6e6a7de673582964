"""Where the golden model's remaining error comes from: swap one integer function for float.

Runs the packaged MiniLM on SST-2 dev (float PyTorch vs integer golden model) with
(a) everything integer, (b) each of i-exp softmax, i-GELU and integer LayerNorm replaced
by its exact float function (inputs dequantized, the result rounded back to the same
integer format, so only the function's own approximation is removed), (c) all three
replaced, which leaves only the int8/int16 quantization of tensors. Also times the
whole-set golden run. Writes benchmarks/results/golden_ablation.json.

    python benchmarks/golden_ablation.py [--limit N] [--calib-n N]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from scipy.special import erf

from algo.glue import load_split
from algo.quantize.calibrate import calibrate
from algo.quantize.convert import quantize_model
from algo.quantize.pipeline import DEFAULT_CALIB_N, calibration_texts, load_float
from host.machine import machine_info
from sim.golden import encoder as golden_encoder
from sim.golden.check import compare, tokenize
from sim.golden.nonlinear import PROB_BITS, PROB_MAX
from sim.golden.params import SCORE_SCALE
from sim.golden.requant import saturate

RESULT = Path(__file__).parent / "results" / "golden_ablation.json"


def float_softmax(q: np.ndarray, _p: object) -> np.ndarray:
    x = q * SCORE_SCALE
    e = np.exp(x - x.max(-1, keepdims=True))
    return np.minimum(np.round(e / e.sum(-1, keepdims=True) * (1 << PROB_BITS)), PROB_MAX)


def make_float_gelu(scale_of: dict[int, float]) -> Callable:
    def float_gelu(q: np.ndarray, p: object) -> np.ndarray:
        x = q * scale_of[id(p)]
        return np.round(x / 2 * (1 + erf(x / math.sqrt(2))) / p.out_scale)
    return float_gelu


def make_float_layernorm(info: dict[int, tuple]) -> Callable:
    def float_layernorm(x: np.ndarray, p: object) -> np.ndarray:
        gamma, beta, s_out = info[id(p)]
        x = np.asarray(x, np.float64)
        z = (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True)
        return saturate(np.round((z * gamma + beta) / s_out), p.out_bits)
    return float_layernorm


@contextmanager
def swapped(replacements: dict[str, Callable]):
    """Temporarily replace functions that `sim.golden.encoder` calls."""
    saved = {k: getattr(golden_encoder, k) for k in replacements}
    for k, f in replacements.items():
        setattr(golden_encoder, k, f)
    try:
        yield
    finally:
        for k, f in saved.items():
            setattr(golden_encoder, k, f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, help="first N dev sentences (default all 872)")
    ap.add_argument("--calib-n", type=int, default=DEFAULT_CALIB_N)
    args = ap.parse_args()

    src = load_float()
    texts, _, calib = calibration_texts("SST-2", args.calib_n)
    qm = quantize_model(src.model, calibrate(src.model, src.tokenizer, texts, progress=False))
    dev = load_split("SST-2", "dev")
    n = len(dev) if args.limit is None else args.limit
    tok = tokenize(src.tokenizer, dev.texts_a[:n])

    prefix = qm.meta["encoder_prefix"]
    state = {k: v.detach().numpy().astype(np.float64) for k, v in src.model.state_dict().items()}
    gelu_scale, ln_info = {}, {}
    for i, layer in enumerate(qm.layers):
        gelu_scale[id(layer.gelu)] = qm.scales[f"layer.{i}.ffn_in"]
        for p, owner, out in ((layer.ln1, "attention.output", "ln1_channels"),
                              (layer.ln2, "output", "output_channels")):
            base = f"{prefix}layer.{i}.{owner}.LayerNorm"
            ln_info[id(p)] = (state[f"{base}.weight"], state[f"{base}.bias"],
                              qm.scales[f"layer.{i}.{out}"])
    floats = {"int_softmax": float_softmax, "int_gelu": make_float_gelu(gelu_scale),
              "int_layernorm": make_float_layernorm(ln_info)}
    variants = {"integer": {}, "float_softmax": {"int_softmax": floats["int_softmax"]},
                "float_gelu": {"int_gelu": floats["int_gelu"]},
                "float_layernorm": {"int_layernorm": floats["int_layernorm"]},
                "float_all_three": floats}
    rows = {}
    for name, repl in variants.items():
        with swapped(repl):
            r = compare(src.model, qm, tok)
        rows[name] = {k: r[k] for k in ("cosine_mean", "cosine_min", "agreement",
                                        "seconds_golden")}
        print(name, rows[name], flush=True)
    result = {
        "benchmark": "golden_ablation",
        "command": "python " + " ".join(sys.argv),
        "machine": machine_info(torch_details=False),
        "kind": "measured",
        "what": "float PyTorch MiniLM vs integer golden model (sim/golden), SST-2 dev; each "
                "variant replaces the named integer functions by exact float ones",
        "n": r["n"], "tokens": r["tokens"], "calibration": calib,
        "variants": rows,
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
