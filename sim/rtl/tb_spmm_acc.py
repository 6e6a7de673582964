"""cocotb testbench of hw/rtl/hp_spmm_acc.sv alone: one write and one read per cycle.

Each case holds equal-length int arrays `we`, `first`, `waddr`, `dot`, `raddr`, driven one
entry per cycle before the edge; the result file gets, per case, `rdata` read before each
edge (None while it is X), so entry i reads the memory as entries 0..i-1 left it.
"""

from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from sim.rtl.stimulus import CLOCK_NS
from sim.rtl.tb_common import read_spec, write_results

WORD = (1 << 32) - 1  # dot is driven as a two's-complement bit pattern


@cocotb.test()
async def run_cases(dut) -> None:
    spec = read_spec()
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    results = []
    for case in spec["cases"]:
        reads = []
        for i in range(len(case["we"])):
            await FallingEdge(dut.clk)
            for name in ("we", "first", "waddr", "raddr"):
                getattr(dut, name).value = int(case[name][i])
            dut.dot.value = int(case["dot"][i]) & WORD
            await ReadOnly()
            r = dut.rdata.value
            reads.append(r.to_signed() if r.is_resolvable else None)
            await RisingEdge(dut.clk)
        results.append({"rdata": reads})
    write_results(results)
