"""The engine-independent part of the cocotb benches (tb_spmm, tb_attention, tb_layer, ...).

An engine bench reads its cases and stimulus options from the case file (CASES_ENV),
drives its AXI4-Stream inputs through cocotbext-axi sources (with reproducible random
gaps on the inputs it names), receives `m_axis_out` through a sink (with random
backpressure), counts cycles from the first accepted beat of one input to the last
accepted output beat, and writes its per-case results to the result file (RESULTS_ENV).
Only simulator processes import this module.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from sim.rtl.stimulus import (
    CASES_ENV,
    CLOCK_NS,
    RESET_CYCLES,
    RESULTS_ENV,
    CycleCounter,
    StimulusOptions,
    pause_generator,
    timeout_cycles,
)

OUTPUT = "m_axis_out"
GAP_SEED_STRIDE = 10  # input i's gaps use seed + 10 * i; the output's use seed + 1


def read_spec() -> dict[str, Any]:
    """The case file the runner wrote (CASES_ENV): cases and stimulus options."""
    return pickle.loads(Path(os.environ[CASES_ENV]).read_bytes())


def write_results(results: list[dict[str, Any]]) -> None:
    """The per-case results, as JSON, to the result file the runner reads (RESULTS_ENV)."""
    Path(os.environ[RESULTS_ENV]).write_text(json.dumps(results))


async def hold_reset(clk, rst_n) -> None:
    """Hold the active-low reset for RESET_CYCLES, then one cycle out of reset."""
    rst_n.value = 0
    for _ in range(RESET_CYCLES):
        await RisingEdge(clk)
    rst_n.value = 1
    await RisingEdge(clk)


class EngineBench:
    """Clock, AXI-Stream sources and sink, cycle counter and case I/O of one engine bench.

    `inputs` are the s_axis prefixes to drive (`sources[prefix]`), `gapped` those of them
    that get random input gaps, `counted` the one whose first accepted beat starts the count.
    """

    def __init__(self, dut, inputs: Sequence[str], gapped: Sequence[str], counted: str) -> None:
        spec = read_spec()
        self.dut = dut
        self.cases: list[Any] = spec["cases"]
        self.options: StimulusOptions = spec["options"]
        opts = self.options
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        self.sources = {p: AxiStreamSource(AxiStreamBus.from_prefix(dut, p), dut.clk, dut.rst_n,
                                           reset_active_level=False) for p in inputs}
        self.out = AxiStreamSink(AxiStreamBus.from_prefix(dut, OUTPUT), dut.clk, dut.rst_n,
                                 reset_active_level=False)
        if opts.input_gaps:
            for i, prefix in enumerate(gapped):
                self.sources[prefix].set_pause_generator(
                    pause_generator(opts.seed + GAP_SEED_STRIDE * i, opts.gap_prob))
        if opts.output_backpressure:
            self.out.set_pause_generator(pause_generator(opts.seed + 1, opts.gap_prob))
        self.counter = CycleCounter(
            dut.clk, (getattr(dut, f"{counted}_tvalid"), getattr(dut, f"{counted}_tready")),
            (getattr(dut, f"{OUTPUT}_tvalid"), getattr(dut, f"{OUTPUT}_tready")))

    async def reset(self) -> None:
        """Hold rst_n low (start low) for RESET_CYCLES, then one cycle out of reset."""
        self.dut.start.value = 0
        await hold_reset(self.dut.clk, self.dut.rst_n)

    async def start(self) -> None:
        """A one-cycle start pulse (the cfg_* inputs set before), then arm the counter."""
        self.dut.start.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.start.value = 0
        self.counter.arm()

    async def receive(self, ideal_cycles: int, compact: bool = True) -> AxiStreamFrame:
        """The output frame; a run over timeout_cycles(ideal_cycles) fails as a hang."""
        budget = timeout_cycles(ideal_cycles)
        return await with_timeout(self.out.recv(compact=compact), budget * CLOCK_NS, "ns")

    async def wait_done(self) -> None:
        while not self.dut.done.value:
            await RisingEdge(self.dut.clk)

    def write_results(self, results: list[dict[str, Any]]) -> None:
        write_results(results)
