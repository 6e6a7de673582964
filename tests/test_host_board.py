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

from host.accelerator import load_design
from host.backends.base import BackendError
from host.backends.emulation import EmulationBackend
from tests.host_fakes import DDR_CONNECTIVITY, DDR_TAGS, fake_pynq
from tests.test_host_accelerator import SEQS, expected_cls, open_acc, toy_kernel, write_design

BUILT = "sbf_encoder.hw.xclbin"  # where `sbf hw build --target hw` links the xclbin


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
