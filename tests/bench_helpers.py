"""What the benchmark-script tests share: loading a script of benchmarks/ as a module and
pointing its output files into a test's temporary directory."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py as a module (scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def redirect(module: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
             *names: str) -> ModuleType:
    """Each module-level Path constant in `names` moved to tmp_path, same file name."""
    for name in names:
        monkeypatch.setattr(module, name, tmp_path / Path(getattr(module, name)).name)
    return module
