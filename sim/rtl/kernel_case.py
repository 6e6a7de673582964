"""The RTL kernel (hw/rtl/sbf_kernel.sv): its register map, its DDR image, its calls.

One place for the kernel's interface: the control register offsets (the `ap_ctrl_hs`
map and the arguments at the offsets Vitis HLS gives the HLS top's arguments, so the
host drives either kernel), the AXI ports, the image layout the kernel loads into
encoder_layer, and the SV parameters that carry all of it into the RTL (the simulation
and the rendered package, hw/rtl_kernel.py, both take them from `hdl_parameters`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from host.accelerator import KERNEL_ARGS
from host.accelerator import pending_word as host_pending_word
from hw.config import DesignConfig
from hw.hls import abi
from sim.rtl.layer_case import (
    ATTPRM_BYTES,
    DESC_BYTES,
    DEST_BITS,
    LayerCase,
    LayerImage,
    LayerParams,
)
from sim.rtl.spmm_case import BIAS_BYTES, COL_BYTES, MULT_BYTES, SHIFT_BYTES

# ---- control registers (Vitis HLS, ap_ctrl_hs) -----------------------------------------
CONTROL = {"ctrl": 0x00, "gie": 0x04, "ier": 0x08, "isr": 0x0C}
ARG_BASE = 0x10
WORD_BYTES = 4
POINTER_WORDS = 3  # Vitis HLS: a 64-bit pointer takes two data words and a reserved one
SCALAR_WORDS = 2   # a 32-bit scalar: one data word and a reserved one
AP_START, AP_DONE, AP_IDLE, AP_READY = 1 << 0, 1 << 1, 1 << 2, 1 << 3
IRQ_DONE, IRQ_READY = 1 << 0, 1 << 1


@dataclass(frozen=True)
class Register:
    """One kernel argument in the control slave: byte offset and data bytes."""

    name: str
    offset: int
    size: int  # 8 for a pointer (two words), 4 for a scalar
    pointer: bool


def _registers() -> tuple[Register, ...]:
    regs, at = [], ARG_BASE
    for name in KERNEL_ARGS:
        pointer = name in abi.M_AXI_PORTS
        regs.append(Register(name, at, 8 if pointer else 4, pointer))
        at += WORD_BYTES * (POINTER_WORDS if pointer else SCALAR_WORDS)
    return tuple(regs)


REGISTERS = _registers()
ARG_END = REGISTERS[-1].offset + WORD_BYTES * (POINTER_WORDS if REGISTERS[-1].pointer
                                               else SCALAR_WORDS)
ARG_WORDS = (ARG_END - ARG_BASE) // WORD_BYTES
# The control slave's address window: 4 KiB, as Vitis gives its kernels; the port is as
# wide as the window (kernel.xml's range), the registers decode all of it.
CONTROL_RANGE = 0x1000
CTRL_ADDR_W = (CONTROL_RANGE - 1).bit_length()
if ARG_END > CONTROL_RANGE:  # more arguments than the window holds: widen CONTROL_RANGE
    raise RuntimeError(f"kernel registers end at {ARG_END:#x}, past {CONTROL_RANGE:#x}")
REGISTER_OF = {r.name: r for r in REGISTERS}

# ---- memory ports ------------------------------------------------------------------------
IMAGE_DATA_BITS = 64   # the image port: 64-bit words (load streams are narrow)
SCALAR_DATA_BITS = 32  # schedule and status ports: one int32 a beat
MAX_BURST = 64         # beats per AXI4 burst
ADDR_BITS = 64


def port_name(arg: str) -> str:
    """The AXI4 master interface of a pointer argument (the HLS kernel's bundle name)."""
    return f"m_axi_gmem_{arg}"


def port_data_bits(arg: str, p: LayerParams) -> int:
    """Data width of a memory port: activations one encoder beat (W int8) a word."""
    if arg == "image":
        return IMAGE_DATA_BITS
    if arg in ("act_in", "act_out"):
        return 8 * p.w
    return SCALAR_DATA_BITS


def port_reads(arg: str) -> bool:
    """Whether the kernel reads (True) or writes (False) through the argument's port."""
    return arg in ("schedule", "act_in", "image")


@dataclass(frozen=True)
class Port:
    """One top-level signal of the kernel (the Vitis RTL kernel names)."""

    name: str
    output: bool
    width: int


def _axi_lite_ports() -> list[Port]:
    a, d = CTRL_ADDR_W, 32
    spec = (("awaddr", False, a), ("awvalid", False, 1), ("awready", True, 1),
            ("wdata", False, d), ("wstrb", False, d // 8), ("wvalid", False, 1),
            ("wready", True, 1), ("bresp", True, 2), ("bvalid", True, 1), ("bready", False, 1),
            ("araddr", False, a), ("arvalid", False, 1), ("arready", True, 1),
            ("rdata", True, d), ("rresp", True, 2), ("rvalid", True, 1), ("rready", False, 1))
    return [Port(f"s_axi_control_{n}", o, w) for n, o, w in spec]


def _master_ports(arg: str, data: int) -> list[Port]:
    if port_reads(arg):
        spec = (("arid", True, 1), ("araddr", True, ADDR_BITS), ("arlen", True, 8),
                ("arsize", True, 3), ("arburst", True, 2), ("arvalid", True, 1),
                ("arready", False, 1), ("rid", False, 1), ("rdata", False, data),
                ("rresp", False, 2), ("rlast", False, 1), ("rvalid", False, 1),
                ("rready", True, 1))
    else:
        spec = (("awid", True, 1), ("awaddr", True, ADDR_BITS), ("awlen", True, 8),
                ("awsize", True, 3), ("awburst", True, 2), ("awvalid", True, 1),
                ("awready", False, 1), ("wdata", True, data), ("wstrb", True, data // 8),
                ("wlast", True, 1), ("wvalid", True, 1), ("wready", False, 1),
                ("bid", False, 1), ("bresp", False, 2), ("bvalid", False, 1),
                ("bready", True, 1))
    return [Port(f"{port_name(arg)}_{n}", o, w) for n, o, w in spec]


def ports(p: LayerParams) -> list[Port]:
    """Every top-level signal: clock, reset, interrupt, control slave, memory masters."""
    out = [Port("ap_clk", False, 1), Port("ap_rst_n", False, 1), Port("interrupt", True, 1)]
    out += _axi_lite_ports()
    for r in REGISTERS:
        if r.pointer:
            out += _master_ports(r.name, port_data_bits(r.name, p))
    return out


# ---- the image ---------------------------------------------------------------------------
IMAGE_MAGIC = 0x4B464253  # "SBFK" read as a little-endian u32
IMAGE_VERSION = 1
IMAGE_WORD = IMAGE_DATA_BITS // 8
SEG_WORDS = 2
SEGMENT_ALIGN = 64  # bytes: each segment starts on a cache line
# the load streams, in their SV ids (sbf_kernel.sv: STREAM_*)
STREAMS = ("wgt", "row", "dest", "desc", "attprm", "lnprm", "geluprm")


def stream_bytes(p: LayerParams) -> dict[str, int]:
    """Bytes of one beat of each of encoder_layer's load streams (its port widths)."""
    return {"wgt": COL_BYTES + 2 * p.w * p.m,  # column, W*M values, W*M indices
            "row": COL_BYTES + (BIAS_BYTES + MULT_BYTES + SHIFT_BYTES) * p.w,
            "dest": -(-DEST_BITS // 8), "desc": DESC_BYTES, "attprm": ATTPRM_BYTES,
            "lnprm": p.layernorm().prm_bytes, "geluprm": p.gelu().prm_bytes}


def words_per_beat(nbytes: int) -> int:
    return -(-nbytes // IMAGE_WORD)


def header_words(n_buckets: int) -> int:
    """{magic, version}, {layers, segments}, then the bucket edges two a word."""
    return 2 + -(-n_buckets // 2)


def pack_image(image: LayerImage, bucket_edges: tuple[int, ...]) -> bytes:
    """The DDR image of the RTL kernel: header, segment table, then every load stream's
    frame (per group for the weights), each beat zero-padded to whole 64-bit words."""
    p = image.params
    widths = stream_bytes(p)
    frames: list[tuple[str, int, bytes]] = []
    for g, img in enumerate(image.groups):
        for name, data in (("wgt", img.wgt), ("row", img.row), ("dest", img.dest),
                           ("desc", img.desc)):
            if data:
                frames.append((name, g, data))
    for name, data in (("attprm", image.attprm), ("lnprm", image.lnprm),
                       ("geluprm", image.geluprm)):
        if data:
            frames.append((name, 0, data))
    hdr = header_words(len(bucket_edges))
    head = np.zeros(2 * hdr, "<u4")
    head[:4] = (IMAGE_MAGIC, IMAGE_VERSION, image.layers, len(frames))
    head[4:4 + len(bucket_edges)] = bucket_edges
    out = bytearray(head.tobytes())
    at = _align(IMAGE_WORD * (hdr + SEG_WORDS * len(frames)))  # the first segment's data
    body = bytearray()
    for name, dest, data in frames:
        width = widths[name]
        if len(data) % width:
            raise ValueError(f"{name}: {len(data)} bytes is not a whole number of "
                             f"{width}-byte beats")
        wpb = words_per_beat(width)
        beats = np.frombuffer(data, np.uint8).reshape(-1, width)
        padded = np.zeros((len(beats), wpb * IMAGE_WORD), np.uint8)
        padded[:, :width] = beats
        out += bytes([STREAMS.index(name), dest]) + wpb.to_bytes(2, "little")
        out += len(beats).to_bytes(4, "little") + at.to_bytes(8, "little")
        body += padded.tobytes()
        body += bytes(_align(len(body)) - len(body))
        at += _align(padded.size)
    out += bytes(_align(len(out)) - len(out))
    return bytes(out + body)


def _align(n: int) -> int:
    return -(-n // SEGMENT_ALIGN) * SEGMENT_ALIGN


# ---- SV parameters -------------------------------------------------------------------------
def max_words_per_beat(p: LayerParams) -> int:
    return max(words_per_beat(b) for b in stream_bytes(p).values())


def hdl_parameters(p: LayerParams, cfg: DesignConfig) -> dict[str, int]:
    """Every SV parameter of sbf_kernel: encoder_layer's, then the kernel's own."""
    sb = stream_bytes(p)
    codes = abi.STATUS_CODES
    fields = abi.SCHEDULE_FIELDS
    return {
        **p.hdl_parameters(),
        "WGT_W": 8 * sb["wgt"], "ROW_W": 8 * sb["row"], "DEST_F": 8 * sb["dest"],
        "DESC_W": 8 * sb["desc"], "ATT_PRM_W": 8 * sb["attprm"],
        "CTRL_ADDR_W": CTRL_ADDR_W,
        **{f"ADDR_{k.upper()}": v for k, v in CONTROL.items()},
        "ARG_BASE": ARG_BASE, "ARG_WORDS": ARG_WORDS,
        **{f"ADDR_{r.name.upper()}": r.offset for r in REGISTERS},
        "SCHED_WORDS": len(fields), "SCHED_OFFSET": fields.index("token_offset"),
        "SCHED_LENGTH": fields.index("length"), "SCHED_BUCKET": fields.index("bucket"),
        "SCHED_TOPK": fields.index("topk"),
        **{f"STATUS_{k.upper()}": v for k, v in codes.items()},
        "IMAGE_MAGIC": IMAGE_MAGIC, "IMAGE_VERSION": IMAGE_VERSION,
        "N_BUCKETS": len(cfg.bucket_edges), "HDR_WORDS": header_words(len(cfg.bucket_edges)),
        "SEG_WORDS": SEG_WORDS,
        **{f"STREAM_{s.upper()}": i for i, s in enumerate(STREAMS)},
        "IMG_W": IMAGE_DATA_BITS, "MAX_WPB": max_words_per_beat(p), "MAX_BURST": MAX_BURST,
    }


# ---- calls (what the cocotb bench runs) ---------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Where the bench's DDR model puts each buffer (byte addresses, 4 KiB aligned)."""

    image: int = 0x0000_0000
    schedule: int = 0x0010_0000
    act_in: int = 0x0011_0000
    act_out: int = 0x0012_0000
    status: int = 0x0013_0000
    size: int = 0x0014_0000


@dataclass
class KernelCall:
    """One call: schedule rows, packed input tokens, the words the host clears the status
    to, whether the host starts the kernel; and the expected result (None: no output)."""

    name: str
    schedule: np.ndarray  # int32 [n_seq, SCHEDULE_FIELDS]
    tokens: np.ndarray    # int8 [N, hidden]
    n_layers: int
    pending: int
    start: bool = True
    expected: list[np.ndarray | None] = field(default_factory=list)  # per entry
    codes: list[int] = field(default_factory=list)  # the status each entry must get
    image_at: int | None = None  # the image argument, when not the Layout's image


@dataclass
class KernelRun:
    """What one simulation runs: the DDR image and the calls, pickled for the bench."""

    image: bytes
    layout: Layout
    calls: list[KernelCall]
    hidden: int
    cycles_bound: int


def schedule_rows(cases: list[LayerCase], cfg: DesignConfig) -> tuple[np.ndarray, np.ndarray]:
    """Schedule rows (hw.csim's table: sequences back to back) and the packed tokens."""
    from hw.csim import schedule_table

    ks = {c.k for c in cases}
    if len(ks) != 1:
        raise ValueError(f"cases: one top-k per call, got {sorted(ks)}")
    table = schedule_table(cfg, [c.length for c in cases], ks.pop())
    return np.asarray(table, np.int32), np.concatenate([c.x for c in cases])


def pending_word(run: int) -> int:
    """The host's cleared status word for run `run` (host/accelerator.py: pending_word)."""
    return host_pending_word(run)


def call(name: str, cases: list[LayerCase], cfg: DesignConfig, n_layers: int, run: int,
         start: bool = True) -> KernelCall:
    """A call of valid entries, each expected ok with its golden output."""
    sched, tokens = schedule_rows(cases, cfg)
    ok = abi.STATUS_CODES["ok"]
    return KernelCall(name, sched, tokens, n_layers, pending_word(run), start,
                      [c.expected for c in cases] if start else [None] * len(cases),
                      [ok] * len(cases) if start else [pending_word(run)] * len(cases))


def result_problems(c: KernelCall, res: dict[str, Any]) -> list[str]:
    """What differs between a call's result (from the bench) and what it must be."""
    problems = []
    status = [int(v) for v in res["status"]]
    if status != c.codes:
        problems.append(f"{c.name}: status {status}, want {c.codes}")
    out = np.frombuffer(bytes.fromhex(res["act_out"]), np.int8).reshape(c.tokens.shape)
    offsets = c.schedule[:, abi.SCHEDULE_FIELDS.index("token_offset")]
    for j, want in enumerate(c.expected):
        if want is None:
            continue
        got = out[int(offsets[j]):int(offsets[j]) + len(want)]
        bad = int(np.count_nonzero(got != want)) if got.shape == want.shape else want.size
        if bad:
            problems.append(f"{c.name}: entry {j}: {bad} of {want.size} output bytes differ")
    return problems
