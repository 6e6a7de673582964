"""The RTL kernel (hw/rtl/sbf_kernel.sv) driven as a host drives a Vitis kernel.

cocotbext-axi's AxiLiteMaster writes the arguments and ap_start; AxiRam slaves on every
AXI4 master are the DDR. One simulation of the small build "a" of tests/test_rtl_layer.py
runs the calls in order (so the image is loaded once, by the first), with random
ready/valid gaps on every AXI4 channel of the memory model: one sequence; a
batch of three lengths; the same batch started again (fresh pending tags, correct
again); a call that is never started; invalid entries; layers out of range. Outputs
are compared bit for bit with the golden encoder (make_case's expected).
"""

from __future__ import annotations

import functools
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from hw.hls import abi
from sim.rtl import kernel_case as kc
from sim.rtl.layer_case import LayerParams, build_image, make_case
from sim.rtl.runner import ENGINES, lint
from tests.rtl_helpers import simulator
from tests.test_rtl_layer import BUILDS, K, _model, small_config

REPO = Path(__file__).resolve().parents[1]
VERILATOR = pytest.mark.xdist_group("rtl_verilator")  # one worker builds the model
BUILD = "a"


@functools.cache
def _setup():
    heads, groups = BUILDS[BUILD]
    cfg = small_config(heads)
    model = _model(heads)
    params = LayerParams.from_config(cfg, groups)
    return cfg, model, params, build_image(model, params)


def _cases(lengths: tuple[int, ...], seed: int):
    cfg, model, _, image = _setup()
    rng = np.random.default_rng(seed)
    return [make_case(f"L{n}", model, rng.integers(-128, 128, size=(n, cfg.model.hidden)), K,
                      image.layers) for n in lengths]


def _invalid_call(run: int) -> kc.KernelCall:
    """One valid entry among entries of zero length, top-k 0, a bucket too small for
    the length, and a length over max_length: each gets its code, only the valid runs."""
    cfg, _, _, image = _setup()
    (ok_case,) = _cases((6,), seed=5)
    codes = abi.STATUS_CODES
    f = {n: i for i, n in enumerate(abi.SCHEDULE_FIELDS)}
    entries = [(0, 6, 0, K, "ok"), (0, 0, 0, K, "bad_length"), (0, 6, 0, 0, "bad_topk"),
               (0, 20, 0, K, "bad_bucket"), (0, cfg.max_length + 1, 2, K, "bad_length")]
    sched = np.zeros((len(entries), len(f)), np.int32)
    for j, (off, n, b, k, _) in enumerate(entries):
        sched[j, [f["token_offset"], f["length"], f["bucket"], f["topk"]]] = off, n, b, k
    tokens = np.zeros((cfg.max_length + 1, cfg.model.hidden), np.int8)
    tokens[:6] = ok_case.x
    return kc.KernelCall("invalid", sched, tokens, image.layers, kc.pending_word(run),
                         expected=[ok_case.expected] + [None] * 4,
                         codes=[codes[c] for *_, c in entries])


ZEROS = 0x1000  # the DDR model's last bytes: never written, an image with no magic


def _refused(name: str, cases: list, n_layers: int, run: int, code: str,
             image_at: int | None = None) -> kc.KernelCall:
    """A call every entry of which the kernel must refuse with `code`, writing nothing."""
    c = kc.call(name, cases, _setup()[0], n_layers, run)
    c.expected = [None] * len(cases)
    c.codes = [abi.STATUS_CODES[code]] * len(cases)
    c.image_at = image_at
    return c


@functools.cache
def _results() -> tuple[list[kc.KernelCall], list[dict]]:
    from sim.rtl.kernel_sim import simulate_kernel

    cfg, _, _, image = _setup()
    layers = image.layers
    batch = _cases((5, 1, 24), seed=2)
    calls = [
        kc.call("single", _cases((13,), seed=1), cfg, layers, run=1),
        kc.call("batch", batch, cfg, layers, run=2),
        kc.call("batch_again", batch, cfg, layers, run=3),
        kc.call("never_started", _cases((3, 7), seed=3), cfg, layers, run=4, start=False),
        _refused("bad_image", _cases((4, 2), seed=6), layers, run=5, code="bad_image",
                 image_at=kc.Layout().size - ZEROS),
        _invalid_call(run=6),  # the image address is back: the model is loaded again
        _refused("bad_layers", _cases((4,), seed=4), layers + 1, run=7, code="bad_layers"),
        kc.KernelCall("empty", np.zeros((0, len(abi.SCHEDULE_FIELDS)), np.int32),
                      np.zeros((0, cfg.model.hidden), np.int8), layers, kc.pending_word(8)),
    ]
    return calls, simulate_kernel(cfg, image, calls, simulator("verilator"), stress=True,
                                  seed=7)


def _result(name: str) -> tuple[kc.KernelCall, dict]:
    calls, results = _results()
    (i,) = [i for i, c in enumerate(calls) if c.name == name]
    return calls[i], results[i]


def _assert_exact(name: str) -> dict:
    c, res = _result(name)
    assert kc.result_problems(c, res) == []
    return res


def _assert_done_cleanly(res: dict, busy: bool = True) -> None:
    """ap_idle 0 while it ran (`busy`: a call long enough for the first read to see it),
    then idle with ap_done read and cleared, ap_start cleared, the done interrupt raised
    and cleared by the status toggle."""
    assert not (busy and res["busy_idle_bit"]), "ap_idle stayed 1 after ap_start"
    assert res["ctrl_after"] & kc.AP_IDLE and not res["ctrl_after"] & kc.AP_DONE
    assert not res["ctrl_after"] & kc.AP_START, "ap_start not cleared by the kernel"
    assert res["interrupt"] == 1 and res["isr"] & kc.IRQ_DONE
    assert res["interrupt_after_clear"] == 0


@VERILATOR
def test_one_sequence_bit_exact_through_the_registers() -> None:
    res = _assert_exact("single")
    _assert_done_cleanly(res)
    assert res["ctrl_at_reset"] & kc.AP_IDLE


@VERILATOR
def test_every_burst_is_legal_axi4() -> None:
    """<= 256 beats, inside one 4 KiB page, aligned, on every master, for every call."""
    res = _result("single")[1]
    assert res["burst_violations"] == []
    assert set(res["bursts"]) == set(abi.M_AXI_PORTS)  # every master was checked


@VERILATOR
def test_batch_of_three_lengths_bit_exact() -> None:
    _assert_done_cleanly(_assert_exact("batch"))


@VERILATOR
def test_started_twice_is_correct_again_with_the_new_tag() -> None:
    first, again = _result("batch")[0], _result("batch_again")[0]
    assert first.pending != again.pending  # the host's tag advanced between the runs
    _assert_done_cleanly(_assert_exact("batch_again"))


@VERILATOR
def test_never_started_writes_nothing() -> None:
    c, res = _result("never_started")
    assert res["status"] == [c.pending] * len(c.schedule)  # still as the host cleared it
    assert res["ctrl_after"] & kc.AP_IDLE and not res["ctrl_after"] & kc.AP_DONE
    from sim.rtl.tb_kernel import SENTINEL

    assert set(bytes.fromhex(res["act_out"])) == {SENTINEL}


@VERILATOR
def test_invalid_entries_get_their_codes_and_skip_the_work() -> None:
    _assert_done_cleanly(_assert_exact("invalid"))


@VERILATOR
@pytest.mark.parametrize("name", ["bad_layers", "bad_image"])
def test_refused_calls_write_codes_and_no_outputs(name: str) -> None:
    """n_layers out of range; an image address with no valid header (after which the
    next call, with the real image again, reloads it: test_invalid_entries...)."""
    from sim.rtl.tb_kernel import SENTINEL

    c, res = _result(name)
    assert kc.result_problems(c, res) == []
    assert set(bytes.fromhex(res["act_out"])) == {SENTINEL}
    _assert_done_cleanly(res, busy=False)


@VERILATOR
def test_no_entries_is_done_at_once() -> None:
    c, res = _result("empty")
    assert res["status"] == [] and kc.result_problems(c, res) == []
    _assert_done_cleanly(res, busy=False)


@pytest.mark.xdist_group("rtl_icarus")
def test_one_sequence_bit_exact_icarus() -> None:
    """The image load and one call in Icarus 11 (the second simulator of the project)."""
    from sim.rtl.kernel_sim import simulate_kernel

    cfg, _, _, image = _setup()
    c = kc.call("icarus", _cases((5,), seed=1), cfg, image.layers, run=1)
    (res,) = simulate_kernel(cfg, image, [c], simulator("icarus"))
    assert kc.result_problems(c, res) == []
    _assert_done_cleanly(res)


@VERILATOR
def test_kernel_and_rendered_top_lint_clean() -> None:
    from sim.rtl.kernel_sim import kernel_engine

    cfg, _, params, image = _setup()
    sim = simulator("verilator")
    assert lint(ENGINES["kernel"], kc.hdl_parameters(params, cfg), sim) == ""
    assert lint(kernel_engine(cfg, image), {}, sim) == ""


@VERILATOR
@pytest.mark.slow
def test_default_design_kernel_lints_clean() -> None:
    """The MiniLM design (W = 16: 128-bit activation ports) at the layer test's 4 groups."""
    from hw.config import DesignConfig

    cfg = DesignConfig.from_yaml()
    params = LayerParams.from_config(cfg, groups=4)
    assert lint(ENGINES["kernel"], kc.hdl_parameters(params, cfg), simulator("verilator")) == ""


# ---- register map and image (no simulator) -----------------------------------------------

def test_register_offsets_are_the_vitis_hls_ones() -> None:
    """0x10 on, a pointer two data words and a reserved one, a scalar one and one."""
    want = {"schedule": 0x10, "n_seq": 0x1C, "act_in": 0x24, "act_out": 0x30, "image": 0x3C,
            "n_layers": 0x48, "status": 0x50}
    assert {r.name: r.offset for r in kc.REGISTERS} == want
    assert kc.CONTROL == {"ctrl": 0x00, "gie": 0x04, "ier": 0x08, "isr": 0x0C}


def test_image_segments_cover_every_stream_once() -> None:
    cfg, _, params, image = _setup()
    data = kc.pack_image(image, tuple(cfg.bucket_edges))
    head = np.frombuffer(data[:8 * kc.header_words(len(cfg.bucket_edges))], "<u4")
    assert head[0] == kc.IMAGE_MAGIC and head[2] == image.layers
    n = int(head[3])
    widths = kc.stream_bytes(params)
    at = 8 * kc.header_words(len(cfg.bucket_edges))
    seen = {}
    for j in range(n):
        a, off = np.frombuffer(data[at + 16 * j:at + 16 * j + 16], "<u8")
        stream, dest, wpb, beats = a & 0xFF, (a >> 8) & 0xFF, (a >> 16) & 0xFFFF, a >> 32
        name = kc.STREAMS[int(stream)]
        assert off % kc.SEGMENT_ALIGN == 0 and wpb == kc.words_per_beat(widths[name])
        beat = 8 * int(wpb)
        got = b"".join(data[int(off) + i * beat:int(off) + i * beat + widths[name]]
                       for i in range(int(beats)))
        seen[(name, int(dest))] = got
    for g, img in enumerate(image.groups):
        for name in ("wgt", "row", "dest", "desc"):
            assert seen.get((name, g), b"") == getattr(img, name)
    assert seen[("attprm", 0)] == image.attprm and seen[("lnprm", 0)] == image.lnprm


# ---- the package (sbf hw build --kernel rtl) ------------------------------------------------

@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    import json

    tmp = tmp_path_factory.mktemp("rtl_pkg")
    cfg = small_config(BUILDS[BUILD][0])
    (tmp / "cfg.yaml").write_text(json.dumps(cfg.to_dict()))
    env = {"PATH": "/usr/bin:/bin"}  # no vivado, no v++
    proc = subprocess.run([sys.executable, "-m", "host.cli", "hw", "build", "--kernel", "rtl",
                           "--config", str(tmp / "cfg.yaml"), "--synthetic", "--out",
                           str(tmp / "proj"), "--json"], cwd=REPO, capture_output=True,
                          text=True, env={**_base_env(), **env})
    assert proc.returncode == 3, proc.stderr
    return tmp / "proj", json.loads(proc.stdout)


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PATH"}


def test_build_rtl_renders_a_complete_package(package: tuple[Path, dict]) -> None:
    proj, info = package
    pkg = proj / "rtl_kernel"
    for rel in ("kernel.xml", "package_xo.tcl", "link.cfg", "image.bin",
                f"src/{abi.KERNEL}.sv", "src/sbf_kernel.sv", "src/encoder_layer.sv",
                "src/estimate_lut.hex"):
        assert (pkg / rel).is_file(), rel
    assert info["kernel"] == "rtl" and "vivado" in info["missing_tools"]
    assert any("package_xo.tcl" in c for c in info["commands"])
    assert any("v++ -l" in c and ".xo" in c for c in info["commands"])
    tcl = (pkg / "package_xo.tcl").read_text()
    assert f"package_xo -force -xo_path $xo -kernel_name {abi.KERNEL}" in tcl
    link = (pkg / "link.cfg").read_text()
    assert f"nk={abi.KERNEL}:1:{abi.KERNEL}_1" in link
    assert all(f"sp={abi.KERNEL}_1.{p}:" in link for p in abi.M_AXI_PORTS)


def test_kernel_xml_matches_the_register_table(package: tuple[Path, dict]) -> None:
    from host.accelerator import KERNEL_ARGS

    proj, _ = package
    root = ET.parse(proj / "rtl_kernel" / "kernel.xml").getroot()
    kernel = root.find("kernel")
    assert kernel.get("name") == abi.KERNEL and kernel.get("hwControlProtocol") == "ap_ctrl_hs"
    args = kernel.findall("args/arg")
    assert [a.get("name") for a in args] == list(KERNEL_ARGS)
    for a, r in zip(args, kc.REGISTERS, strict=True):
        assert int(a.get("offset"), 16) == r.offset and int(a.get("size"), 16) == r.size
        assert a.get("port") == (kc.port_name(r.name) if r.pointer else "s_axi_control")
    ports = {p.get("name"): p for p in kernel.findall("ports/port")}
    assert int(ports["s_axi_control"].get("range"), 16) == 1 << kc.CTRL_ADDR_W
    assert set(ports) == {"s_axi_control", *(kc.port_name(p) for p in abi.M_AXI_PORTS)}
    top = (proj / "rtl_kernel" / "src" / f"{abi.KERNEL}.sv").read_text()
    for name in ports:
        if name != "s_axi_control":
            assert f"{name}_araddr" in top or f"{name}_awaddr" in top


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "host.cli", "hw", "build", "--kernel", "rtl",
                           *args], cwd=REPO, capture_output=True, text=True,
                          env={**_base_env(), "PATH": "/usr/bin:/bin"})


def test_build_rtl_refuses_what_the_rtl_top_cannot_take(tmp_path: Path) -> None:
    """bo != bi (the packaged SMALL design) and --project: one line each, exit 2."""
    proc = _cli("--synthetic", "--out", str(tmp_path / "p"))
    assert proc.returncode == 2 and "bo == bi" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = _cli("--project", str(tmp_path))
    assert proc.returncode == 2 and "--project" in proc.stderr and "--out" in proc.stderr
