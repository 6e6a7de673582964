"""Stimulus options (imported by the host side too) and the benches' primitives: clock period,
reset length, random stream gaps, timeouts, cycle counting (sim/rtl/tb_common.py uses them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

CASES_ENV = "SBF_RTL_CASES"  # the runner's case file (pickled cases and options) for a bench
RESULTS_ENV = "SBF_RTL_RESULTS"  # where the bench writes its per-case results (JSON)
CLOCK_NS = 10
RESET_CYCLES = 4
TIMEOUT_FACTOR = 20  # a run slower than this times its ideal cycles is a hang
TIMEOUT_SLACK = 2000  # cycles for pipelines, loads and reset on top


@dataclass(frozen=True)
class StimulusOptions:
    """How the bench drives the streams: random input gaps and output backpressure."""

    input_gaps: bool = True
    output_backpressure: bool = True
    gap_prob: float = 0.3
    seed: int = 0


def pause_generator(seed: int, prob: float) -> Iterator[bool]:
    """An endless reproducible stream of pauses, each cycle paused with probability `prob`."""
    rng = np.random.default_rng(seed)
    while True:
        yield from (rng.random(1024) < prob).tolist()


def timeout_cycles(ideal: int) -> int:
    return TIMEOUT_FACTOR * ideal + TIMEOUT_SLACK


class CycleCounter:
    """Counts cycles from the first accepted input beat to the last accepted output beat."""

    def __init__(self, clk, in_handshake: tuple, out_handshake: tuple) -> None:
        self._clk = clk
        self._in = in_handshake
        self._out = out_handshake
        self._armed = False
        self._n = 0
        self._first: int | None = None
        self._last: int | None = None
        cocotb.start_soon(self._run())

    def arm(self) -> None:
        """Start a new measurement (call before the first input beat of a case)."""
        self._armed = True
        self._first = None
        self._last = None

    def cycles(self) -> int:
        if self._first is None or self._last is None:
            raise RuntimeError("no input or no output beat was seen")
        return self._last - self._first + 1

    async def _run(self) -> None:
        while True:
            await RisingEdge(self._clk)
            self._n += 1
            if not self._armed:
                continue
            if self._first is None and self._in[0].value and self._in[1].value:
                self._first = self._n
            if self._out[0].value and self._out[1].value:
                self._last = self._n
