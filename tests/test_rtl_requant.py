"""The requantization lane (hw/rtl/requant.sv) alone against sim/golden/requant.py.

Random and corner vectors (saturating bias adds, the largest products, every shift,
narrow on and off) stream through the lane one per cycle in Verilator and Icarus; every
output must equal add_bias + requantize, to OUT_BITS or (narrow) to 8 bits, exactly
REQUANT_LATENCY cycles later.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.golden.requant import (
    ACC_MAX,
    ACC_MIN,
    MULT_MAX,
    SHIFT_MAX,
    SHIFT_MIN,
    add_bias,
    requantize,
)
from sim.rtl.cycles import REQUANT_LATENCY, rtl_localparam
from sim.rtl.runner import Engine, lint, run_cases
from sim.rtl.stimulus import StimulusOptions
from tests.rtl_helpers import SIMS, simulator

REQUANT = Engine("requant", "requant", ("requant.sv",), "sim.rtl.tb_requant")
NARROW_BITS = 8
VECTORS = 1200


def _vectors(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Uniform values, a fifth of them replaced by range ends; small accumulators too."""
    def pick(lo: int, hi: int) -> np.ndarray:
        x = rng.integers(lo, hi + 1, size=n, dtype=np.int64)
        ends = rng.random(n) < 0.2
        x[ends] = rng.choice(np.array([lo, hi, lo + 1, hi - 1, 0, 1]), size=int(ends.sum()))
        return np.clip(x, lo, hi)

    acc, bias = pick(ACC_MIN, ACC_MAX), pick(ACC_MIN, ACC_MAX)
    small = rng.random(n) < 0.5  # values that the shifts bring into the output range
    acc[small] >>= rng.integers(0, 31, size=int(small.sum()))
    bias[small] >>= 20
    return {"acc": acc, "bias": bias, "mult": pick(0, MULT_MAX),
            "shift": pick(SHIFT_MIN, SHIFT_MAX), "narrow": rng.integers(0, 2, size=n)}


def _reference(v: dict[str, np.ndarray], out_bits: int) -> np.ndarray:
    b = add_bias(v["acc"], v["bias"])
    return np.where(v["narrow"] == 1, requantize(b, v["mult"], v["shift"], NARROW_BITS),
                    requantize(b, v["mult"], v["shift"], out_bits))


@pytest.mark.parametrize("sim_name", SIMS)
@pytest.mark.parametrize("out_bits", [8, 16])
def test_lane_matches_golden_with_its_latency(sim_name: str, out_bits: int) -> None:
    sim = simulator(sim_name)
    v = _vectors(np.random.default_rng(out_bits), VECTORS)
    [res] = run_cases(REQUANT, {"OUT_BITS": out_bits}, [v], sim, StimulusOptions(False, False))
    y = np.array(res["y"][REQUANT_LATENCY - 1:REQUANT_LATENCY - 1 + VECTORS], dtype=np.int64)
    ref = _reference(v, out_bits)
    bad = np.flatnonzero(y != ref)
    assert bad.size == 0, [(int(v["acc"][i]), int(v["bias"][i]), int(v["mult"][i]),
                            int(v["shift"][i]), int(v["narrow"][i]), int(y[i]), int(ref[i]))
                           for i in bad[:5]]


@pytest.mark.xdist_group("rtl_verilator")
@pytest.mark.parametrize("out_bits", [8, 16, 24])
def test_lane_lint_wall_clean(out_bits: int) -> None:
    warnings = lint(REQUANT, {"OUT_BITS": out_bits}, simulator("verilator"))
    # the package constant is used by the lane's users, not by the lane itself
    assert warnings == ""


def test_latency_is_read_from_the_rtl() -> None:
    assert REQUANT_LATENCY == rtl_localparam("requant.sv", "LATENCY") == 7
    with pytest.raises(RuntimeError, match="NO_SUCH"):
        rtl_localparam("requant.sv", "NO_SUCH")
