"""cocotb testbench of hw/rtl/gelu_unit.sv: runs the cases of a case file, records outputs.

Run by `sim.rtl.runner` inside the simulator. Per case: load the set's parameters on
s_axis_prm (unless the case reuses them), set cfg_set, send one frame per token on s_axis
(tdest = channel word, tuser = the case's opaque values), and record the output bytes,
the tuser/tdest of every output beat, the frame count and the cycles from the first
accepted input beat to the last output beat. sim/rtl/vector_sim.py compares them.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import RisingEdge
from cocotbext.axi import AxiStreamFrame

from sim.rtl.tb_common import EngineBench, hold_reset
from sim.rtl.vector_case import GeluCase, pack_gelu_input, pack_gelu_params


async def reset(dut) -> None:
    """The units have no start: hold rst_n low for RESET_CYCLES, then one cycle out."""
    dut.cfg_set.value = 0
    await hold_reset(dut.clk, dut.rst_n)


def beat_fields(frame: AxiStreamFrame, beat_bytes: int) -> tuple[list[int], list[int]]:
    """(tuser, tdest) of each beat of a frame received with compact=False (per-byte lists)."""
    return ([int(u) for u in frame.tuser[::beat_bytes]],
            [int(d) for d in frame.tdest[::beat_bytes]])


@cocotb.test()
async def run_cases(dut) -> None:
    bench = EngineBench(dut, inputs=("s_axis_prm", "s_axis"), gapped=("s_axis",),
                        counted="s_axis")
    prm, data = bench.sources["s_axis_prm"], bench.sources["s_axis"]
    await reset(dut)

    results = []
    case: GeluCase
    for params, case in bench.cases:  # (GeluUnitParams, GeluCase)
        in_bytes, out_bytes = 2 * params.lanes, params.lanes
        if case.load:
            await prm.send(pack_gelu_params(case, params))
            await prm.wait()
            await RisingEdge(dut.clk)
        dut.cfg_set.value = case.set_index
        await RisingEdge(dut.clk)
        bench.counter.arm()
        user = case.user(params).tolist()
        for t, row in enumerate(pack_gelu_input(case)):
            beats = range(t * params.words, (t + 1) * params.words)
            await data.send(AxiStreamFrame(
                row, tdest=[b % params.words for b in beats for _ in range(in_bytes)],
                tuser=[user[b] for b in beats for _ in range(in_bytes)]))
        out, users, dests = bytearray(), [], []
        for _ in range(case.tokens):
            frame = await bench.receive(case.tokens * params.words, compact=False)
            out += bytes(frame.tdata)
            u, d = beat_fields(frame, out_bytes)
            users += u
            dests += d
        await data.wait()
        results.append({"name": case.name, "output": out.hex(), "tuser": users,
                         "tdest": dests, "cycles": bench.counter.cycles()})
    bench.write_results(results)
