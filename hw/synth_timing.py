"""Logic depth and a supported clock from a Yosys netlist mapped for UltraScale+.

Yosys' `ltp` counts cells on the longest path but does not know which Xilinx primitives
are registers (its `-noff` knows only internal `$_DFF_*` cells), and `sta` needs timing
data the Xilinx cell library does not carry. So the netlist's JSON (`write_json` after
`synth_xilinx`) is walked here: every register, block RAM and DSP register stage cuts a
path, every LUT, MUXF, CARRY and LUT-RAM read port is one timed level, and the worst
register-to-register path is the one with the largest sum of per-level delays below.

Delays (UltraScale+, -2 speed grade; DS923 switching characteristics, rounded, and the
usual rule of thumb that a net costs about as much as 3-4 LUTs): they are an estimate of
what place and route reaches, not a timing sign-off. Tools to check: Vivado on the kernel.
"""

from __future__ import annotations

import gzip
import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LUT_NS = 0.125        # one LUT6 level, input to output
NET_NS = 0.40         # a general routed net between two slices (0.3-0.5 ns)
LOCAL_NET_NS = 0.05   # LUT -> CARRY/MUXF inside one slice
CARRY_NS = 0.10       # one CARRY4/CARRY8 cell (CIN->COUT, or S/DI->O); cascades route free
MUXF_NS = 0.10        # MUXF7/MUXF8/MUXF9
LUTRAM_NS = 0.20      # LUT-RAM / SRL read: address to output
FF_CQ_NS = 0.10       # FDRE clock to Q
FF_SETUP_NS = 0.05
RAM_CQ_NS = 1.00      # RAMB36E2/RAMB18E2/URAM288 clock to out, output register off
RAM_CQ_REG_NS = 0.35  # ... with the output register on
RAM_SETUP_NS = 0.40
LUTRAM_CQ_NS = 0.30   # stored LUT-RAM/SRL data seen at the output after a write
DSP_MULT_NS = 1.60    # DSP48E2 A/B (pre-adder) through the multiplier to the M stage
DSP_ALU_NS = 0.90     # M stage (or C/PCIN) through the ALU to the P stage
DSP_CQ_NS = 0.35      # a DSP register stage to the P output
DSP_SETUP_NS = 0.30
# Placement and routing make paths longer than the sum of typical nets, and the clock
# has jitter and skew: the supported period is path * (1 + ROUTING_ALLOWANCE) + UNCERTAINTY.
ROUTING_ALLOWANCE = 0.15
CLOCK_UNCERTAINTY_NS = 0.15

CLOCK_PINS = {"C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK", "CLKARDCLKL", "CLKARDCLKU"}
FF_TYPES = {"FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE"}
RAM_TYPES = {"RAMB36E2", "RAMB18E2", "URAM288", "URAM288_BASE"}
DSP_A_PORTS = {"A", "B", "D", "ACIN", "BCIN"}
DSP_C_PORTS = {"C", "PCIN", "CARRYIN", "CARRYCASCIN"}
IGNORED_TYPES = {"BUFG", "BUFGCE", "IBUF", "OBUF", "VCC", "GND"}
# Levels that count as logic depth (CARRY cells are counted apart: they are fast).
LEVEL_KINDS = {"lut", "mux", "lutram"}


class TimingError(ValueError):
    """A netlist the walker cannot read (no module, or a cell loop)."""


def _kind(ctype: str) -> str:
    if ctype.startswith("LUT") or ctype == "INV":
        return "lut"
    if ctype.startswith("MUXF"):
        return "mux"
    if ctype.startswith("CARRY"):
        return "carry"
    if ctype in FF_TYPES:
        return "ff"
    if ctype in RAM_TYPES:
        return "ram"
    if ctype.startswith("DSP48"):
        return "dsp"
    if ctype.startswith("RAM") or ctype.startswith("SRL"):
        return "lutram"
    if ctype in IGNORED_TYPES:
        return "ignore"
    return "unknown"


def _param(cell: dict[str, Any], name: str, default: int = 0) -> int:
    v = cell.get("parameters", {}).get(name)
    if v is None:
        return default
    try:
        return int(str(v), 2) if set(str(v)) <= {"0", "1"} else int(v)
    except ValueError:
        return default


def input_delay(kind: str, cell: dict[str, Any], port: str) -> tuple[bool, float]:
    """(combinational to the cell's outputs?, delay): through-delay, or else setup time."""
    if kind == "lut":
        return True, LUT_NS
    if kind == "mux":
        return True, MUXF_NS
    if kind == "carry":
        return True, CARRY_NS
    if kind == "ff":
        return False, FF_SETUP_NS
    if kind == "ram":
        return False, RAM_SETUP_NS
    if kind == "lutram":
        read_addr = (port.startswith("ADDR") or port.startswith("DPRA")
                     or (port[:1] == "A" and port[1:].isdigit()) or port == "A")
        return (True, LUTRAM_NS) if read_addr else (False, FF_SETUP_NS)
    if kind == "dsp":
        areg = _param(cell, "AREG", 1) or _param(cell, "BREG", 1) or _param(cell, "ADREG", 0)
        mreg, preg = _param(cell, "MREG", 1), _param(cell, "PREG", 1)
        if port in DSP_A_PORTS:
            if areg:
                return False, DSP_SETUP_NS
            if mreg:
                return False, DSP_SETUP_NS + DSP_MULT_NS
            if preg:
                return False, DSP_SETUP_NS + DSP_MULT_NS + DSP_ALU_NS
            return True, DSP_MULT_NS + DSP_ALU_NS
        if port in DSP_C_PORTS:
            if _param(cell, "CREG", 1) and port == "C":
                return False, DSP_SETUP_NS
            if preg:
                return False, DSP_SETUP_NS + DSP_ALU_NS
            return True, DSP_ALU_NS
        return False, DSP_SETUP_NS  # control: OPMODE, ALUMODE, INMODE, CE*, RST*
    return False, 0.0


def output_source(kind: str, cell: dict[str, Any], port: str) -> float | None:
    """Clock-to-out of an output that a register drives, None for a purely combinational one."""
    if kind == "ff":
        return FF_CQ_NS
    if kind == "ram":
        reg = _param(cell, "DOA_REG", 0) or _param(cell, "DOB_REG", 0)
        return RAM_CQ_REG_NS if reg else RAM_CQ_NS
    if kind == "lutram":
        return LUTRAM_CQ_NS
    if kind == "dsp":
        if _param(cell, "PREG", 1):
            return DSP_CQ_NS
        if _param(cell, "MREG", 1):
            return DSP_CQ_NS + DSP_ALU_NS
        areg = _param(cell, "AREG", 1) or _param(cell, "BREG", 1) or _param(cell, "ADREG", 0)
        if areg:
            return DSP_CQ_NS + DSP_MULT_NS + DSP_ALU_NS
        return None
    return None


def _net_ns(driver_kind: str, driver_port: str, sink_kind: str, sink_port: str) -> float:
    """Dedicated cascades (carry chain, MUXF tree, DSP cascade) route for free."""
    if driver_kind == "carry" and sink_kind == "carry" and sink_port in ("CI", "CIN"):
        return 0.0
    if sink_kind == "mux" and driver_kind in ("lut", "mux") and sink_port != "S":
        return 0.0
    if driver_kind == "dsp" and sink_kind == "dsp" and driver_port.endswith("COUT"):
        return 0.0
    if driver_kind == "lut" and sink_kind == "carry":
        return LOCAL_NET_NS
    return NET_NS


@dataclass(frozen=True)
class PathReport:
    """The worst register-to-register path of one netlist."""

    delay_ns: float       # sum of the per-level and net delays, launch to capture
    levels: int           # LUT, MUXF and LUT-RAM cells on it: the logic depth
    carry_cells: int      # CARRY cells on it (one CARRY4 = 4 bits)
    dsp_in_path: bool     # the path runs through an unregistered DSP48E2 stage
    start: str
    end: str
    cells: tuple[str, ...]  # cell types along it, launch to capture

    @property
    def period_ns(self) -> float:
        """The clock period this path supports, with the routing allowance."""
        return self.delay_ns * (1 + ROUTING_ALLOWANCE) + CLOCK_UNCERTAINTY_NS

    @property
    def fmax_mhz(self) -> float:
        return 1e3 / self.period_ns

    def to_dict(self) -> dict[str, Any]:
        return {"delay_ns": round(self.delay_ns, 3), "levels": self.levels,
                "carry_cells": self.carry_cells, "dsp_in_path": self.dsp_in_path,
                "period_ns": round(self.period_ns, 3), "fmax_mhz": round(self.fmax_mhz, 1),
                "start": self.start, "end": self.end, "path": list(self.cells)}


def load_netlist(path: Path) -> dict[str, Any]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return json.load(f)


def _top(netlist: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    mods = {n: m for n, m in netlist.get("modules", {}).items()
            if "blackbox" not in m.get("attributes", {}) and m.get("cells")}
    tops = [n for n, m in mods.items() if "top" in m.get("attributes", {})] or list(mods)
    if not tops:
        raise TimingError("netlist: no module with cells")
    return tops[0], mods[tops[0]]


def worst_path(netlist: dict[str, Any]) -> PathReport:
    """Longest delay path from a register (or top input) to a register (or top output)."""
    _, mod = _top(netlist)
    cells = mod["cells"]
    driver: dict[int, tuple[str, str]] = {}  # net bit -> (cell, port)
    sinks: dict[str, list[tuple[str, int]]] = {}  # comb cell -> [(port, bit)] comb inputs
    endpoints: list[tuple[str, str, int, float]] = []  # (cell, port, bit, setup)
    kinds = {name: _kind(c["type"]) for name, c in cells.items()}
    for name, c in cells.items():
        kind = kinds[name]
        if kind == "ignore":
            continue
        dirs = c.get("port_directions", {})
        for port, bits in c.get("connections", {}).items():
            if port in CLOCK_PINS:
                continue
            d = dirs.get(port, "input")
            for b in bits:
                if not isinstance(b, int):
                    continue  # a constant
                if d == "output":
                    driver[b] = (name, port)
                elif kind != "unknown":
                    comb, t = input_delay(kind, c, port)
                    if comb:
                        sinks.setdefault(name, []).append((port, b))
                    else:
                        endpoints.append((name, port, b, t))
    port_in = {b: name for name, p in mod.get("ports", {}).items()
               if p["direction"] == "input" for b in p["bits"] if isinstance(b, int)}
    for pname, p in mod.get("ports", {}).items():
        if p["direction"] == "output":
            endpoints.extend(("<port>", pname, b, 0.0) for b in p["bits"] if isinstance(b, int))

    # Arrival at each comb cell's outputs, in topological order (Kahn).
    preds: dict[str, set[str]] = {}
    for name, ins in sinks.items():
        preds[name] = {driver[b][0] for _, b in ins if b in driver
                       and driver[b][0] in sinks}
    succ: dict[str, list[str]] = {}
    for name, ps in preds.items():
        for p in ps:
            succ.setdefault(p, []).append(name)
    indeg = {n: len(ps) for n, ps in preds.items()}
    queue = deque(n for n, d in indeg.items() if d == 0)
    arrival: dict[str, float] = {}
    best_in: dict[str, int | None] = {}

    def bit_arrival(b: int, sink_kind: str, sink_port: str) -> float:
        if b not in driver:
            return 0.0 if b in port_in else float("-inf")
        dname, dport = driver[b]
        dkind = kinds[dname]
        src = output_source(dkind, cells[dname], dport) if dkind not in ("ignore",) else None
        at = src if src is not None else float("-inf")
        if dname in arrival:
            at = max(at, arrival[dname])
        if at == float("-inf"):
            return at
        return at + _net_ns(dkind, dport, sink_kind, sink_port)

    done = 0
    while queue:
        n = queue.popleft()
        done += 1
        kind, c = kinds[n], cells[n]
        best, arg = float("-inf"), None
        for port, b in sinks[n]:
            _, t = input_delay(kind, c, port)
            at = bit_arrival(b, kind, port) + t
            if at > best:
                best, arg = at, b
        own = None
        for port in c.get("connections", {}):
            if c.get("port_directions", {}).get(port) == "output":
                s = output_source(kind, c, port)
                own = s if own is None or (s is not None and s > own) else own
        if own is not None and own >= best:
            best, arg = own, None
        arrival[n], best_in[n] = best, arg
        for s in succ.get(n, ()):
            indeg[s] -= 1
            if indeg[s] == 0:
                queue.append(s)
    if done < len(indeg):
        raise TimingError(f"netlist: a combinational loop through {len(indeg) - done} cells")

    worst, wend = float("-inf"), None
    for name, port, b, setup in endpoints:
        skind = kinds.get(name, "port")
        at = bit_arrival(b, skind, port) + setup
        if at > worst:
            worst, wend = at, (name, port, b)
    if wend is None or worst == float("-inf"):
        return PathReport(0.0, 0, 0, False, "", "", ())
    # Walk back from the endpoint's driving cell.
    chain: list[str] = []
    b: int | None = wend[2]
    start = "?"
    while b is not None:
        if b not in driver:
            start = f"input port {port_in.get(b, '?')}"
            break
        dname = driver[b][0]
        if dname not in sinks:
            start = f"{cells[dname]['type']} {dname}"
            break
        chain.append(dname)
        b = best_in.get(dname)
        if b is None:
            start = f"{cells[dname]['type']} {dname} (stored data)"
    chain.reverse()
    ctypes = tuple(cells[n]["type"] for n in chain)
    levels = sum(1 for n in chain if kinds[n] in LEVEL_KINDS)
    carry = sum(1 for n in chain if kinds[n] == "carry")
    dsp = any(kinds[n] == "dsp" for n in chain)
    end_name = wend[0] if wend[0] == "<port>" else f"{cells[wend[0]]['type']} {wend[0]}"
    return PathReport(worst, levels, carry, dsp, start, f"{end_name}.{wend[1]}", ctypes)
