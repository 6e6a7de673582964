"""`sbf hp report` (density per layer of an artifact) and `sbf prune oneshot`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from algo.hp.artifact import ArtifactError, load_artifact
from algo.hp.format import HPMatrix, density_report
from algo.hp.mask import HPShape, split_density
from host.cli import Cli, CliError, fraction, positive_int

REPORT_COLUMNS = ("layer", "shape", "kept_blocks", "block_density", "density", "bytes_int8")


def register(cli: Cli) -> None:
    cli.group("hp", help="HP (hierarchically pruned) weights: inspect artifacts")
    p = cli.subcommand("hp", "report", _report, help="density and size of every HP layer")
    p.add_argument("--artifact", required=True, type=Path, help="artifact directory")

    cli.group("prune", help="prune a model into HP form")
    p = cli.subcommand("prune", "oneshot", _oneshot,
                       help="one-shot magnitude HP pruning of every encoder linear")
    p.add_argument("--density", required=True, type=fraction,
                   help="kept fraction of each weight, = block keep ratio * m / bi")
    _add_shape_args(p)
    p.add_argument("--model", help="model directory or hub id (default: the packaged MiniLM)")
    p.add_argument("--out", required=True, type=Path, help="artifact directory to write")


def _add_shape_args(p: argparse.ArgumentParser) -> None:
    """--bo/--bi/--m, defaulting to the default design so a plain run fits the hardware."""
    from hw.config import DesignConfig

    d = DesignConfig()
    p.add_argument("--bo", type=positive_int, default=d.bo, help=f"block rows (default {d.bo})")
    p.add_argument("--bi", type=positive_int, default=d.bi, help=f"block columns (default {d.bi})")
    p.add_argument("--m", type=positive_int, default=d.m,
                   help=f"kept entries per row of a kept block (default {d.m})")


def totals(layers: dict[str, HPMatrix]) -> dict[str, Any]:
    """Whole-model figures over all HP layers."""
    weights = sum(hp.out_features * hp.in_features for hp in layers.values())
    return {
        "layers": len(layers),
        "weights": weights,
        "nnz": sum(hp.nnz for hp in layers.values()),
        "density": sum(hp.nnz for hp in layers.values()) / weights if weights else 0.0,
        "bytes_int8": sum(hp.storage_bytes(8) for hp in layers.values()),
        "bytes_dense_int8": weights,
    }


def _report(args: argparse.Namespace) -> dict[str, Any] | None:
    try:
        art = load_artifact(args.artifact)
    except ArtifactError as e:
        raise CliError(str(e)) from None
    if not art.hp_layers:
        raise CliError(f"{args.artifact}: the artifact holds no HP layers")
    result = {"artifact": str(args.artifact), "total": totals(art.hp_layers),
              "layers": density_report(art.hp_layers)}
    if args.json:
        return result
    _print_table(result["layers"], REPORT_COLUMNS)
    t = result["total"]
    print(f"total: {t['layers']} layers, density {t['density']:.4f}, "
          f"{t['bytes_int8']} of {t['bytes_dense_int8']} dense int8 bytes")
    return None


def _print_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in columns))


def _command_line(args: argparse.Namespace) -> str:
    """The equivalent `sbf prune oneshot` call, whoever invoked the handler."""
    model = f" --model {args.model}" if args.model else ""
    return (f"sbf prune oneshot --density {args.density} --bo {args.bo} --bi {args.bi} "
            f"--m {args.m}{model} --out {args.out}")


def _oneshot(args: argparse.Namespace) -> dict[str, Any]:
    from algo.hp.model import export_hp_artifact, prune_model_oneshot
    from algo.models import ModelError, load_model, resolve_model

    start = time.perf_counter()
    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"--out: {args.out} is a file; give a directory for the artifact")
    try:
        shape = HPShape(args.bo, args.bi, args.m)
        split_density(args.density, shape)  # refuse a bad density before loading the model
        model, _ = load_model(args.model)
        layers = prune_model_oneshot(model, args.density, shape)
    except (ModelError, ValueError) as e:
        raise CliError(str(e)) from None
    meta = {
        "model": resolve_model(args.model),
        "density": args.density,
        "shape": {"bo": shape.bo, "bi": shape.bi, "m": shape.m},
        "method": "oneshot-magnitude",
        "command": _command_line(args),
    }
    export_hp_artifact(model, layers, args.out, meta)
    return {"out": str(args.out), **meta, "total": totals(layers),
            "seconds": round(time.perf_counter() - start, 3)}
