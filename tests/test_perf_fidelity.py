"""The cycle model against cycles measured in RTL simulation (issue 8: within 5%).

Both RTL engines, HP matmul and sparse attention. Shares the RTL tests' small builds
(out/rtl_build, locked; same xdist group), so they cost nothing extra when those ran first.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.perf_fidelity import (
    ATTENTION,
    ENGINES,
    TOLERANCE,
    measured_attention_rows,
    measured_rows,
    random_cases,
)
from sim.rtl.runner import DEFAULT_BUILD_ROOT
from tests.rtl_helpers import simulator

CASES = 6


@pytest.mark.xdist_group("rtl_verilator")
def test_models_within_5_percent_of_verilator_cycles() -> None:
    simulator("verilator")
    params, _ = ENGINES[0]  # the RTL tests' small engine
    rows = measured_rows(params, random_cases(params, CASES, np.random.default_rng(7)),
                         DEFAULT_BUILD_ROOT)
    params, _ = ATTENTION  # the RTL tests' small attention engine
    rows += measured_attention_rows(params, 3, np.random.default_rng(7), DEFAULT_BUILD_ROOT)
    assert all(r["bit_exact"] for r in rows)
    assert max(r["rel_error"] for r in rows) <= TOLERANCE, rows
