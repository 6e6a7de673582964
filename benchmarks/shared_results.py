"""Writing benchmark results: a script's own file (`write_results`), and safe updates of a
file that several scripts, or parallel runs of one, share (`locked_doc`), such as
benchmarks/results/accuracy.json: each writer keeps the rows it does not own, so the
read-change-write must be atomic against other writers, and a reader must never see a
half-written file."""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def read_doc(path: Path) -> dict[str, Any]:
    """The file as {"rows": [...], ...}; a bare list of rows (an older layout) is accepted."""
    if not path.is_file():
        return {"rows": []}
    loaded = json.loads(path.read_text())
    doc = {"rows": loaded} if isinstance(loaded, list) else loaded
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
        raise ValueError(f"{path}: expected a list of rows or {{\"rows\": [...]}}")
    return doc


@contextmanager
def locked_doc(path: Path) -> Iterator[dict[str, Any]]:
    """The file's document, to change in place; written back when the block ends without an
    error. Other writers wait on an exclusive lock for the whole block (so work that must
    see the same rows, such as rendering a table from them, belongs inside it), and the new
    file replaces the old one by a rename, so readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = read_doc(path)
        yield doc
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        os.replace(tmp, path)


def write_results(path: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A script's own results file: its rows with the command and the machine that made
    them, written whole by a rename so that a cut-off run leaves the old file."""
    from host.machine import machine_info

    doc = {"command": shlex.join([sys.executable, *sys.argv]), "machine": machine_info(),
           "rows": rows}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)
    return doc
