"""benchmarks/shared_results.py: parallel writers of one results file lose no rows."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from benchmarks.shared_results import locked_doc, read_doc

WRITERS = 4
ROWS_EACH = 10


def _add_rows(path: Path, writer: int) -> None:
    for i in range(ROWS_EACH):
        with locked_doc(path) as doc:
            doc["rows"].append({"writer": writer, "i": i})


def test_parallel_writers_keep_every_row(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_add_rows, args=(path, w)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
    rows = json.loads(path.read_text())["rows"]
    assert sorted((r["writer"], r["i"]) for r in rows) == [
        (w, i) for w in range(WRITERS) for i in range(ROWS_EACH)]


def test_an_error_inside_the_block_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"rows": [{"a": 1}], "what": "kept"}))
    with pytest.raises(RuntimeError), locked_doc(path) as doc:
        doc["rows"].clear()
        raise RuntimeError("render failed")
    assert read_doc(path) == {"rows": [{"a": 1}], "what": "kept"}
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_the_older_list_layout_is_read_and_a_malformed_file_named(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps([{"a": 1}]))
    assert read_doc(path) == {"rows": [{"a": 1}]}
    path.write_text(json.dumps({"rows": 3}))
    with pytest.raises(ValueError, match="results.json"):
        read_doc(path)


def test_a_scripts_own_results_name_the_command_and_machine(tmp_path: Path) -> None:
    from benchmarks.shared_results import write_results

    path = tmp_path / "sub" / "bench.json"
    doc = write_results(path, [{"x": 1, "kind": "measured"}])
    saved = json.loads(path.read_text())
    assert saved == doc and saved["rows"] == [{"x": 1, "kind": "measured"}]
    assert saved["command"] and saved["machine"]["cores"] >= 1
    assert [p.name for p in path.parent.iterdir()] == ["bench.json"]
