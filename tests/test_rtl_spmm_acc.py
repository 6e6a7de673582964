"""hp_spmm's accumulator banks (hw/rtl/hp_spmm_acc.sv) alone, in Verilator and Icarus.

Random accumulate/store/idle steps at random addresses, with a read of a random word each
cycle, against a Python model of the two banks: a read sees every earlier write, and a
write in the same cycle only from the next one (the drain reads one bank while the other
accumulates, and a token can recur every cycle when a tile holds one token).
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.rtl.runner import Engine, lint, run_cases
from sim.rtl.stimulus import StimulusOptions
from tests.rtl_helpers import SIMS, simulator

ACC = Engine("spmm_acc", "hp_spmm_acc", ("hp_spmm_acc.sv",), "sim.rtl.tb_spmm_acc")
STEPS = 600
INT32 = 1 << 32


def _wrap(x: int) -> int:
    return (x + (1 << 31)) % INT32 - (1 << 31)


def _steps(rng: np.random.Generator, words: int) -> dict[str, np.ndarray]:
    dot = rng.integers(-(1 << 31), 1 << 31, size=STEPS, dtype=np.int64)
    dot[rng.random(STEPS) < 0.7] >>= 12  # mostly dot-sized values; some wrap the sum
    return {"we": (rng.random(STEPS) < 0.8).astype(np.int64),
            "first": (rng.random(STEPS) < 0.3).astype(np.int64),
            "waddr": rng.integers(0, words, size=STEPS), "dot": dot,
            "raddr": rng.integers(0, words, size=STEPS)}


def _model(v: dict[str, np.ndarray], words: int) -> list[int | None]:
    mem: list[int | None] = [None] * words
    reads = []
    for i in range(STEPS):
        reads.append(mem[v["raddr"][i]])
        if v["we"][i]:
            old = 0 if v["first"][i] else mem[v["waddr"][i]]
            mem[v["waddr"][i]] = None if old is None else _wrap(old + int(v["dot"][i]))
    return reads


@pytest.mark.parametrize("sim_name", SIMS)
@pytest.mark.parametrize("t", [2, 8])
def test_banks_accumulate_and_read(sim_name: str, t: int) -> None:
    words = 2 * t
    v = _steps(np.random.default_rng(t), words)
    [res] = run_cases(ACC, {"T": t}, [v], simulator(sim_name), StimulusOptions(False, False))
    ref = _model(v, words)
    known = [i for i, r in enumerate(ref) if r is not None]
    assert len(known) > STEPS // 2  # the check is not vacuous
    bad = [(i, res["rdata"][i], ref[i]) for i in known if res["rdata"][i] != ref[i]]
    assert bad == []


@pytest.mark.xdist_group("rtl_verilator")
def test_lint_wall_clean() -> None:
    assert lint(ACC, {"T": 8}, simulator("verilator")) == ""
