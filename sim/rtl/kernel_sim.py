"""Simulate the RTL kernel through its registers and memory ports, as a host drives it.

The simulated top is the rendered kernel top (hw/rtl_kernel.py:top_source), the same
file the package ships, so the parameters the board gets are the ones verified here.
Its build is named by the top's hash (the parameters live in the file, not on the
command line).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hw.config import DesignConfig
from hw.hls import abi
from sim.rtl.kernel_case import KernelCall, KernelRun, Layout, pack_image
from sim.rtl.layer_case import LayerImage, layer_cycles_bound
from sim.rtl.runner import DEFAULT_BUILD_ROOT, ENGINES, Engine, run_cases
from sim.rtl.simulators import Simulator
from sim.rtl.stimulus import StimulusOptions

LOAD_CYCLES_PER_BYTE = 1  # bound on the image load: a byte a cycle is far slower than it


def kernel_engine(cfg: DesignConfig, image: LayerImage, build_root: Path | None = None
                  ) -> Engine:
    """The kernel engine with the rendered top written under the build root."""
    from hw.render import _write_if_changed
    from hw.rtl_kernel import top_digest, top_source

    p = image.params
    digest = top_digest(p, cfg)
    top = (build_root or DEFAULT_BUILD_ROOT) / "kernel_top" / digest / f"{abi.KERNEL}.sv"
    top.parent.mkdir(parents=True, exist_ok=True)
    _write_if_changed(top, top_source(p, cfg).encode())
    base = ENGINES["kernel"]
    return dataclasses.replace(base, name=f"kernel_{digest}", toplevel=abi.KERNEL,
                               sources=(*base.sources, str(top.resolve())))


def simulate_kernel(cfg: DesignConfig, image: LayerImage, calls: Sequence[KernelCall],
                    sim: Simulator, stress: bool = False, seed: int = 0,
                    build_root: Path | None = None, waves: bool = False
                    ) -> list[dict[str, Any]]:
    """Run `calls` one after another in one simulation; per call what the bench saw.
    `stress`: random ready/valid gaps on every AXI4 channel of the DDR model."""
    data = pack_image(image, tuple(cfg.bucket_edges))
    bound = layer_cycles_bound(image, image.params.max_len) + LOAD_CYCLES_PER_BYTE * len(data)
    run = KernelRun(data, Layout(), list(calls), image.params.hidden, bound)
    engine = kernel_engine(cfg, image, build_root)
    return run_cases(engine, {}, [run], sim, StimulusOptions(stress, stress, seed=seed),
                     build_root, waves)
