"""cocotb testbench of hw/rtl/residual_layernorm.sv: runs the cases of a case file.

Run by `sim.rtl.runner` inside the simulator. Per case: load the set's parameters on
s_axis_prm (unless the case reuses them), set cfg_set, stream every token on s_axis_branch
(int16) and s_axis_skip (int8), one frame per token each, and record the output bytes, the
beats of every output frame (tlast framing) and the cycles from the first accepted branch
beat to the last output beat. sim/rtl/vector_sim.py compares them with the golden model.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import RisingEdge

from sim.rtl.tb_common import EngineBench
from sim.rtl.tb_gelu import reset
from sim.rtl.vector_case import LayerNormCase, pack_layernorm_params


@cocotb.test()
async def run_cases(dut) -> None:
    bench = EngineBench(dut, inputs=("s_axis_prm", "s_axis_branch", "s_axis_skip"),
                        gapped=("s_axis_branch", "s_axis_skip"), counted="s_axis_branch")
    prm, branch, skip = (bench.sources[p] for p in ("s_axis_prm", "s_axis_branch",
                                                    "s_axis_skip"))
    await reset(dut)

    results = []
    case: LayerNormCase
    for params, case in bench.cases:  # (LayerNormUnitParams, LayerNormCase)
        if case.load:
            await prm.send(pack_layernorm_params(case, params))
            await prm.wait()
            await RisingEdge(dut.clk)
        dut.cfg_set.value = case.set_index
        await RisingEdge(dut.clk)
        bench.counter.arm()
        for b_row, s_row in zip(case.branch, case.skip, strict=True):
            await branch.send(b_row.astype("<i2").tobytes())
            await skip.send(s_row.astype("i1").tobytes())
        out, frames = bytearray(), []
        budget = case.tokens * 2 * params.beats + 200
        for _ in range(case.tokens):
            frame = await bench.receive(budget)
            out += bytes(frame.tdata)
            frames.append(len(frame.tdata) // params.lanes)
        await branch.wait()
        await skip.wait()
        results.append({"name": case.name, "output": out.hex(), "frames": frames,
                        "cycles": bench.counter.cycles()})
    bench.write_results(results)
