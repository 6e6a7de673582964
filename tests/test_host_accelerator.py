"""The host driver on fake PYNQ and pyxrt devices and on the emulation backend.

The fakes (tests/host_fakes.py) behave like the real APIs (PYNQ 3.0.1 on Alveo:
`Device.devices`, `Overlay`, `allocate(..., target=ol.bank2)`, `buf[:n].sync_to_device()`,
`ip.start(...).wait()`, `freebuffer`, `Overlay.free`; pyxrt: `device`,
`xclbin.get_kernels`, `load_xclbin`, `kernel.group_id`, `bo(device, size, bo.normal,
group)`, `bo.map`, `bo.sync`, `run.wait`), keep device memory apart from host memory and
record every call, so the code path a board takes runs here. The encoder is a toy kernel (every
int8 token + its sequence's bucket + 1, saturating) over a toy config, so a wrong
offset, a missed sync or a lost order shows in the outputs.
"""

from __future__ import annotations

import hashlib
import json
import re
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from host.accelerator import (
    KERNEL_ARGS,
    RENDER_GENERATOR,
    RENDER_MANIFEST,
    Accelerator,
    AcceleratorError,
    detect_backend,
    load_design,
    make_backend,
    run_order,
)
from host.backends.base import BackendError
from host.backends.emulation import EmulationBackend
from hw.config import DesignConfig, ModelDims
from hw.hls import abi
from tests import host_fakes

HIDDEN = 16
LABELS = 2
LAYERS = 1
CFG = DesignConfig(bo=16, bi=16, m=4, max_length=16, bucket_edges=(4, 8, 16),
                   model=ModelDims(hidden=HIDDEN, heads=2, ffn=32, layers=LAYERS))
IMAGE = bytes(range(40))
MAX_BATCH = 3
N_BUFFERS = len(KERNEL_ARGS) - 2  # all but the two scalars
SCHED = {name: i for i, name in enumerate(abi.SCHEDULE_FIELDS)}


def toy_kernel(schedule: np.ndarray, n_seq: int, act_in: np.ndarray, act_out: np.ndarray,
               image: np.ndarray, n_layers: int, status: np.ndarray) -> None:
    """act_out = act_in + bucket + 1 per sequence, over the rows its table entry names."""
    table = schedule.view(np.int32).reshape(-1, len(SCHED))
    st = status.view(np.int32)
    x = act_in.view(np.int8).reshape(-1, HIDDEN)
    y = act_out.view(np.int8).reshape(-1, HIDDEN)
    for s in range(n_seq):
        e = table[s]
        if image.tobytes() != IMAGE or n_layers != LAYERS:
            st[s] = abi.STATUS_CODES["bad_image"]
            continue
        if e[SCHED["length"]] > CFG.max_length - 1:  # the toy refuses the longest length
            st[s] = abi.STATUS_CODES["bad_length"]
            continue
        rows = slice(e[SCHED["token_offset"]], e[SCHED["token_offset"]] + e[SCHED["length"]])
        y[rows] = np.clip(x[rows].astype(np.int64) + e[SCHED["bucket"]] + 1, -128, 127)
        st[s] = abi.STATUS_CODES["ok"]


class ToyModel:
    """Embedding = token id (mod 100) in every column; head = first token, two columns."""

    hidden, num_labels, n_layers = HIDDEN, LABELS, LAYERS

    def image(self, cfg: DesignConfig) -> bytes:
        return IMAGE

    def embed(self, input_ids: list[np.ndarray], token_type_ids: list[np.ndarray]
              ) -> np.ndarray:
        ids = np.concatenate(input_ids)
        return np.repeat((ids % 100).astype(np.int8)[:, None], HIDDEN, axis=1)

    def head(self, out: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int)
        return out[starts, :LABELS].astype(np.float64)


def expected_cls(ids: Sequence[int]) -> int:
    """What the toy pipeline gives for a sequence's first token."""
    bucket = int(np.searchsorted(CFG.bucket_edges, len(ids)))
    return ids[0] % 100 + bucket + 1


# -- fakes (tests/host_fakes.py) running the toy kernel --------------------------------
def fake_pynq(**kw: Any) -> types.SimpleNamespace:
    return host_fakes.fake_pynq(lambda args: toy_kernel(*args), **kw)


def fake_pyxrt(**kw: Any) -> types.SimpleNamespace:
    return host_fakes.fake_pyxrt(lambda args: toy_kernel(*args), **kw)


# -- helpers ---------------------------------------------------------------------------
def write_design(root: Path, image: bytes = IMAGE, cfg: DesignConfig = CFG) -> Path:
    """A rendered project as far as the host reads it: manifest and an xclbin below it."""
    (root / "build").mkdir(parents=True, exist_ok=True)
    (root / "build" / "sbf_encoder.hw.xclbin").write_bytes(b"xclbin2\0")
    manifest = {"generator": RENDER_GENERATOR, "config": cfg.to_dict(),
                "files": {"weights/weights.bin": hashlib.sha256(image).hexdigest()}}
    (root / RENDER_MANIFEST).write_text(json.dumps(manifest))
    return root


@pytest.fixture
def xclbin(tmp_path: Path) -> Path:
    return write_design(tmp_path) / "build" / "sbf_encoder.hw.xclbin"


def open_acc(backend: Any = None, design: Path | None = None, **kw: Any) -> Accelerator:
    if backend is None:
        backend = EmulationBackend(lambda args: toy_kernel(*args))
    kw.setdefault("max_batch", MAX_BATCH)
    return Accelerator(ToyModel(), design, backend, config=CFG, **kw)


# Lengths across all three buckets, out of order, more sequences than one device batch.
SEQS = [[5, 6, 7, 8, 9, 10], [42], [7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [99, 1, 2],
        [3] * 15, [11, 12], [250, 3, 4, 5, 6]]
CALLS = -(-len(SEQS) // MAX_BATCH)


def check_outputs(acc: Accelerator) -> None:
    res = acc.run_ids([np.array(s) for s in SEQS])
    assert res.logits.shape == (len(SEQS), LABELS)
    assert res.logits[:, 0].tolist() == [expected_cls(s) for s in SEQS]
    for s, h in zip(SEQS, res.hidden, strict=True):
        assert h.shape == (len(s), HIDDEN)
    assert res.buckets.tolist() == [int(np.searchsorted(CFG.bucket_edges, len(s)))
                                    for s in SEQS]
    assert res.kernel_calls == CALLS


# -- tests -----------------------------------------------------------------------------
def test_kernel_args_match_the_rendered_top_function() -> None:
    """The host's argument order is the one of `extern "C" sbf_encoder(...)`."""
    text = (Path(__file__).parents[1] / "hw" / "templates" / "sbf_top.cpp.j2").read_text()
    signature = re.search(r'extern "C" void \{\{ kernel \}\}\(([^)]*)\)', text).group(1)
    names = [re.split(r"[\s*]+", a.strip())[-1] for a in signature.split(",")]
    assert tuple(names) == KERNEL_ARGS


def test_emulation_restores_order_and_packs_by_table() -> None:
    with open_acc() as acc:
        check_outputs(acc)
        check_outputs(acc)  # buffers are reused across calls


def test_run_order_is_the_schedulers() -> None:
    lengths = np.array([3, 9, 2, 16, 4, 8])
    assert run_order(lengths, CFG).tolist() == [4, 0, 2, 5, 3, 1]


def test_pynq_path_allocates_once_uploads_weights_once(xclbin: Path) -> None:
    pynq = fake_pynq()
    with open_acc("pynq", xclbin, device_module=pynq) as acc:
        check_outputs(acc)
        check_outputs(acc)
    log = pynq.log
    assert log[0] == ("Overlay", xclbin.name, "card0")
    allocs = [e for e in log if e[0] == "allocate"]
    tokens = (MAX_BATCH * CFG.max_length, HIDDEN)
    # schedule, act_in, act_out, image, status: where the xclbin connects them (the v++
    # config's DDR[2] and DDR[1], which the U200 shell tags bank2 and bank1)
    assert [(a[2], a[4]) for a in allocs] == [
        ((MAX_BATCH, len(SCHED)), "bank2"), (tokens, "bank2"), (tokens, "bank2"),
        ((len(IMAGE),), "bank1"), ((MAX_BATCH,), "bank2")]
    image_tag = allocs[3][1]
    assert [e for e in log if e[:2] == ("sync_to_device", image_tag)] == [
        ("sync_to_device", image_tag, len(IMAGE))]
    calls = [e[1] for e in log if e[0] == "start"]
    assert len(calls) == 2 * CALLS
    assert calls[0] == ("buf0", MAX_BATCH, "buf1", "buf2", "buf3", LAYERS, "buf4")
    assert calls[-1][1] == len(SEQS) % MAX_BATCH
    # Only the used tokens move: the first call is bucket 0, lengths 3, 2 and 1.
    first_in = next(e for e in log if e[:2] == ("sync_to_device", "buf1"))
    assert first_in[2] == (3 + 2 + 1) * HIDDEN
    assert log[-(N_BUFFERS + 1):] == [("freebuffer", f"buf{i}") for i in range(N_BUFFERS)] + [
        ("Overlay.free",)]


def test_pyxrt_path_buffers_in_argument_banks(xclbin: Path) -> None:
    xrt = fake_pyxrt()
    with open_acc("pyxrt", xclbin, device_module=xrt) as acc:
        check_outputs(acc)
    log = xrt.log
    assert log[:3] == [("device", 0), ("load_xclbin", xclbin.name),
                       ("kernel", "uuid-1", abi.KERNEL)]
    bos = [e for e in log if e[0] == "bo"]
    tokens = MAX_BATCH * CFG.max_length * HIDDEN
    # group_id(argument index): the memory the xclbin connects it to (bank2; image bank1)
    assert [(b[2], b[4]) for b in bos] == [
        (MAX_BATCH * len(SCHED) * 4, 2), (tokens, 2), (tokens, 2), (len(IMAGE), 1),
        (MAX_BATCH * 4, 2)]
    assert [e for e in log if e[:2] == ("sync", "bo3")] == [
        ("sync", "bo3", "to_device", len(IMAGE), 0)]
    assert sum(e[0] == "call" for e in log) == CALLS
    assert any(e[:3] == ("sync", "bo2", "from_device") for e in log)


def test_pyxrt_failed_run_is_an_error(xclbin: Path) -> None:
    with open_acc("pyxrt", xclbin, device_module=fake_pyxrt(fail_runs={1})) as acc:
        with pytest.raises(BackendError, match=r"state .*ERROR.*run 1: sequences \[0\]"):
            acc.run_ids([np.array([1, 2])])


def test_kernel_status_fails_the_whole_call() -> None:
    with open_acc() as acc, pytest.raises(BackendError, match="length 16.*bad_length.*nothing"):
        acc.run_ids([np.arange(3), np.arange(CFG.max_length)])


def test_over_max_length_rejected_before_any_call(xclbin: Path) -> None:
    pynq = fake_pynq()
    with open_acc("pynq", xclbin, device_module=pynq) as acc:
        before = len(pynq.log)
        too_long = [np.arange(3), np.arange(CFG.max_length + 1), np.arange(0)]
        with pytest.raises(AcceleratorError, match=r"sequence 1 has 17 tokens.*1\.\.16.*2 such"):
            acc.run_ids(too_long)
        assert len(pynq.log) == before


def test_context_manager_releases_and_refuses_reuse(xclbin: Path) -> None:
    xrt = fake_pyxrt()
    with open_acc("pyxrt", xclbin, device_module=xrt) as acc:
        pass
    assert not acc.backend.is_open
    with pytest.raises(AcceleratorError, match="closed"):
        acc.run_ids([np.array([1])])
    acc.close()  # closing twice is harmless


def test_release_on_exception_inside_with(xclbin: Path) -> None:
    pynq = fake_pynq()
    with pytest.raises(RuntimeError, match="boom"), open_acc("pynq", xclbin,
                                                             device_module=pynq):
        raise RuntimeError("boom")
    assert pynq.log[-1] == ("Overlay.free",)


@pytest.mark.parametrize(("backend", "module", "message"), [
    ("pynq", fake_pynq(n_devices=0), "sees no Alveo card"),
    ("pynq", fake_pynq(kernel_name="other"), "has no kernel 'sbf_encoder'.*wrong xclbin"),
    ("pyxrt", fake_pyxrt(open_fails=True), "cannot open XRT device 0"),
    ("pyxrt", fake_pyxrt(kernel_name="other"), "has no kernel 'sbf_encoder'.*wrong xclbin"),
])
def test_board_errors_name_what_is_missing(xclbin: Path, backend: str, module: Any,
                                           message: str) -> None:
    with pytest.raises(BackendError, match=message):
        open_acc(backend, xclbin, device_module=module)


def test_board_backend_without_xclbin_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="no xclbin.*sbf hw build"):
        open_acc("pynq", write_design(tmp_path), device_module=fake_pynq())


def test_wrong_pynq_version_refused(xclbin: Path) -> None:
    module = fake_pynq()
    module.__version__ = "3.1.0"
    with pytest.raises(BackendError, match="pynq==3.0.1"):
        open_acc("pynq", xclbin, device_module=module)


def test_missing_board_modules_are_named() -> None:
    for name, hint in (("pynq", "pip install pynq==3.0.1"), ("pyxrt", "xrt/setup.sh")):
        with pytest.raises(BackendError, match=hint):
            make_backend(name)
    with pytest.raises(AcceleratorError, match="not one of"):
        make_backend("cuda")
    with pytest.raises(BackendError, match="no C-simulation library"):
        make_backend("emulation")


def test_auto_prefers_a_board_only_with_an_xclbin(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    assert detect_backend(board=True) == "emulation"  # neither pynq nor pyxrt here
    present = {"pyxrt"}
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda n: object() if n in present else real(n))
    assert detect_backend(board=True) == "pyxrt"
    present.add("pynq")
    assert detect_backend(board=True) == "pynq"
    assert detect_backend(board=False) == "emulation"


def test_host_exports_the_accelerator() -> None:
    import host

    assert host.Accelerator is Accelerator


def test_design_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(AcceleratorError, match="does not exist"):
        load_design(tmp_path / "nope")
    (tmp_path / "a.xclbin").write_bytes(b"")
    with pytest.raises(AcceleratorError, match=f"no {RENDER_MANIFEST}"):
        load_design(tmp_path / "a.xclbin")
    (tmp_path / RENDER_MANIFEST).write_text(json.dumps({"generator": "someone else"}))
    with pytest.raises(AcceleratorError, match="not a manifest of `sbf hw render`"):
        load_design(tmp_path)


def test_design_rendered_for_other_weights_is_refused(tmp_path: Path) -> None:
    root = write_design(tmp_path, image=b"other weights")
    with pytest.raises(AcceleratorError, match="rendered for other weights.*wrong xclbin"):
        open_acc("pynq", root / "build" / "sbf_encoder.hw.xclbin", device_module=fake_pynq())


def test_design_for_another_shape_is_refused(tmp_path: Path) -> None:
    other = CFG.replace(model=ModelDims(hidden=32, heads=2, ffn=32, layers=LAYERS))
    with pytest.raises(AcceleratorError, match="hidden 32.*hidden 16"):
        open_acc(design=write_design(tmp_path, cfg=other))


def test_emulation_catches_a_missing_sync() -> None:
    """Device memory is separate from the host view: a skipped sync shows (here first
    as the status words' clear that never reached the device)."""
    backend = EmulationBackend(lambda args: toy_kernel(*args))
    backend.sync_to_device = lambda name, rows=None: None  # type: ignore[method-assign]
    with open_acc(backend) as acc, pytest.raises(BackendError, match="did not reach the dev"):
        acc.run_ids([np.array([50, 2])])
