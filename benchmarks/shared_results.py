"""Safe updates of a results file that several benchmark scripts (and parallel runs of one
script) share, such as benchmarks/results/accuracy.json: each writer keeps the rows it does
not own, so the read-change-write must be atomic against other writers, and a reader must
never see a half-written file."""

from __future__ import annotations

import fcntl
import json
import os
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
