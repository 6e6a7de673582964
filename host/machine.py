"""The machine a figure was measured on, described the same way by every benchmark."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (platform's answer elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> float | None:
    """The 1-minute load: on a shared machine, how many others competed for the cores."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def machine_info(torch_details: bool = True) -> dict[str, Any]:
    """CPU, cores, Python, platform, load; torch's version, threads and GPU when asked."""
    info: dict[str, Any] = {"node": platform.node(), "cpu": cpu_model(),
                            "cores": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform(),
                            "load_average_1m_at_start": load_average()}
    if torch_details:
        import torch

        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads(), cuda=None)
        if torch.cuda.is_available():
            info["cuda"] = {"device": torch.cuda.get_device_name(0),
                            "version": torch.version.cuda}
    return info
