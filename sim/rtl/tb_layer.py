"""cocotb testbench of hw/rtl/encoder_layer.sv: loads the model image, runs the cases.

Run by `sim.rtl.runner` inside the simulator. The case file holds one `LayerRun` (the
image and the cases); per case the bench sets the run-time registers (L, layers, k),
streams the int8 input in, and records the output bytes, the cycles from the first
accepted input beat to the last accepted output beat, and the per-operator cycles of
`perf_cycles`.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import RisingEdge
from cocotbext.axi import AxiStreamFrame

from sim.rtl.layer_case import PERF_KINDS, LayerRun, layer_cycles_bound
from sim.rtl.tb_common import EngineBench

LOADS = ("s_axis_wgt", "s_axis_row", "s_axis_dest", "s_axis_desc")
PARAMS = ("s_axis_attprm", "s_axis_lnprm", "s_axis_geluprm")
PERF_BITS = 32


@cocotb.test()
async def run_cases(dut) -> None:
    bench = EngineBench(dut, inputs=("s_axis_in", *LOADS, *PARAMS), gapped=("s_axis_in",),
                        counted="s_axis_in")
    await bench.reset()
    run: LayerRun = bench.cases[0]
    image = run.image
    for g, img in enumerate(image.groups):
        for port, data in zip(LOADS, (img.wgt, img.row, img.dest, img.desc), strict=True):
            if data:
                await bench.sources[port].send(AxiStreamFrame(data, tdest=g))
    for port, data in zip(PARAMS, (image.attprm, image.lnprm, image.geluprm), strict=True):
        await bench.sources[port].send(data)
    for port in (*LOADS, *PARAMS):
        await bench.sources[port].wait()
    await RisingEdge(dut.clk)

    results = []
    for case in run.cases:
        dut.cfg_len.value = case.length
        dut.cfg_layers.value = image.layers
        dut.cfg_k.value = case.k
        await bench.start()
        await bench.sources["s_axis_in"].send(case.x.tobytes())
        frame = await bench.receive(layer_cycles_bound(image, case.length))
        await bench.wait_done()
        await RisingEdge(dut.clk)
        perf = int(dut.perf_cycles.value)
        results.append({
            "name": case.name, "output": bytes(frame.tdata).hex(),
            "cycles": bench.counter.cycles(),
            "perf": {kind: (perf >> (PERF_BITS * i)) & ((1 << PERF_BITS) - 1)
                     for i, kind in enumerate(PERF_KINDS)}})
    bench.write_results(results)
