"""The board path against fakes that behave like PYNQ 3.0.1 and pyxrt (tests/host_fakes.py).

Each defect of issue 16 has a test here that failed on the code before its fix: a failed
run handing back the previous call's results, memory banks looked up by the wrong names,
two threads on one `Accelerator`, and `--design` not finding the xclbin `sbf hw build`
writes.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from host.accelerator import (
    RUN_TAG_SPAN,
    STATUS_PENDING,
    load_design,
    pending_word,
    status_problem,
)
from host.backends.base import BackendError
from host.backends.emulation import EmulationBackend
from hw.hls import abi
from tests.host_fakes import (
    DDR_CONNECTIVITY,
    DDR_TAGS,
    POISON,
    U200_CONNECTIVITY,
    U200_TAGS,
    fake_pynq,
    fake_pyxrt,
)
from tests.test_host_accelerator import SEQS, expected_cls, open_acc, toy_kernel, write_design

BUILT = "sbf_encoder.hw.xclbin"  # where `sbf hw build --target hw` links the xclbin
RTL_BUILT = "sbf_encoder.rtl.hw.xclbin"  # and `sbf hw build --kernel rtl --target hw`


def kernel(args: Any) -> None:
    toy_kernel(*args)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A rendered project with the xclbin where `sbf hw build --target hw` writes it."""
    root = write_design(tmp_path / "design")
    (root / BUILT).write_bytes(b"xclbin2\0")
    return root


def cls_of(res: Any) -> list[int]:
    return res.logits[:, 0].astype(int).tolist()


def test_failed_run_is_an_error_not_the_last_results(project: Path) -> None:
    """PYNQ's wait() swallows the failed run; the host must not return the last outputs."""
    pynq = fake_pynq(kernel, tags=DDR_TAGS, connectivity=DDR_CONNECTIVITY, fail_runs={2})
    with open_acc("pynq", project / BUILT, device_module=pynq) as acc:
        first = acc.run_ids([np.array([5, 6, 7])])
        assert cls_of(first) == [expected_cls([5, 6, 7])]
        with pytest.raises(BackendError, match=r"failed.*run 2: sequences \[0\], lengths \[3\]"):
            acc.run_ids([np.array([9, 6, 7])])


def test_banks_found_by_the_xclbins_tags(project: Path) -> None:
    """U200 shells tag their DDR banks bank0..bank3; PYNQ lists only the used ones."""
    pynq = fake_pynq(kernel)
    with open_acc("pynq", project / BUILT, device_module=pynq) as acc:
        res = acc.run_ids([np.array(s) for s in SEQS])
    assert cls_of(res) == [expected_cls(s) for s in SEQS]
    allocs = {e[1]: e[4] for e in pynq.log if e[0] == "allocate"}
    assert sorted(allocs.values()) == ["bank1", "bank2", "bank2", "bank2", "bank2"]


def test_two_threads_on_one_accelerator_get_their_own_outputs() -> None:
    """Each of two threads runs 5 sequences while the other's kernel calls are in flight."""
    slow = EmulationBackend(lambda args: (threading.Event().wait(0.01), toy_kernel(*args)))
    seqs = {t: [np.array([10 * t + i + 1] * (i + 2)) for i in range(5)] for t in range(2)}
    got: dict[int, list[int]] = {}
    start = threading.Barrier(2)

    def work(t: int) -> None:
        start.wait()
        got[t] = cls_of(acc.run_ids(seqs[t]))

    with open_acc(slow, max_batch=1) as acc:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    for t in range(2):
        assert got[t] == [expected_cls(s.tolist()) for s in seqs[t]]


def test_design_directory_finds_the_built_xclbin(project: Path) -> None:
    assert load_design(project).xclbin == project / BUILT


# -- failure is never silent -----------------------------------------------------------
@pytest.mark.parametrize("make", [fake_pynq, fake_pyxrt])
def test_a_run_that_leaves_no_error_is_caught_by_the_status_words(project: Path,
                                                                   make: Any) -> None:
    """The run 'completes' but the kernel never wrote: its status words are still pending."""
    module = make(kernel, silent_runs={2})
    with open_acc(backend_of(make), project / BUILT, device_module=module) as acc:
        acc.run_ids([np.array([5, 6, 7])])
        with pytest.raises(BackendError, match=r"sequence 0 \(length 3, run 2\): the kernel "
                                               r"wrote no status.*nothing of this call"):
            acc.run_ids([np.array([5, 6, 7]), np.array([8, 9])])
        # the next call is clean again: its words carry its own run number
        assert cls_of(acc.run_ids([np.array([9, 6])])) == [expected_cls([9, 6])]


def backend_of(make: Any) -> str:
    return "pynq" if make is fake_pynq else "pyxrt"


def test_status_words_are_told_apart() -> None:
    ok = abi.STATUS_CODES["ok"]
    assert status_problem(ok, 7) is None
    assert "wrote no status" in status_problem(pending_word(7), 7)
    assert "stale status: the word is run 6's" in status_problem(pending_word(6), 7)
    assert "refused it (bad_length)" in status_problem(abi.STATUS_CODES["bad_length"], 7)
    assert "unknown status 9" in status_problem(9, 7)
    # no code the kernel writes can be mistaken for a pending word
    assert all(not STATUS_PENDING <= c < STATUS_PENDING + RUN_TAG_SPAN
               for c in abi.STATUS_CODES.values())


def test_a_status_clear_that_never_reaches_the_device_is_an_error(project: Path) -> None:
    """A lost clear would let the last run's `ok` words pass for this run's."""
    pynq = fake_pynq(kernel)
    with open_acc("pynq", project / BUILT, device_module=pynq) as acc:
        acc.run_ids([np.array([5, 6, 7])])
        real = acc.backend.sync_to_device
        acc.backend.sync_to_device = (  # type: ignore[method-assign]
            lambda name, rows=None: None if name == "status" else real(name, rows))
        with pytest.raises(BackendError, match=r"run 2: the cleared status words of "
                                               r"sequences \[0\] did not reach the device"):
            acc.run_ids([np.array([1, 2])])


# -- memory banks from the xclbin's topology -------------------------------------------
@pytest.mark.parametrize(("tags", "connectivity", "image", "data"), [
    (U200_TAGS, U200_CONNECTIVITY, "bank1", "bank2"),  # the shell's tags
    (DDR_TAGS, DDR_CONNECTIVITY, "DDR[1]", "DDR[2]"),  # the board file's names
])
def test_banks_by_name_when_the_xclbin_names_no_argument_memory(
        project: Path, tags: tuple[str, ...], connectivity: dict, image: str,
        data: str) -> None:
    pynq = fake_pynq(kernel, tags=tags, connectivity=connectivity, argument_memory=False)
    with open_acc("pynq", project / BUILT, device_module=pynq) as acc:
        assert cls_of(acc.run_ids([np.array([5, 6, 7])])) == [expected_cls([5, 6, 7])]
    allocs = [e[4] for e in pynq.log if e[0] == "allocate"]
    assert allocs == [data, data, data, image, data]  # schedule act_in act_out image status


def test_a_bank_the_xclbin_lacks_is_named_with_what_it_offers(project: Path) -> None:
    hbm = ("HBM[0]", "HBM[1]", "PLRAM[0]")
    pynq = fake_pynq(kernel, tags=hbm, connectivity=dict.fromkeys(U200_CONNECTIVITY, "HBM[0]"),
                     argument_memory=False)
    with pytest.raises(BackendError, match=r"no memory for buffer 'schedule' \(bank DDR\[2\], "
                                           r"tried \['DDR\[2\]', 'bank2'\]\); the xclbin uses "
                                           r"\['HBM\[0\]'\] \(unused: \['HBM\[1\]', "
                                           r"'PLRAM\[0\]'\]\)"):
        open_acc("pynq", project / BUILT, device_module=pynq)
    assert pynq.log[-1] == ("Overlay.free",)  # nothing is left allocated


def test_a_buffer_in_a_bank_its_port_cannot_reach_fails_the_run(project: Path) -> None:
    """The fake card refuses a buffer outside its argument's bank, as the real one hangs."""
    pynq = fake_pynq(kernel, tags=DDR_TAGS, connectivity=DDR_CONNECTIVITY,
                     argument_memory=False)
    with open_acc("pynq", project / BUILT, device_module=pynq) as acc:
        pynq.card.connectivity["image"] = "DDR[0]"  # the xclbin moved the weights
        with pytest.raises(BackendError, match="run failed.*Execution failed"):
            acc.run_ids([np.array([1, 2])])


# -- pyxrt mappings do not keep their buffer alive -------------------------------------
def test_pyxrt_results_outlive_the_buffers(project: Path) -> None:
    xrt = fake_pyxrt(kernel)
    with open_acc("pyxrt", project / BUILT, device_module=xrt) as acc:
        res = acc.run_ids([np.array(s) for s in SEQS])
        mapping = acc.backend.host("act_out")
    # the fake behaves like pyxrt: the mapping now shows freed memory ...
    assert np.all(mapping.view(np.uint8) == POISON)
    # ... while what the accelerator returned are copies
    assert cls_of(res) == [expected_cls(s) for s in SEQS]
    assert all(h.base is None or not isinstance(h.base, memoryview) for h in res.hidden)


# -- threads ---------------------------------------------------------------------------
def test_two_threads_on_a_pynq_card(project: Path) -> None:
    pynq = fake_pynq(kernel, delay_s=0.005)
    seqs = {t: [np.array([20 * t + i + 1] * (i + 1)) for i in range(5)] for t in range(2)}
    got: dict[int, list[int]] = {}
    with open_acc("pynq", project / BUILT, device_module=pynq, max_batch=2) as acc:
        threads = [threading.Thread(target=lambda t=t: got.update(
            {t: cls_of(acc.run_ids(seqs[t]))})) for t in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert got == {t: [expected_cls(s.tolist()) for s in seqs[t]] for t in range(2)}


# -- --design: what `sbf hw build` writes ----------------------------------------------
def test_design_is_the_project_or_its_xclbin(project: Path) -> None:
    assert load_design(project / BUILT).xclbin == project / BUILT
    assert load_design(project).root == load_design(project / BUILT).root == project


def test_a_project_without_xclbin_says_where_it_looked(tmp_path: Path) -> None:
    root = write_design(tmp_path / "design")
    (root / "build" / BUILT).unlink()
    (root / "sbf_encoder.hw_emu.xclbin").write_bytes(b"xclbin2\0")
    with pytest.raises(BackendError) as e:
        open_acc("pynq", root, device_module=fake_pynq(kernel))
    msg = str(e.value)
    assert "\n" not in msg
    assert f"no xclbin in {root} (looked for {root / BUILT}, {root / RTL_BUILT}; the " \
           "project has only ['sbf_encoder.hw_emu.xclbin'])" in msg
    assert f"sbf hw build --project {root} --target hw" in msg


def test_hardware_emulation_looks_for_the_hw_emu_xclbin(project: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setenv("XCL_EMULATION_MODE", "hw_emu")
    assert load_design(project).xclbin is None
    (project / "sbf_encoder.hw_emu.xclbin").write_bytes(b"xclbin2\0")
    assert load_design(project).xclbin == project / "sbf_encoder.hw_emu.xclbin"


def test_auto_picks_the_board_for_a_built_project(project: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    pynq = fake_pynq(kernel)
    pynq.__spec__ = None
    monkeypatch.setitem(sys.modules, "pynq", pynq)
    monkeypatch.setattr("importlib.util.find_spec",
                        lambda name: object() if name == "pynq" else None)
    with open_acc("auto", project) as acc:
        assert acc.backend.name == "pynq"
        assert cls_of(acc.run_ids([np.array([4, 4])])) == [expected_cls([4, 4])]


def test_pyxrt_argument_in_a_memory_the_xclbin_does_not_use_is_named(project: Path) -> None:
    xrt = fake_pyxrt(kernel)

    class Xclbin(xrt.xclbin):
        def get_mems(self) -> list[Any]:
            mems = super().get_mems()
            for m in mems:
                if m.get_tag() == "bank1":
                    m.get_used = lambda: False
            return mems

    xrt.xclbin = Xclbin
    with pytest.raises(BackendError, match=r"argument 'image' is connected to memory 1, "
                                           r"which the xclbin does not use \(it uses "
                                           r"\['bank2'\]\)"):
        open_acc("pyxrt", project / BUILT, device_module=xrt)


def test_an_rtl_kernel_xclbin_gets_the_rtl_image(tmp_path: Path) -> None:
    """Same registers and buffers as the HLS kernel, but the RTL kernel reads its own
    model image (`sbf hw build --kernel rtl` writes rtl_kernel/image.bin)."""
    root = write_design(tmp_path / "design")
    (root / "build" / BUILT).unlink()
    (root / RTL_BUILT).write_bytes(b"xclbin2\0")
    design = load_design(root)
    assert design.xclbin == root / RTL_BUILT and design.kernel == "rtl"
    from host.accelerator import AcceleratorError

    with pytest.raises(AcceleratorError, match=r"rtl_kernel/image.bin is missing; rerun `sbf hw "
                                           r"build --kernel rtl`"):
        open_acc("pynq", root, device_module=fake_pynq(kernel, tags=DDR_TAGS,
                                                       connectivity=DDR_CONNECTIVITY))
    image = bytes(range(256)) * 3
    (root / "rtl_kernel").mkdir()
    (root / "rtl_kernel" / "image.bin").write_bytes(image)
    with open_acc("pynq", root, device_module=fake_pynq(
            kernel, tags=DDR_TAGS, connectivity=DDR_CONNECTIVITY)) as acc:
        assert bytes(acc.backend.host("image")[:len(image)]) == image
        assert acc.kernel.buffer("image").shape == (len(image),)
