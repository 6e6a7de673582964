"""`sbf hw render`, `sbf hw csim`, `sbf hw build`: the HLS flow from the command line.

torch and transformers are imported only when a model has to be built, so `sbf --help`
stays quick.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host.cli import Cli, CliError, fraction, one_line, show_progress
from hw import vitis
from hw.config import ConfigError, DesignConfig
from hw.csim import DEFAULT_LENGTHS, CsimError, run_check
from hw.hls.build import BuildError
from hw.hls.image import ImageError
from hw.render import RenderError, fit_refusal, fit_report, render

DEFAULT_OUT = Path("out") / "hls"
DEFAULT_DENSITY = 0.2  # HP at 80% sparsity
EXIT_MISSING_TOOLS = 3
EXIT_NOT_EXACT = 1
PROJECT_KEY_CHARS = 12  # default project directory: out/hls/<this many hex digits>


def register(cli: Cli) -> None:
    p = cli.subcommand("hw", "render", _render,
                       help="render the HLS project (kernel, bridge, Tcl, v++ cfg, weights)")
    _model_args(p)
    p.add_argument("--out", type=Path, required=True, help="project directory to write")

    p = cli.subcommand("hw", "csim", _csim,
                       help="g++ C simulation of the rendered engines against the golden model")
    _model_args(p)
    p.add_argument("--lengths", default=None,
                   help="comma-separated sequence lengths (default: 1,7,25,64,128 and the "
                        "tile-splitting lengths T-1, T+1, 2T+1, max-1, capped at max_length)")
    p.add_argument("--out", type=Path, help=f"project directory (default {DEFAULT_OUT}/<hash>)")

    p = cli.subcommand("hw", "build", _build,
                       help="Vitis csynth, cosim and v++ link (needs vitis_hls and v++)")
    _model_args(p)
    p.add_argument("--target", choices=vitis.TARGETS, default="hw_emu",
                   help="v++ link target: hw_emu (hardware emulation) or hw (the board's "
                        "xclbin); default hw_emu")
    p.add_argument("--project", type=Path, help="an already rendered project (else render)")
    p.add_argument("--out", type=Path, help=f"project directory (default {DEFAULT_OUT}/<hash>)")
    p.add_argument("--no-cosim", action="store_true", help="skip C/RTL co-simulation")
    p.add_argument("--kernel", choices=("hls", "rtl"), default="hls",
                   help="hls: the Vitis HLS kernel (default); rtl: the cocotb-verified RTL "
                        "packaged as a Vitis RTL kernel (Vivado package_xo, then v++ link); "
                        "both have the same register map")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="design config YAML (default: MiniLM on U200)")
    p.add_argument("--artifact", type=Path, help="integer artifact (`sbf quantize`) or HP "
                   "float artifact (`sbf prune`); default: one-shot HP pruning of --model to "
                   "--density")
    p.add_argument("--model", help="float model name or path (default: packaged MiniLM)")
    p.add_argument("--density", type=fraction, default=DEFAULT_DENSITY,
                   help=f"kept weight share without --artifact (default {DEFAULT_DENSITY})")
    p.add_argument("--synthetic", action="store_true",
                   help="a small random BERT instead of a real model (seconds, no weights)")
    p.add_argument("--glue-dir", help="GLUE data for calibration and check sentences "
                   "(default: $SBF_GLUE_DIR or ../shared/data/glue; built-in sentences if absent)")
    p.add_argument("--force", action="store_true",
                   help="render a design that the resource model says does not fit the board "
                        "(for experiments; the output says it was forced)")


def _config(args: argparse.Namespace) -> tuple[DesignConfig, str]:
    from hw.hls.synthetic import SMALL

    try:
        if args.config is None and args.synthetic:
            return SMALL, "hw.hls.synthetic.SMALL"
        cfg = DesignConfig.from_yaml(args.config)
    except ConfigError as e:
        raise CliError(str(e)) from None
    return cfg, str(args.config or "hw/configs/minilm-u200.yaml")


def _source(args: argparse.Namespace, cfg: DesignConfig) -> tuple[Any, Any, dict]:
    """(SourceModel or None for --synthetic, the QuantizedModel, what made it)."""
    if args.synthetic:
        from hw.hls.synthetic import synthetic_model

        return None, synthetic_model(cfg), {"model": "synthetic"}
    from hw.hls.model_source import load_source

    if args.artifact is not None and not args.artifact.is_dir():
        raise CliError(f"--artifact: no such directory {args.artifact}")
    try:
        src = load_source(cfg, args.artifact, args.model, args.density, args.glue_dir)
    except (ValueError, OSError) as e:
        raise CliError(str(e)) from None
    return src, src.quantized, src.description


@dataclass
class Rendered:
    """A rendered project and what it was made from."""

    cfg: DesignConfig
    source: Any  # SourceModel, or None for --synthetic
    qmodel: Any  # QuantizedModel
    out: Path
    info: dict


def _check_fit(args: argparse.Namespace, cfg: DesignConfig) -> dict[str, Any]:
    """Refuse a design the board cannot hold, before any model is loaded; with --force,
    go on and say so."""
    report = fit_report(cfg)
    if not report["fits"]:
        if not args.force:
            raise CliError(fit_refusal(report))
        report["forced"] = True
    return report


def _check_out(option: str, out: Path | None) -> None:
    if out is not None and out.exists() and not out.is_dir():
        raise CliError(f"{option}: {out} is a file; give a project directory")


def _project_config(project: Path, default: DesignConfig) -> DesignConfig:
    import json

    from hw.render import MANIFEST

    try:
        recorded = json.loads((project / MANIFEST).read_text()).get("config")
        return DesignConfig.from_dict(recorded, source=str(project / MANIFEST)) \
            if recorded else default
    except (OSError, ValueError, TypeError, AttributeError) as e:
        raise CliError(f"--project: {project / MANIFEST} is unreadable ({one_line(e)}); "
                       f"render the project again") from None


def _render_to(args: argparse.Namespace, out: Path | None) -> Rendered:
    cfg, cfg_source = _config(args)
    _check_out("--out", out)
    fit = _check_fit(args, cfg)
    src, qmodel, desc = _source(args, cfg)
    if out is None:
        key = hashlib.sha256(repr((cfg.to_dict(), sorted(desc.items()))).encode()).hexdigest()
        out = DEFAULT_OUT / key[:PROJECT_KEY_CHARS]
    try:
        res = render(cfg, qmodel, out, cfg_source, desc)
    except (RenderError, ImageError) as e:
        raise CliError(str(e)) from None
    return Rendered(cfg, src, qmodel, out, {"out": str(out), "files": len(res.files),
                                            "source": desc, "fit": fit})


def _render(args: argparse.Namespace) -> dict:
    return _render_to(args, args.out).info


def _lengths(args: argparse.Namespace, cfg: DesignConfig) -> list[int]:
    if args.lengths:
        try:
            lengths = [int(v) for v in args.lengths.split(",")]
        except ValueError:
            raise CliError(f"--lengths: not a comma-separated list of integers: "
                           f"{args.lengths!r}") from None
    else:
        t = cfg.tile_tokens
        lengths = [*DEFAULT_LENGTHS, t - 1, t + 1, 2 * t + 1, cfg.max_length - 1]
    bad = [n for n in lengths if not 1 <= n <= cfg.max_length]
    if bad and args.lengths:
        raise CliError(f"--lengths: {bad[0]} is outside 1..max_length={cfg.max_length}")
    return sorted({n for n in lengths if 1 <= n <= cfg.max_length})


def _csim(args: argparse.Namespace) -> tuple[dict, int]:
    import numpy as np

    cfg, _ = _config(args)
    lengths = _lengths(args, cfg)  # checked before the render, which loads a model
    r = _render_to(args, args.out)
    if r.source is None:  # synthetic: random int8 tokens stand in for sentences
        rng = np.random.default_rng(0)
        seqs = [rng.integers(-128, 128, size=(n, cfg.model.hidden)).astype(np.int8)
                for n in lengths]
        origin = "random int8 tokens (synthetic model)"
    else:
        from hw.hls.model_source import real_sequences

        try:
            seqs, origin = real_sequences(r.source, lengths, args.glue_dir)
        except ValueError as e:
            raise CliError(str(e)) from None
    try:
        result = run_check(r.out, r.qmodel, cfg, seqs, progress=show_progress(args))
    except (BuildError, CsimError) as e:
        raise CliError(str(e)) from None
    result = {**result, "project": r.info["out"], "inputs": origin, "source": r.info["source"],
              "fit": r.info["fit"]}
    return result, 0 if result["all_bit_exact"] else EXIT_NOT_EXACT


def _build(args: argparse.Namespace) -> tuple[dict, int]:
    from boards.loader import load_board

    if args.kernel == "rtl":
        return _build_rtl(args)
    cfg, _ = _config(args)
    project = args.project
    if project is None:
        rendered = _render_to(args, args.out)
        project, fit = rendered.out, rendered.info["fit"]
    elif not (project / "vitis" / "run_hls.tcl").is_file():
        raise CliError(f"--project: {project} is not a rendered project (no vitis/run_hls.tcl)")
    else:  # the design the project was rendered for, as its manifest records it
        fit = _check_fit(args, _project_config(project, cfg))
    steps = vitis.plan(load_board(cfg.board).platform, args.target, cosim=not args.no_cosim)
    missing = vitis.missing_tools(steps)
    info: dict[str, Any] = {"project": str(project), "target": args.target, "fit": fit,
                            "commands": [f"cd {project} && {s.command}" for s in steps]}
    if missing:
        info["error"] = (f"{' and '.join(missing)} not on PATH: install Vitis 2021.1 or later "
                         f"and source its settings64.sh; the commands above are what would run")
        info["missing_tools"] = missing
        return info, EXIT_MISSING_TOOLS
    try:
        info["ran"] = vitis.run(steps, project)
        info["csynth"] = vitis.parse_csynth(project / vitis.CSYNTH_REPORT)
    except vitis.VitisError as e:
        raise CliError(str(e)) from None
    info["xclbin"] = str(project / f"{vitis.KERNEL}.{args.target}.xclbin")
    return info, 0


def _build_rtl(args: argparse.Namespace) -> tuple[dict, int]:
    """`--kernel rtl`: render the project plus its RTL kernel package (hw/rtl_kernel.py),
    then package the .xo and link it, or say what would run without Vivado and v++."""
    from boards.loader import load_board
    from hw import rtl_kernel

    if args.project is not None:
        raise CliError("--project: --kernel rtl renders its package from the model; give "
                       "--out and the model options instead")
    cfg, _ = _config(args)
    try:  # before the render, which loads a model
        params = rtl_kernel.layer_params(cfg)
    except ValueError as e:
        raise CliError(f"--kernel rtl: {e}") from None
    rendered = _render_to(args, args.out)
    try:
        pkg = rtl_kernel.render_for_model(rendered.cfg, rendered.qmodel, rendered.out, params)
    except ValueError as e:
        raise CliError(f"--kernel rtl: {e}") from None
    project = rendered.out
    steps = rtl_kernel.plan(load_board(rendered.cfg.board).platform, args.target)
    missing = vitis.missing_tools(steps)
    info: dict[str, Any] = {"project": str(project), "kernel": "rtl", "target": args.target,
                            "fit": rendered.info["fit"], "package": str(pkg.out),
                            "package_files": sorted(pkg.files),
                            "commands": [f"cd {project} && {s.command}" for s in steps]}
    if missing:
        info["error"] = (f"{' and '.join(missing)} not on PATH: install Vivado and Vitis "
                         f"2021.1 or later and source their settings64.sh; the commands "
                         f"above are what would run")
        info["missing_tools"] = missing
        return info, EXIT_MISSING_TOOLS
    try:
        info["ran"] = vitis.run(steps, project)
    except vitis.VitisError as e:
        raise CliError(str(e)) from None
    info["xclbin"] = str(project / rtl_kernel.xclbin_name(args.target))
    return info, 0
