"""cocotb testbench of hw/rtl/hp_spmm.sv: runs the cases of a case file, records outputs.

Run by `sim.rtl.runner` inside the simulator; the case file (SBF_RTL_CASES) holds the
cases and the stimulus options, the result file (SBF_RTL_RESULTS) gets, per case, the raw
output bytes and the cycles from the first accepted input beat to the last accepted output
beat. The runner compares the outputs with the golden model. Clock, streams, reset and
cycle counting are sim/rtl/tb_common.py's.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import RisingEdge

from sim.rtl.spmm_case import SpmmCase, pack_rows, pack_weights
from sim.rtl.tb_common import EngineBench


@cocotb.test()
async def run_cases(dut) -> None:
    bench = EngineBench(dut, inputs=("s_axis_wgt", "s_axis_row", "s_axis_act"),
                        gapped=("s_axis_act",), counted="s_axis_act")
    wgt, row, act = (bench.sources[p] for p in ("s_axis_wgt", "s_axis_row", "s_axis_act"))
    await bench.reset()

    results = []
    case: SpmmCase
    for case in bench.cases:
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
        dut.cfg_rbase.value = 0  # one layer per run: it starts at the memories' base
        dut.cfg_wbase.value = 0
        dut.cfg_narrow.value = 0  # OUT_BITS is 8 already
        # queued before start, so the first beat can be taken in the cycle after it (the
        # earliest the engine accepts one)
        await act.send(case.x.tobytes())
        await bench.start()
        frame = await bench.receive(
            case.length * max(hp.nnzb + hp.n_block_rows, hp.n_block_cols))
        await bench.wait_done()
        await RisingEdge(dut.clk)
        results.append({"name": case.name, "output": bytes(frame.tdata).hex(),
                        "cycles": bench.counter.cycles()})
    bench.write_results(results)
