"""Test cases for the vector units (gelu_unit, residual_layernorm): build parameters, stream
packing, the golden reference and the exact cycle formulas.

The byte layouts are the ones documented at the top of hw/rtl/gelu_unit.sv and
hw/rtl/residual_layernorm.sv; the references are sim/golden's `int_gelu` + `rescale` and
`residual_add` + `int_layernorm`. Every SV parameter that mirrors a golden constant is
taken from the golden modules here, so the RTL is built with the numbers the reference
uses. The pipeline depths come from the SV files themselves (`rtl_localparam`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.golden.encoder import rescale, residual_add
from sim.golden.nonlinear import (
    GAMMA_BITS,
    GELU_ONE_BITS,
    LN_NORM_BITS,
    LN_NORM_SAT_BITS,
    LN_RECIP_BITS,
    LN_STD_MIN,
    GeluParams,
    LayerNormParams,
    int_gelu,
    int_layernorm,
)
from sim.golden.params import ACT_BITS, GELU_IN_BITS, RES_BITS, Requant
from sim.golden.requant import (
    ACC_MAX,
    ACC_MIN,
    MULT_BITS,
    MULT_MAX,
    SHIFT_MAX,
    SHIFT_MIN,
    int_range,
)
from sim.rtl.cycles import REQUANT_LATENCY, rtl_localparam

# ---- parameter beats (both units): a 4-byte header, then the payload ----------------------
HDR_BYTES = 4  # [7:0] kind, [15:8] set, [31:16] word
MULT_BYTES = 2  # 15-bit multipliers in 16-bit fields
SHIFT_BYTES = 1  # 6-bit shifts in 8-bit fields
SHIFT_W = SHIFT_MAX.bit_length()  # requantize shifts in [1, 62]: 6 bits
GELU_SCALARS, GELU_CHANNELS = 0, 1  # gelu_unit kinds
LN_ALIGN, LN_NORM = 0, 1  # residual_layernorm kinds
GELU_SCALAR_BYTES = 7  # q_b u32, q_one u16, shift u8
GELU_SHIFT_BITS = 6  # the field of GeluParams.shift the unit reads
# gelu_unit's clip-point width: q_b < 2**GELU_Q_B_BITS (derive gives about 2.5 / scale)
GELU_Q_B_BITS = GELU_IN_BITS + 1
GAMMA_BYTES = 2
BIAS_BYTES = 4


def _header(kind: int, set_index: int, word: int) -> bytes:
    return bytes([kind, set_index]) + int(word).to_bytes(2, "little")


def _per_channel(v: int | np.ndarray, n: int) -> np.ndarray:
    """A scalar mult/shift broadcast to n channels (the golden model allows either)."""
    a = np.asarray(v, dtype=np.int64)
    return np.broadcast_to(a, (n,)).copy() if a.ndim == 0 else a.astype(np.int64)


def _check_requant(what: str, mult: np.ndarray, shift: np.ndarray) -> None:
    if np.any((mult < 0) | (mult > MULT_MAX)):
        raise ValueError(f"{what}: multiplier outside [0, {MULT_MAX}]; re-derive it with "
                         "sim.golden.requant.quantize_multiplier")
    if np.any((shift < SHIFT_MIN) | (shift > SHIFT_MAX)):
        raise ValueError(f"{what}: shift outside [{SHIFT_MIN}, {SHIFT_MAX}]; re-derive it "
                         "with sim.golden.requant.quantize_multiplier")


def _pad(beat: bytes, width: int) -> bytes:
    return beat + bytes(width - len(beat))


# =============================================================================================
# GELU unit
# =============================================================================================

GELU_STAGES = rtl_localparam("gelu_unit.sv", "GELU_STAGES")


def gelu_cycles(beats: int) -> int:
    """Cycles from the first accepted input beat to the last output beat, ideal streams.

    One beat per cycle in, and each leaves GELU_STAGES + REQUANT_LATENCY registers later.
    """
    if beats < 1:
        raise ValueError(f"beats: need at least one, got {beats}")
    return beats + GELU_STAGES + REQUANT_LATENCY


@dataclass(frozen=True)
class GeluUnitParams:
    """The SV parameters of one gelu_unit build."""

    lanes: int
    channels: int
    max_sets: int
    user_w: int = 16
    dest_w: int = 8

    def __post_init__(self) -> None:
        if self.lanes < 1 or self.channels % self.lanes:
            raise ValueError(f"channels: {self.channels} is not a multiple of lanes="
                             f"{self.lanes}")
        if self.max_sets < 1 or self.max_sets > 255:
            raise ValueError(f"max_sets: need 1..255, got {self.max_sets}")
        if (self.words - 1).bit_length() > self.dest_w:
            raise ValueError(f"dest_w: {self.dest_w} bits cannot index {self.words} words")

    @property
    def words(self) -> int:
        return self.channels // self.lanes

    @property
    def prm_bytes(self) -> int:
        return HDR_BYTES + max(GELU_SCALAR_BYTES, (MULT_BYTES + SHIFT_BYTES) * self.lanes)

    def hdl_parameters(self) -> dict[str, int]:
        return {"LANES": self.lanes, "CHANNELS": self.channels, "MAX_SETS": self.max_sets,
                "USER_W": self.user_w, "DEST_W": self.dest_w, "IN_BITS": GELU_IN_BITS,
                "ONE_BITS": GELU_ONE_BITS, "OUT_BITS": ACT_BITS, "MULT_W": MULT_BITS,
                "SHIFT_W": SHIFT_W, "Q_B_W": GELU_Q_B_BITS}


@dataclass(frozen=True)
class GeluCase:
    """Tokens of FFN1 output through one parameter set: q int16 [tokens, channels]."""

    name: str
    q: np.ndarray
    gelu: GeluParams
    out: Requant  # gelu_out: mult/shift per channel or scalar, bits 8
    set_index: int = 0
    load: bool = True  # load this set's parameters before the case (False: reuse them)
    user_seed: int = 0

    @property
    def tokens(self) -> int:
        return int(self.q.shape[0])

    def reference(self) -> np.ndarray:
        """The golden result, int8 [tokens, channels]."""
        return rescale(int_gelu(self.q, self.gelu), self.out).astype(np.int8)

    def user(self, params: GeluUnitParams) -> np.ndarray:
        """Opaque per-beat tuser values (the bench checks they come back unchanged)."""
        rng = np.random.default_rng(self.user_seed)
        return rng.integers(0, 1 << params.user_w, size=self.tokens * params.words)

    def check(self, params: GeluUnitParams) -> None:
        """Raise ValueError naming what of the case does not fit the build."""
        p = self.gelu
        if self.q.ndim != 2 or self.q.shape[1] != params.channels:
            raise ValueError(f"case {self.name}: q must be [tokens, {params.channels}], got "
                             f"{list(self.q.shape)}")
        lo, hi = int_range(GELU_IN_BITS)
        if self.q.min(initial=0) < lo or self.q.max(initial=0) > hi:
            raise ValueError(f"case {self.name}: q outside int{GELU_IN_BITS}")
        if not 0 <= self.set_index < params.max_sets:
            raise ValueError(f"case {self.name}: set {self.set_index} outside "
                             f"[0, {params.max_sets})")
        if not 0 < p.q_b < 1 << GELU_Q_B_BITS:
            raise ValueError(f"case {self.name}: q_b={p.q_b} outside (0, 2^{GELU_Q_B_BITS}); "
                             "the GELU input scale is too fine for gelu_unit")
        if not 0 < p.q_one <= 1 << GELU_ONE_BITS or not 0 <= p.shift < 1 << GELU_SHIFT_BITS:
            raise ValueError(f"case {self.name}: q_one={p.q_one}, shift={p.shift} are not "
                             "GeluParams.derive's; re-derive them")
        one_sh = p.q_one << p.shift
        if p.q_b * p.q_b > 2 * one_sh or one_sh >= 1 << (2 * GELU_Q_B_BITS + 1):
            raise ValueError(f"case {self.name}: q_b^2 exceeds 2*(q_one << shift); the "
                             "erf magnitude would leave [-q_one, q_one]: re-derive GeluParams")
        _check_requant(f"case {self.name}: gelu_out", _per_channel(self.out.mult, 1),
                       _per_channel(self.out.shift, 1))


def pack_gelu_params(case: GeluCase, params: GeluUnitParams) -> bytes:
    """s_axis_prm beats: the set's scalars, then one beat per channel word of gelu_out."""
    p, width = case.gelu, params.prm_bytes
    scalars = (int(p.q_b).to_bytes(4, "little") + int(p.q_one).to_bytes(2, "little")
               + bytes([p.shift]))
    beats = [_pad(_header(GELU_SCALARS, case.set_index, 0) + scalars, width)]
    mult = _per_channel(case.out.mult, params.channels).reshape(params.words, params.lanes)
    shift = _per_channel(case.out.shift, params.channels).reshape(params.words, params.lanes)
    for w in range(params.words):
        beats.append(_pad(_header(GELU_CHANNELS, case.set_index, w)
                          + mult[w].astype("<u2").tobytes() + shift[w].astype(np.uint8).tobytes(),
                          width))
    return b"".join(beats)


def pack_gelu_input(case: GeluCase) -> list[bytes]:
    """s_axis data, one frame (tlast at its end) per token: channel words in order."""
    return [row.astype("<i2").tobytes() for row in case.q]


def unpack_gelu_output(data: bytes, case: GeluCase) -> np.ndarray:
    flat = np.frombuffer(data, dtype=np.int8)
    if flat.size != case.q.size:
        raise ValueError(f"case {case.name}: output has {flat.size} bytes, expected "
                         f"{case.q.size}")
    return flat.reshape(case.q.shape)


def random_gelu_case(name: str, params: GeluUnitParams, tokens: int, rng: np.random.Generator,
                     scale: float = 1e-3, set_index: int = 0,
                     extremes: bool = False) -> GeluCase:
    """Random int16 inputs at `scale`, per-channel gelu_out to int8 covering about +-2*max.

    With `extremes` the rows are int16 min, max, zero and alternating min/max.
    """
    lo, hi = int_range(GELU_IN_BITS)
    q = rng.integers(lo, hi + 1, size=(tokens, params.channels))
    if extremes:
        special = np.array([lo, hi, 0, -1, 1], dtype=np.int64)
        q[0::4] = lo
        q[1::4] = hi
        q[2::4] = 0
        q[3::4] = special[np.arange(params.channels) % special.size]
    gelu = GeluParams.derive(scale)
    top = hi * scale
    out_scale = rng.uniform(0.5, 2.0, size=params.channels) * top / 127
    out = Requant.derive(gelu.out_scale, out_scale, ACT_BITS)
    return GeluCase(name, q, gelu, out, set_index, user_seed=int(rng.integers(1 << 31)))


# =============================================================================================
# Residual add + LayerNorm unit
# =============================================================================================

def mean_divider(n: int) -> tuple[int, int, int]:
    """(M, k, B): floor(t / n) == (t * M) >> k for every 0 <= t < 2**B.

    t is the offset token sum (|sum x + n//2| < n * 2**(RES_BITS-1) after the sign fold),
    so B bits cover it. With c = ceil(log2 n), k = B + c and M = ceil(2**k / n), the error
    e = M*n - 2**k < n <= 2**c gives t*e < 2**k, hence the floor is exact (tested too).
    """
    if n < 1:
        raise ValueError(f"n: need >= 1, got {n}")
    bits = (n << (RES_BITS - 1)).bit_length()
    k = bits + (n - 1).bit_length()
    mult = -(-(1 << k) // n)
    return mult, k, bits


@dataclass(frozen=True)
class LayerNormUnitParams:
    """The SV parameters of one residual_layernorm build."""

    lanes: int
    n: int
    max_sets: int

    def __post_init__(self) -> None:
        if self.lanes < 1 or self.n % self.lanes or self.n // self.lanes < 2:
            raise ValueError(f"n: {self.n} must be a multiple of lanes={self.lanes} with "
                             "at least 2 beats per token")
        if not 1 <= self.max_sets <= 255:
            raise ValueError(f"max_sets: need 1..255, got {self.max_sets}")

    @property
    def beats(self) -> int:
        return self.n // self.lanes

    @property
    def prm_bytes(self) -> int:
        per_lane = GAMMA_BYTES + BIAS_BYTES + MULT_BYTES + SHIFT_BYTES
        return HDR_BYTES + per_lane * self.lanes

    def hdl_parameters(self) -> dict[str, int]:
        mult, k, _ = mean_divider(self.n)
        return {"LANES": self.lanes, "N": self.n, "MAX_SETS": self.max_sets,
                "RES_BITS": RES_BITS, "SKIP_BITS": ACT_BITS, "OUT_BITS": ACT_BITS,
                "MULT_W": MULT_BITS, "SHIFT_W": SHIFT_W, "RECIP_BITS": LN_RECIP_BITS,
                "NORM_BITS": LN_NORM_BITS, "NORM_SAT_BITS": LN_NORM_SAT_BITS,
                "GAMMA_BITS": GAMMA_BITS, "STD_MIN": LN_STD_MIN, "MEAN_MULT": mult,
                "MEAN_SHIFT": k}


def _ln_depths(n: int, lanes: int) -> dict[str, int]:
    """The pipeline depths of residual_layernorm, from its SV (see layernorm_cycles)."""
    var_w = 2 * RES_BITS + (n - 1).bit_length()
    return {
        "in": rtl_localparam("residual_layernorm.sv", "IN_STAGES") + REQUANT_LATENCY,
        "tree": (lanes - 1).bit_length(),
        "scalar": rtl_localparam("residual_layernorm.sv", "SCALAR_STAGES"),
        "isqrt": (var_w + 1) // 2,
        "recip": LN_RECIP_BITS + 1,
        "fifo": 1,  # the record FIFO: written, then popped by the idle output pass
        "out": rtl_localparam("residual_layernorm.sv", "OUT_STAGES") + REQUANT_LATENCY,
    }


def layernorm_latency(n: int, lanes: int) -> int:
    """Cycles from a token's last accepted input beat to its first output beat (ideal)."""
    d = _ln_depths(n, lanes)
    return sum(d.values())


def layernorm_cycles(tokens: int, n: int, lanes: int) -> int:
    """Cycles from the first accepted input beat to the last output beat, ideal streams.

    Tokens enter back to back (N/LANES beats each) and leave N/LANES cycles apart, so the
    per-token interval is N/LANES and
        cycles = tokens * N/LANES + layernorm_latency(N, LANES) + N/LANES - 1 + 1
    (the last token's N/LANES - 1 later beats after its first output, both ends counted).
    """
    if tokens < 1:
        raise ValueError(f"tokens: need at least one, got {tokens}")
    beats = n // lanes
    return tokens * beats + layernorm_latency(n, lanes) + beats


@dataclass(frozen=True)
class LayerNormCase:
    """Tokens through residual add + LayerNorm: branch int16 and skip int8 [tokens, n]."""

    name: str
    branch: np.ndarray
    skip: np.ndarray
    align: Requant  # residual1/residual2: skip -> RES_BITS
    ln: LayerNormParams
    set_index: int = 0
    load: bool = True

    @property
    def tokens(self) -> int:
        return int(self.branch.shape[0])

    def residual(self) -> np.ndarray:
        return residual_add(self.branch, self.skip, self.align)

    def reference(self) -> np.ndarray:
        """The golden result, int8 [tokens, n]."""
        return int_layernorm(self.residual(), self.ln).astype(np.int8)

    def check(self, params: LayerNormUnitParams) -> None:
        """Raise ValueError naming what of the case does not fit the build."""
        shape = (self.tokens, params.n)
        if self.branch.shape != shape or self.skip.shape != shape:
            raise ValueError(f"case {self.name}: branch and skip must be [tokens, "
                             f"{params.n}], got {list(self.branch.shape)}, "
                             f"{list(self.skip.shape)}")
        for what, a, bits in (("branch", self.branch, RES_BITS), ("skip", self.skip, ACT_BITS)):
            lo, hi = int_range(bits)
            if a.min(initial=0) < lo or a.max(initial=0) > hi:
                raise ValueError(f"case {self.name}: {what} outside int{bits}")
        if not 0 <= self.set_index < params.max_sets:
            raise ValueError(f"case {self.name}: set {self.set_index} outside "
                             f"[0, {params.max_sets})")
        if self.align.bits != RES_BITS or self.ln.out_bits != ACT_BITS:
            raise ValueError(f"case {self.name}: the unit aligns skip to {RES_BITS} bits and "
                             f"outputs int{ACT_BITS}, got {self.align.bits} and "
                             f"{self.ln.out_bits}")
        glo, ghi = int_range(GAMMA_BITS)
        if np.any((self.ln.gamma < glo) | (self.ln.gamma > ghi)):
            raise ValueError(f"case {self.name}: gamma outside int{GAMMA_BITS}")
        if np.any((self.ln.beta < ACC_MIN) | (self.ln.beta > ACC_MAX)):
            raise ValueError(f"case {self.name}: beta outside int32")
        for what, m, s in (("align", self.align.mult, self.align.shift),
                           ("ln out", self.ln.mult, self.ln.shift)):
            _check_requant(f"case {self.name}: {what}", _per_channel(m, 1),
                           _per_channel(s, 1))


def pack_layernorm_params(case: LayerNormCase, params: LayerNormUnitParams) -> bytes:
    """s_axis_prm beats: per channel word an align beat, then per channel word a norm beat."""
    n, lanes, width = params.n, params.lanes, params.prm_bytes

    def words(v: int | np.ndarray) -> np.ndarray:
        return _per_channel(v, n).reshape(params.beats, lanes)

    am, ash = words(case.align.mult), words(case.align.shift)
    g, b = words(case.ln.gamma), words(case.ln.beta)
    om, osh = words(case.ln.mult), words(case.ln.shift)
    beats = []
    for w in range(params.beats):
        beats.append(_pad(_header(LN_ALIGN, case.set_index, w) + am[w].astype("<u2").tobytes()
                          + ash[w].astype(np.uint8).tobytes(), width))
    for w in range(params.beats):
        beats.append(_pad(_header(LN_NORM, case.set_index, w) + g[w].astype("<i2").tobytes()
                          + b[w].astype("<i4").tobytes() + om[w].astype("<u2").tobytes()
                          + osh[w].astype(np.uint8).tobytes(), width))
    return b"".join(beats)


def unpack_layernorm_output(data: bytes, case: LayerNormCase) -> np.ndarray:
    flat = np.frombuffer(data, dtype=np.int8)
    if flat.size != case.branch.size:
        raise ValueError(f"case {case.name}: output has {flat.size} bytes, expected "
                         f"{case.branch.size}")
    return flat.reshape(case.branch.shape)


def random_layernorm_case(name: str, params: LayerNormUnitParams, tokens: int,
                          rng: np.random.Generator, set_index: int = 0,
                          extremes: bool = False) -> LayerNormCase:
    """Random branch/skip and LayerNorm constants of realistic ranges.

    With `extremes`: rows of int16 min and max (saturating residuals), constant rows
    (std 0: the output is beta), all zeros, alternating min/max (the largest variance),
    and rows of sum (x-mean)^2 = 1, 2, 4 (std 1 and 2: recip = 2^40 and 2^39, the top
    quotient bits, with y != 0).
    """
    n = params.n
    lo, hi = int_range(RES_BITS)
    branch = rng.integers(lo // 8, hi // 8, size=(tokens, n))
    skip = rng.integers(-128, 128, size=(tokens, n))
    if extremes:
        one_hot = np.eye(1, n, dtype=np.int64)[0]
        rows = [np.full(n, lo), np.full(n, hi), np.full(n, 1234), np.zeros(n, np.int64),
                np.where(np.arange(n) % 2, lo, hi), one_hot, 2 * one_hot,
                one_hot + np.roll(one_hot, 1)]
        for i in range(tokens):
            branch[i] = rows[i % len(rows)]
            skip[i] = (np.full(n, -128) if i % len(rows) == 0 else
                       np.full(n, 127) if i % len(rows) == 1 else np.zeros(n, np.int64))
    align = Requant.derive(rng.uniform(20, 200, size=n), 1.0, RES_BITS)
    gamma = rng.integers(-(1 << (GAMMA_BITS - 1)), 1 << (GAMMA_BITS - 1), size=n)
    beta = rng.integers(-(1 << 20), 1 << 20, size=n)
    out = Requant.derive(2.0 ** -17, 1.0, ACT_BITS)  # spans int8, saturating the tails
    ln = LayerNormParams(gamma, beta, out.mult, out.shift)
    return LayerNormCase(name, branch, skip, align, ln, set_index)
