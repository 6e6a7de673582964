"""cocotb testbench of the RTL kernel (hw/rtl/sbf_kernel.sv, through its rendered wrapper).

Run by `sim.rtl.runner` inside the simulator. The host is cocotbext-axi's AxiLiteMaster
on `s_axi_control`; DDR is one memory shared by AxiRam read and write slaves on every
`m_axi_gmem_*` port, with the buffers where the case's Layout puts them. Per call the
bench writes the schedule, the tokens and the cleared status words into memory, the
arguments into the registers, starts the kernel (or not) and polls ap_done, then reads
back the status words and act_out, the control word, the interrupt line and the cycles.
"""

from __future__ import annotations

import cocotb
import cocotb.utils
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiReadBus, AxiWriteBus
from cocotbext.axi.axi_ram import AxiRamRead, AxiRamWrite

from sim.rtl.kernel_case import (
    AP_DONE,
    AP_IDLE,
    AP_START,
    CONTROL,
    IRQ_DONE,
    REGISTER_OF,
    KernelCall,
    KernelRun,
    port_name,
    port_reads,
)
from sim.rtl.stimulus import (
    CLOCK_NS,
    StimulusOptions,
    pause_generator,
)
from sim.rtl.tb_common import hold_reset, read_spec, write_results

AXI4_MAX_BEATS = 256  # INCR bursts
AXI4_BOUNDARY = 4096  # no burst crosses one
POLL_CYCLES = 50      # between reads of the control word while the kernel runs
IDLE_WAIT_CYCLES = 2000  # a call that is never started: how long to watch nothing happen
SENTINEL = 0x5A       # act_out is filled with this before a call: "not written"


class KernelBench:
    """The host (control master), the DDR model, the burst checker of one kernel run."""

    def __init__(self, dut, run: KernelRun, options: StimulusOptions) -> None:
        self.dut, self.run = dut, run
        self.violations: list[str] = []
        self.bursts: dict[str, int] = {}
        cocotb.start_soon(Clock(dut.ap_clk, CLOCK_NS, unit="ns").start())
        self.ctrl = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), dut.ap_clk,
                                  dut.ap_rst_n, reset_active_level=False)
        self.ram = None
        self.slaves = []
        for reg in REGISTER_OF.values():
            if not reg.pointer:
                continue
            prefix = port_name(reg.name)
            if port_reads(reg.name):
                s = AxiRamRead(AxiReadBus.from_prefix(dut, prefix), dut.ap_clk, dut.ap_rst_n,
                               reset_active_level=False, size=run.layout.size,
                               mem=self.ram.mem if self.ram else None)
            else:
                s = AxiRamWrite(AxiWriteBus.from_prefix(dut, prefix), dut.ap_clk,
                                dut.ap_rst_n, reset_active_level=False,
                                size=run.layout.size, mem=self.ram.mem if self.ram else None)
            self.ram = self.ram or s
            self.slaves.append(s)
            if options.input_gaps:  # random ready and valid gaps on every channel
                channels = (("ar_channel", "r_channel") if port_reads(reg.name)
                            else ("aw_channel", "w_channel", "b_channel"))
                for ch in channels:
                    getattr(s, ch).set_pause_generator(
                        pause_generator(options.seed + len(self.slaves) * 10 + len(ch),
                                        options.gap_prob))
            self._check_bursts(reg.name, getattr(s, "ar_channel" if port_reads(reg.name)
                                                 else "aw_channel"))

    def _check_bursts(self, name: str, channel) -> None:
        """Record every address the slave takes that breaks AXI4: over 256 beats, across
        4 KiB, or unaligned to the beat (checked as the slave receives it, no per-cycle
        polling)."""
        recv = channel.recv
        prefix = "ar" if port_reads(name) else "aw"

        async def checked():
            t = await recv()
            a = int(getattr(t, f"{prefix}addr"))
            n = int(getattr(t, f"{prefix}len")) + 1
            b = 1 << int(getattr(t, f"{prefix}size"))
            if n > AXI4_MAX_BEATS or a % AXI4_BOUNDARY + n * b > AXI4_BOUNDARY or a % b:
                self.violations.append(f"{name}: burst at {a:#x}, {n} x {b} bytes")
            self.bursts[name] = self.bursts.get(name, 0) + 1
            return t

        channel.recv = checked

    async def reset(self) -> None:
        await hold_reset(self.dut.ap_clk, self.dut.ap_rst_n)

    async def set_args(self, c: KernelCall) -> None:
        lay = self.run.layout
        values = {"schedule": lay.schedule, "n_seq": len(c.schedule), "act_in": lay.act_in,
                  "act_out": lay.act_out,
                  "image": lay.image if c.image_at is None else c.image_at, "n_layers": c.n_layers,
                  "status": lay.status}
        for name, v in values.items():
            reg = REGISTER_OF[name]
            await self.ctrl.write_dword(reg.offset, v & 0xFFFF_FFFF)
            if reg.pointer:
                await self.ctrl.write_dword(reg.offset + 4, (v >> 32) & 0xFFFF_FFFF)

    async def call(self, c: KernelCall) -> dict:
        lay, mem = self.run.layout, self.ram
        n = len(c.schedule)
        out_bytes = c.tokens.size
        mem.write(lay.schedule, c.schedule.astype("<i4").tobytes())
        mem.write(lay.act_in, c.tokens.astype(np.int8).tobytes())
        mem.write(lay.act_out, bytes([SENTINEL]) * out_bytes)
        mem.write(lay.status, np.full(n, c.pending, "<i4").tobytes())
        await self.set_args(c)
        res: dict = {"name": c.name}
        if c.start:
            await self.ctrl.write_dword(CONTROL["ctrl"], AP_START)
            t0 = cocotb.utils.get_sim_time("ns")
            word = await self.ctrl.read_dword(CONTROL["ctrl"])
            res["busy_idle_bit"] = bool(word & AP_IDLE)
            budget = self.run.cycles_bound * max(n, 1)
            waited = 0
            while not word & AP_DONE:
                await ClockCycles(self.dut.ap_clk, POLL_CYCLES)
                waited += POLL_CYCLES
                if waited > budget:
                    raise AssertionError(f"{c.name}: no ap_done after {waited} cycles")
                word = await self.ctrl.read_dword(CONTROL["ctrl"])
            res["cycles"] = int((cocotb.utils.get_sim_time("ns") - t0) // CLOCK_NS)
            res["interrupt"] = int(self.dut.interrupt.value)
            res["isr"] = await self.ctrl.read_dword(CONTROL["isr"])
            await self.ctrl.write_dword(CONTROL["isr"], IRQ_DONE)  # toggle: clear
            res["interrupt_after_clear"] = int(self.dut.interrupt.value)
        else:
            await ClockCycles(self.dut.ap_clk, IDLE_WAIT_CYCLES)
        word = await self.ctrl.read_dword(CONTROL["ctrl"])
        res["ctrl_after"] = word
        res["status"] = np.frombuffer(mem.read(lay.status, 4 * n), "<i4").tolist()
        res["act_out"] = mem.read(lay.act_out, out_bytes).hex()
        return res


@cocotb.test()
async def run_calls(dut) -> None:
    spec = read_spec()
    run: KernelRun = spec["cases"][0]
    bench = KernelBench(dut, run, spec["options"])
    await bench.reset()
    bench.ram.write(run.layout.image, run.image)
    await bench.ctrl.write_dword(CONTROL["gie"], 1)
    await bench.ctrl.write_dword(CONTROL["ier"], IRQ_DONE)
    results = []
    idle = await bench.ctrl.read_dword(CONTROL["ctrl"])
    for c in run.calls:
        results.append(await bench.call(c))
    results[0]["ctrl_at_reset"] = idle
    results[0]["burst_violations"] = bench.violations
    results[0]["bursts"] = bench.bursts
    write_results(results)
