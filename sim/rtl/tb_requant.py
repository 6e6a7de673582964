"""cocotb testbench of hw/rtl/requant.sv alone: streams vectors through the lane.

The case file (SBF_RTL_CASES) holds cases of equal-length int arrays `acc`, `bias`,
`mult`, `shift`, `narrow`; one vector enters per cycle and the result file gets, per
case, `y` read every cycle after the edge (None while it is X). The output of vector i
must appear at read i + LATENCY - 1 (sim/rtl/cycles.py:REQUANT_LATENCY), as the test
checks.
"""

from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from sim.rtl.cycles import REQUANT_LATENCY
from sim.rtl.stimulus import CLOCK_NS
from sim.rtl.tb_common import read_spec, write_results

WORD = (1 << 32) - 1  # acc and bias are driven as two's-complement bit patterns


@cocotb.test()
async def run_cases(dut) -> None:
    spec = read_spec()
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.en.value = 1
    results = []
    for case in spec["cases"]:
        n = len(case["acc"])
        ys = []
        for i in range(n + REQUANT_LATENCY):
            await FallingEdge(dut.clk)
            j = min(i, n - 1)
            dut.acc.value = int(case["acc"][j]) & WORD
            dut.bias.value = int(case["bias"][j]) & WORD
            dut.mult.value = int(case["mult"][j])
            dut.shift.value = int(case["shift"][j])
            dut.narrow.value = int(case["narrow"][j])
            await RisingEdge(dut.clk)
            await ReadOnly()
            y = dut.y.value
            ys.append(y.to_signed() if y.is_resolvable else None)  # X while it fills
        results.append({"y": ys})
    write_results(results)
