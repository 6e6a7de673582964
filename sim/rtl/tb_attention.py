"""cocotb testbench of hw/rtl/sparse_attention.sv: runs the cases of a case file.

Like tb_spmm: the case file (SBF_RTL_CASES) holds the cases and stimulus options; the
result file (SBF_RTL_RESULTS) gets per case the output bytes, the selected key indices
(tuser), the cycles from the first accepted K beat to the last output beat, and the
engine's own counters of estimate and exact-part cycles.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, gather, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource

from sim.rtl.attention_case import AttentionCase
from sim.rtl.stimulus import (
    CLOCK_NS,
    RESET_CYCLES,
    CycleCounter,
    StimulusOptions,
    pause_generator,
    timeout_cycles,
)

DIV_CYCLES = 48  # a bound on the per-query fixed cost, for the timeout only


@cocotb.test()
async def run_cases(dut) -> None:
    spec = pickle.loads(Path(os.environ["SBF_RTL_CASES"]).read_bytes())
    cases: list[AttentionCase] = spec["cases"]
    opts: StimulusOptions = spec["options"]
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())

    def source(prefix: str) -> AxiStreamSource:
        return AxiStreamSource(AxiStreamBus.from_prefix(dut, prefix), dut.clk, dut.rst_n,
                               reset_active_level=False)

    ksrc, vsrc, qsrc = source("s_axis_k"), source("s_axis_v"), source("s_axis_q")
    out = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_out"), dut.clk, dut.rst_n,
                        reset_active_level=False)
    if opts.input_gaps:
        for i, src in enumerate((ksrc, vsrc, qsrc)):
            src.set_pause_generator(pause_generator(opts.seed + 10 * i, opts.gap_prob))
    if opts.output_backpressure:
        out.set_pause_generator(pause_generator(opts.seed + 1, opts.gap_prob))
    counter = CycleCounter(dut.clk, (dut.s_axis_k_tvalid, dut.s_axis_k_tready),
                           (dut.m_axis_out_tvalid, dut.m_axis_out_tready))

    dut.start.value = 0
    dut.rst_n.value = 0
    for _ in range(RESET_CYCLES):
        await RisingEdge(dut.clk)
    dut.rst_n.value = 1
    await RisingEdge(dut.clk)

    results = []
    for case in cases:
        qt = case.quant
        dut.cfg_len.value = case.length
        dut.cfg_k.value = case.k
        dut.cfg_score_mult.value = qt.score_mult
        dut.cfg_score_shift.value = qt.score_shift
        dut.cfg_exp_q_ln2.value = qt.exp.q_ln2
        dut.cfg_exp_q_b.value = qt.exp.q_b
        dut.cfg_exp_q_c.value = qt.exp.q_c
        dut.cfg_out_mult.value = qt.out_mult
        dut.cfg_out_shift.value = qt.out_shift
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        counter.arm()
        await gather(ksrc.send(case.k8.tobytes()), vsrc.send(case.v8.tobytes()))
        await qsrc.send(case.q8.tobytes())
        budget = timeout_cycles(case.length * (case.length + 3 * case.k + DIV_CYCLES))
        frame = await with_timeout(out.recv(compact=False), budget * CLOCK_NS, "ns")
        while not dut.done.value:
            await RisingEdge(dut.clk)
        results.append({"name": case.name, "output": bytes(frame.tdata).hex(),
                        # cocotbext-axi keeps tuser per byte lane: take one per beat
                        "tuser": [int(u) for u in frame.tuser[::case.q8.shape[1]]],
                        "cycles": counter.cycles(),
                        "estimate_cycles": int(dut.perf_estimate_cycles.value),
                        "exact_cycles": int(dut.perf_exact_cycles.value)})
        await RisingEdge(dut.clk)
    Path(os.environ["SBF_RTL_RESULTS"]).write_text(json.dumps(results))
