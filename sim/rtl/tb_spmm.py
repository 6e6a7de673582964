"""cocotb testbench of hw/rtl/hp_spmm.sv: runs the cases of a case file, records outputs.

Run by `sim.rtl.runner` inside the simulator; the case file (SBF_RTL_CASES) holds the
cases and the stimulus options, the result file (SBF_RTL_RESULTS) gets, per case, the raw
output bytes and the cycles from the first accepted input beat to the last accepted output
beat. The runner compares the outputs with the golden model.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource

from sim.rtl.spmm_case import SpmmCase, pack_rows, pack_weights
from sim.rtl.stimulus import (
    CLOCK_NS,
    RESET_CYCLES,
    CycleCounter,
    StimulusOptions,
    pause_generator,
    timeout_cycles,
)


@cocotb.test()
async def run_cases(dut) -> None:
    spec = pickle.loads(Path(os.environ["SBF_RTL_CASES"]).read_bytes())
    cases: list[SpmmCase] = spec["cases"]
    opts: StimulusOptions = spec["options"]
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())

    def source(prefix: str) -> AxiStreamSource:
        return AxiStreamSource(AxiStreamBus.from_prefix(dut, prefix), dut.clk, dut.rst_n,
                               reset_active_level=False)

    wgt, row, act = source("s_axis_wgt"), source("s_axis_row"), source("s_axis_act")
    out = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_out"), dut.clk, dut.rst_n,
                        reset_active_level=False)
    if opts.input_gaps:
        act.set_pause_generator(pause_generator(opts.seed, opts.gap_prob))
    if opts.output_backpressure:
        out.set_pause_generator(pause_generator(opts.seed + 1, opts.gap_prob))
    counter = CycleCounter(dut.clk, (dut.s_axis_act_tvalid, dut.s_axis_act_tready),
                           (dut.m_axis_out_tvalid, dut.m_axis_out_tready))

    dut.start.value = 0
    dut.rst_n.value = 0
    for _ in range(RESET_CYCLES):
        await RisingEdge(dut.clk)
    dut.rst_n.value = 1
    await RisingEdge(dut.clk)

    results = []
    for case in cases:
        hp = case.hp
        if hp.nnzb:
            await wgt.send(pack_weights(hp))
        await row.send(pack_rows(case))
        await wgt.wait()
        await row.wait()
        await RisingEdge(dut.clk)
        dut.cfg_len.value = case.length
        dut.cfg_nbr.value = hp.n_block_rows
        dut.cfg_nbc.value = hp.n_block_cols
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        counter.arm()
        await act.send(case.x.tobytes())
        budget = timeout_cycles(case.length * max(hp.nnzb + hp.n_block_rows, hp.n_block_cols))
        frame = await with_timeout(out.recv(), budget * CLOCK_NS, "ns")
        while not dut.done.value:
            await RisingEdge(dut.clk)
        await RisingEdge(dut.clk)
        results.append({"name": case.name, "output": bytes(frame.tdata).hex(),
                        "cycles": counter.cycles()})
    Path(os.environ["SBF_RTL_RESULTS"]).write_text(json.dumps(results))
