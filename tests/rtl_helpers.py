"""What the RTL engine tests share: the simulators to run on and finding them."""

from __future__ import annotations

import pytest

from sim.rtl.simulators import Simulator, SimulatorMissing, find_simulator

# each simulator's tests share an xdist group, so that one worker builds its models
SIMS = [pytest.param("verilator", marks=pytest.mark.xdist_group("rtl_verilator")),
        pytest.param("icarus", marks=pytest.mark.xdist_group("rtl_icarus"))]


def simulator(name: str) -> Simulator:
    """The named simulator; skips the test (saying how to install it) when it is missing."""
    try:
        return find_simulator(name)
    except SimulatorMissing as e:
        pytest.skip(str(e))
