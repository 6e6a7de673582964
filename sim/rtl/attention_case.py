"""Test cases for the sparse attention engine: one head, int8 Q/K/V, and the golden result.

The reference is sim/golden/sparse_attention.py (`sparse_attention_head` for the output,
`select` for the kept keys, which the engine reports on m_axis_out_tuser). The SV
parameters that mirror golden constants are taken from the golden modules here, so the
RTL is always built with the numbers the reference uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hw.config import DesignConfig
from sim.golden.nonlinear import EXP_MAX_SHIFT, PROB_BITS, SOFTMAX_RECIP_BITS
from sim.golden.sparse_attention import (
    ESTIMATE_LUT,
    Q4_MAX,
    SCORE_BITS,
    AttentionQuant,
    estimate,
    quantize4,
    select,
    sparse_attention_head,
    topk_count,
)
from sim.rtl.cycles import EXP_INT_BITS, field_bits, rtl_localparam

INT8_MAX = 127
EXP_CONST_BITS = rtl_localparam("sparse_attention.sv", "Q_W")  # q_ln2 and q_b in the RTL
RANDOM_SCALE = 0.05  # float scale of random int8 Q, K, V (scores of a few logits)


@dataclass(frozen=True)
class AttentionParams:
    """The SV parameters of one sparse_attention build."""

    d: int
    max_len: int
    max_k: int

    def __post_init__(self) -> None:
        if self.max_k < 2 or self.max_len < self.max_k:
            raise ValueError(f"max_k: need 2 <= max_k <= max_len, got {self.max_k}, "
                             f"{self.max_len}")

    @classmethod
    def from_config(cls, cfg: DesignConfig) -> AttentionParams:
        return cls(d=cfg.model.head_dim, max_len=cfg.max_length, max_k=cfg.attn_k)

    def hdl_parameters(self) -> dict[str, int]:
        return {"D": self.d, "MAX_LEN": self.max_len, "MAX_K": self.max_k,
                "Q4_MAX": Q4_MAX, "SCORE_BITS": SCORE_BITS, "PROB_BITS": PROB_BITS,
                "RECIP_BITS": SOFTMAX_RECIP_BITS, "EXP_MAX_SHIFT": EXP_MAX_SHIFT}

    @property
    def index_bits(self) -> int:
        return field_bits(self.max_len)

    def check_case(self, case: AttentionCase) -> None:
        if case.q8.shape[1] != self.d:
            raise ValueError(f"case {case.name}: head dim {case.q8.shape[1]} != engine {self.d}")
        if not 1 <= case.length <= self.max_len:
            raise ValueError(f"case {case.name}: length {case.length} outside [1, "
                             f"{self.max_len}]")
        if not 1 <= case.k <= self.max_k:
            raise ValueError(f"case {case.name}: k={case.k} outside [1, {self.max_k}]")
        e = case.quant.exp
        const_max, out_max = 1 << EXP_CONST_BITS, 1 << EXP_INT_BITS
        if not (0 < e.q_ln2 <= e.q_b < const_max and 0 <= e.q_c < 1 << 31
                and e.out_max < out_max):
            raise ValueError(f"case {case.name}: i-exp constants {e} do not fit the engine's "
                             f"exp datapath (0 < q_ln2 <= q_b < {const_max}, 0 <= q_c < 2^31, "
                             f"q_b^2 + q_c < {out_max}); derive them with ExpParams.derive "
                             f"at SCORE_SCALE")


@dataclass(frozen=True)
class AttentionCase:
    """One head of one sequence: int8 Q, K, V [L, d], k kept keys, integer constants."""

    name: str
    q8: np.ndarray
    k8: np.ndarray
    v8: np.ndarray
    k: int
    quant: AttentionQuant

    @property
    def length(self) -> int:
        return int(self.q8.shape[0])

    @property
    def kept(self) -> int:
        return topk_count(self.length, k=self.k)

    @property
    def macs(self) -> int:
        """Useful MACs of the exact part: q.k and p.v for the kept keys, d each."""
        return 2 * self.length * self.kept * self.q8.shape[1]

    def reference(self) -> np.ndarray:
        return sparse_attention_head(self.q8, self.k8, self.v8, self.k, self.quant)

    def selection(self) -> np.ndarray:
        """The kept key indices per query, in the golden order (estimate desc, index asc)."""
        return select(estimate(quantize4(self.q8, axis=-1), quantize4(self.k8, axis=None)),
                      self.k)


def lut_hex() -> str:
    """ESTIMATE_LUT as a $readmemh file: one two's-complement byte per line."""
    return "".join(f"{int(v) & 0xFF:02x}\n" for v in ESTIMATE_LUT)


def unpack_selection(tuser: Sequence[int], kept: int, index_bits: int) -> np.ndarray:
    """m_axis_out_tuser of every output beat -> kept key indices [L, kept]."""
    mask = (1 << index_bits) - 1
    return np.array([[(int(u) >> (index_bits * i)) & mask for i in range(kept)]
                     for u in tuser], dtype=np.int64)


def random_case(name: str, params: AttentionParams, length: int, k: int,
                rng: np.random.Generator, ties: bool = False) -> AttentionCase:
    """Random int8 Q, K, V; with `ties`, K repeats a few rows so that estimates tie."""
    def rand() -> np.ndarray:
        return rng.integers(-INT8_MAX - 1, INT8_MAX + 1, size=(length, params.d)).astype(np.int8)

    q8, k8, v8 = rand(), rand(), rand()
    if ties:
        k8 = k8[rng.integers(0, max(1, length // 4), size=length)]
        q8[0] = 0  # an all-zero query: every estimate ties at 0
    quant = AttentionQuant.derive(RANDOM_SCALE, RANDOM_SCALE, RANDOM_SCALE, RANDOM_SCALE,
                                  params.d)
    return AttentionCase(name, q8, k8, v8, k, quant)


def _quantize(x: np.ndarray) -> tuple[np.ndarray, float]:
    scale = float(np.abs(x).max()) / INT8_MAX or 1.0
    return np.clip(np.round(x / scale), -INT8_MAX, INT8_MAX).astype(np.int8), scale


def minilm_case(params: AttentionParams, length: int, k: int, layer: int = 0, head: int = 0,
                seed: int = 0) -> AttentionCase:
    """Head `head` of MiniLM layer `layer` on real text: Q, K, V projections of the
    embedded sentence (the layer-0 input), int8 per tensor; the output scale covers the
    float dense attention's context."""
    from sim.rtl.minilm import embeddings, weights

    w = weights()
    h = embeddings(length, seed)
    cols = slice(head * params.d, (head + 1) * params.d)
    proj = {}
    for name in ("query", "key", "value"):
        pre = f"encoder.layer.{layer}.attention.self.{name}"
        proj[name] = (h @ w[f"{pre}.weight"].T.astype(np.float64) + w[f"{pre}.bias"])[:, cols]
    (q8, sq), (k8, sk), (v8, sv) = (_quantize(proj[n]) for n in ("query", "key", "value"))
    logits = proj["query"] @ proj["key"].T / np.sqrt(params.d)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    context = (p / p.sum(axis=1, keepdims=True)) @ proj["value"]
    s_out = float(np.abs(context).max()) / INT8_MAX or 1.0
    quant = AttentionQuant.derive(sq, sk, sv, s_out, params.d)
    return AttentionCase(f"minilm:layer{layer}.head{head}:L{length}:k{k}", q8, k8, v8, k, quant)


def suite(params: AttentionParams, lengths: Sequence[int], seed: int,
          real: bool = True) -> list[AttentionCase]:
    """MiniLM head 0 at every length with k = max_k; random cases with ties, k = 1, L = 1."""
    rng = np.random.default_rng(seed)
    lengths = sorted(set(lengths))
    if not lengths or lengths[0] < 1 or lengths[-1] > params.max_len:
        raise ValueError(f"lengths: {lengths} must lie in [1, {params.max_len}]")
    cases = [minilm_case(params, n, params.max_k, seed=seed) for n in lengths] if real else []
    cases.append(random_case(f"random:ties:L{lengths[-1]}", params, lengths[-1], params.max_k,
                             rng, ties=True))
    cases.append(random_case(f"random:k1:L{lengths[-1]}", params, lengths[-1], 1, rng))
    cases.append(random_case("random:L1", params, 1, params.max_k, rng))
    return cases
