"""The RTL kernel package: the verified SystemVerilog as a Vitis RTL kernel (`.xo`).

Renders, into `<project>/rtl_kernel/`: the SV sources (hw/rtl/, copied) plus the kernel
top `sbf_encoder.sv` (hw/rtl/sbf_kernel.sv with this design's parameters, the very
wrapper the cocotb bench simulates), `kernel.xml` (ports and argument offsets from
sim/rtl/kernel_case.py), the Vivado `package_xo` Tcl, the `v++` link config (the HLS
flow's template, link.cfg.j2, so both kernels land on the same banks) and the kernel's
DDR image of the model. `plan` lists the vendor commands; hw/hls_cli.py runs them or,
without Vivado and v++, says what it would run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hw import vitis
from hw.config import DesignConfig
from hw.hls import abi
from hw.render import _write_if_changed, environment, memory_plan
from sim.rtl import kernel_case as kc
from sim.rtl.attention_case import lut_hex
from sim.rtl.layer_case import LayerImage, LayerParams
from sim.rtl.runner import ENGINES, RTL_DIR

PACKAGE_DIR = vitis.RTL_PACKAGE_DIR
PACKAGE_TOOL = "vivado"
XO = f"{abi.KERNEL}.xo"
VENDOR = "sbf.dev"
VLNV = f"{VENDOR}:kernel:{abi.KERNEL}:1.0"
LUT_FILE = "estimate_lut.hex"  # sparse_attention's estimate LUT, read by $readmemh
C_TYPES = {"schedule": "int*", "act_in": "void*", "act_out": "void*", "image": "void*",
           "status": "int*", "n_seq": "int", "n_layers": "int"}


@dataclass(frozen=True)
class Package:
    """A rendered package: its directory and every file's sha256."""

    out: Path
    files: dict[str, str]


def _sv_value(v: Any) -> str:
    return f'"{v}"' if isinstance(v, str) else str(int(v))


def top_source(p: LayerParams, cfg: DesignConfig) -> str:
    """The kernel top: sbf_kernel under the kernel's name, every parameter set."""
    params = kc.hdl_parameters(p, cfg)
    return environment().get_template("rtl_kernel_top.sv.j2").render(
        kernel=abi.KERNEL, ports=kc.ports(p),
        parameters=[(k, _sv_value(v)) for k, v in params.items()])


def top_digest(p: LayerParams, cfg: DesignConfig) -> str:
    """A short hash of the top (names its simulation build)."""
    return hashlib.sha256(top_source(p, cfg).encode()).hexdigest()[:12]


def _args() -> list[dict[str, Any]]:
    return [{"name": r.name, "offset": r.offset, "size": r.size, "pointer": r.pointer,
             "port": kc.port_name(r.name) if r.pointer else "s_axi_control",
             "type": C_TYPES[r.name]} for r in kc.REGISTERS]


def _masters(p: LayerParams) -> list[dict[str, Any]]:
    return [{"port": kc.port_name(r.name), "data_bits": kc.port_data_bits(r.name, p)}
            for r in kc.REGISTERS if r.pointer]


def link_context(cfg: DesignConfig) -> dict[str, Any]:
    """What link.cfg.j2 needs: the same kernel name, banks and SLR as the HLS flow."""
    plan = memory_plan(cfg)
    return {"kernel": abi.KERNEL, "platform": plan["board"].platform,
            "sp": [(port, plan["bank_of"][port]) for port in abi.M_AXI_PORTS],
            "slr": plan["slr"], "clock_mhz": cfg.clock_mhz}


def default_groups(cfg: DesignConfig) -> int:
    """PE groups of the design: the resource model's floorplan (as the link plan)."""
    return int(vitis.link_plan(cfg)["pe_groups"])


def render_package(cfg: DesignConfig, image: LayerImage, project: Path) -> Package:
    """Write the RTL kernel package for `cfg` and the dealt model `image` under
    `project/rtl_kernel/`."""
    p = image.params
    out = project / PACKAGE_DIR
    env = environment()
    plan = memory_plan(cfg)
    ctx = {"kernel": abi.KERNEL, "vlnv": VLNV, "vendor": VENDOR, "xo": XO,
           "part": plan["board"].part, "lut_file": LUT_FILE, "control_range": kc.CONTROL_RANGE,
           "args": _args(), "masters": _masters(p),
           "control": [{"name": n.upper(), "offset": o} for n, o in kc.CONTROL.items()]}
    files: dict[str, bytes] = {}
    for src in ENGINES["kernel"].sources:
        files[f"src/{src}"] = (RTL_DIR / src).read_bytes()
    files[f"src/{abi.KERNEL}.sv"] = top_source(p, cfg).encode()
    files[f"src/{LUT_FILE}"] = lut_hex().encode()
    files["kernel.xml"] = env.get_template("kernel.xml.j2").render(ctx).encode()
    files["package_xo.tcl"] = env.get_template("package_xo.tcl.j2").render(ctx).encode()
    files["link.cfg"] = env.get_template("link.cfg.j2").render(link_context(cfg)).encode()
    files["image.bin"] = kc.pack_image(image, tuple(cfg.bucket_edges))
    digests = {}
    for rel, data in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_if_changed(path, data)
        digests[f"{PACKAGE_DIR}/{rel}"] = hashlib.sha256(data).hexdigest()
    return Package(out, digests)


def plan(platform: str, target: str) -> list[vitis.Step]:
    """The commands (run in the project directory) that package and link the RTL kernel."""
    if target not in vitis.TARGETS:
        raise vitis.VitisError(f"target: must be one of {vitis.TARGETS}, got {target!r}")
    return [
        vitis.Step(PACKAGE_TOOL, ("-mode", "batch", "-source", f"{PACKAGE_DIR}/package_xo.tcl"),
                   f"package the RTL kernel as {PACKAGE_DIR}/{XO} (Vivado IP packager)"),
        vitis.Step(vitis.LINK_TOOL, ("-l", "-t", target, "--platform", platform, "--config",
                                     f"{PACKAGE_DIR}/link.cfg", "-o", xclbin_name(target),
                                     f"{PACKAGE_DIR}/{XO}"),
                   f"link the RTL kernel into {xclbin_name(target)} for {platform}"),
    ]


def xclbin_name(target: str) -> str:
    return vitis.rtl_xclbin_name(target)


def layer_params(cfg: DesignConfig, groups: int | None = None) -> LayerParams:
    """The layer top's parameters for `cfg` (groups: the floorplan's by default).
    ValueError (one line) when the RTL top cannot take the design (e.g. bo != bi)."""
    return LayerParams.from_config(cfg, groups or default_groups(cfg))


def render_for_model(cfg: DesignConfig, model: Any, project: Path,
                     params: LayerParams | None = None) -> Package:
    """Deal `model` (a QuantizedModel) over the PE groups and render the package."""
    from sim.rtl.layer_case import build_image

    params = params or layer_params(cfg)
    return render_package(cfg, build_image(model, params), project)
