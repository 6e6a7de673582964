"""cocotb testbench of hw/rtl/sparse_attention.sv: runs the cases of a case file.

Like tb_spmm: the case file (SBF_RTL_CASES) holds the cases and stimulus options; the
result file (SBF_RTL_RESULTS) gets per case the output bytes, the selected key indices
(tuser), the cycles from the first accepted K beat to the last output beat, and the
engine's own counters of estimate and exact-part cycles. Clock, streams, reset and cycle
counting are sim/rtl/tb_common.py's.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import RisingEdge, gather

from sim.rtl.attention_case import AttentionCase
from sim.rtl.cycles import attention_cycles
from sim.rtl.tb_common import EngineBench

INPUTS = ("s_axis_k", "s_axis_v", "s_axis_q")


@cocotb.test()
async def run_cases(dut) -> None:
    bench = EngineBench(dut, inputs=INPUTS, gapped=INPUTS, counted="s_axis_k")
    ksrc, vsrc, qsrc = (bench.sources[p] for p in INPUTS)
    await bench.reset()

    results = []
    case: AttentionCase
    for case in bench.cases:
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
        await bench.start()
        await gather(ksrc.send(case.k8.tobytes()), vsrc.send(case.v8.tobytes()))
        await qsrc.send(case.q8.tobytes())
        frame = await bench.receive(attention_cycles(case.length, case.k, case.q8.shape[1]),
                                    compact=False)
        await bench.wait_done()
        results.append({"name": case.name, "output": bytes(frame.tdata).hex(),
                        # cocotbext-axi keeps tuser per byte lane: take one per beat
                        "tuser": [int(u) for u in frame.tuser[::case.q8.shape[1]]],
                        "cycles": bench.counter.cycles(),
                        "estimate_cycles": int(dut.perf_estimate_cycles.value),
                        "exact_cycles": int(dut.perf_exact_cycles.value)})
        await RisingEdge(dut.clk)
    bench.write_results(results)
