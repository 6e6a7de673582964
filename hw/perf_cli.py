"""`sbf hw estimate|schedule|explore` and `sbf select`: the performance model on the command line.

Every figure these commands print is modeled (the `hw.perf` model, its RTL engine
resources and clock fitted to Yosys synthesis, and the `hw.sched` pipeline simulation),
never measured; the JSON says so, and `resource_model` says which figure is
Yosys-calibrated and which is still analytical.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from host.cli import (
    Cli,
    CliError,
    finite_float,
    fraction,
    positive_int,
    show_progress,
    write_json,
)
from hw.config import ConfigError, DesignConfig

DEFAULT_DENSITY = 0.2  # 80% HP sparsity, the project's headline setting
DEFAULT_SPLIT = "dev"


def register(cli: Cli) -> None:
    p = cli.subcommand("hw", "estimate", _estimate,
                       "modeled latency, throughput, resources, DDR traffic and roofline")
    _design_args(p)
    p.add_argument("--artifact", help="HP artifact directory (per-layer kept blocks); "
                                      "without it a uniform --density is assumed")
    p.add_argument("--lengths", type=positive_int, nargs="+",
                   help="sequence lengths to report (default: the config's bucket edges)")
    p.add_argument("--machine", choices=("auto", "rtl", "analytical"), default="auto",
                   help="auto: the RTL layer top where it runs the config and fits the "
                        "board, else the analytical machine (says why); rtl: refuse "
                        "otherwise; analytical: the HLS kernel's structure")

    p = cli.subcommand("hw", "schedule", _schedule,
                       "length-aware scheduling against padding policies over a GLUE trace "
                       "(sequences over the design's max_length are truncated to it and "
                       "counted in `truncated`)")
    _design_args(p)
    _trace_args(p)
    p.add_argument("--batch", type=positive_int, default=8,
                   help="batch size of the padding policies and the in-flight window (8)")
    p.add_argument("--stages", type=positive_int, default=4, help="coarse pipeline stages (4)")
    p.add_argument("--edges", type=positive_int, nargs="+",
                   help="bucket edges (default: the config's bucket_edges)")
    p.add_argument("--plot", help="write a Gantt chart and stage utilisation to this PNG")
    p.add_argument("--table", help="write the length-aware schedule table to this JSON file")

    p = cli.subcommand("hw", "explore", _explore,
                       "Pareto front of latency, throughput and resources on a board")
    _design_args(p)
    _trace_args(p)
    p.add_argument("--accuracy", help="accuracy table (variants to explore); default: "
                                      "one variant at --density")
    p.add_argument("--sample", type=positive_int, default=128,
                   help="sequences sampled from the trace per design (128)")
    p.add_argument("--k", type=positive_int, nargs="+",
                   help="top-k values to sweep (default: the config's attn_k; the accuracy "
                        "table does not say what k costs in accuracy)")
    p.add_argument("--plot", help="write the front (throughput vs p99 latency) to this PNG")
    p.add_argument("--ray", action="store_true", help="evaluate the designs on Ray")

    p = cli.command("select", _select,
                    "cheapest board meeting a latency and an accuracy-drop constraint")
    p.add_argument("--latency-ms", type=finite_float, required=True, help="latency constraint (ms)")
    p.add_argument("--max-accuracy-drop", type=finite_float, required=True,
                   help="largest acceptable drop from the dense baseline, in the metric's "
                        "units (0.01 = one point of a 0..1 accuracy)")
    p.add_argument("--task", required=True, help="GLUE task of the accuracy table rows")
    p.add_argument("--accuracy", help="accuracy table (default "
                                      "benchmarks/results/accuracy.json)")
    p.add_argument("--config", help="design config YAML for the model dims and PE shape")
    p.add_argument("--length", type=positive_int, help="sequence length of the latency constraint "
                                              "(default: the config's max_length)")
    p.add_argument("--boards", nargs="+", help="boards to consider (default: all in boards/)")


def _design_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="design config YAML (default hw/configs/minilm-u200.yaml)")
    p.add_argument("--board", help="board name or YAML (default: the config's board)")
    p.add_argument("--density", type=fraction, default=DEFAULT_DENSITY,
                   help=f"uniform HP density without an artifact ({DEFAULT_DENSITY})")
    p.add_argument("--pe-groups", type=positive_int, help="PE groups (default: the most that fit)")


def _trace_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, help="GLUE task whose lengths form the trace")
    p.add_argument("--split", default=DEFAULT_SPLIT, help="split (dev)")
    p.add_argument("--glue-dir", help="GLUE directory (default: SBF_GLUE_DIR or shared data)")
    p.add_argument("--model", help="tokenizer: model directory or hub id (default MiniLM)")
    p.add_argument("--limit", type=positive_int, help="use only the first N sequences (N >= 1)")


def _config(args: argparse.Namespace) -> tuple[DesignConfig, Any]:
    from boards.loader import BoardError, load_board

    try:
        cfg = DesignConfig.from_yaml(args.config)
        board = load_board(getattr(args, "board", None) or cfg.board)
    except (ConfigError, BoardError) as e:
        raise CliError(str(e)) from None
    return cfg, board


def _design(args: argparse.Namespace, artifact: str | None = None,
            machine: str = "auto") -> Any:
    from hw.perf.model import build_design
    from hw.perf.ops import artifact_weights, uniform_weights, with_density

    cfg, board = _config(args)
    try:
        if artifact:
            from algo.hp.artifact import ArtifactError, load_artifact

            try:
                weights = artifact_weights(load_artifact(artifact), cfg)
            except ArtifactError as e:
                raise CliError(str(e)) from None
        else:
            cfg = with_density(cfg, args.density)
            weights = uniform_weights(cfg, args.density)
        return build_design(cfg, board, weights, args.pe_groups, machine=machine)
    except (ConfigError, ValueError) as e:
        raise CliError(str(e)) from None


def _lengths(args: argparse.Namespace) -> np.ndarray:
    from algo.glue import GlueError, token_lengths
    from algo.models import ModelError, load_tokenizer

    try:
        lengths = token_lengths(args.task, args.split, load_tokenizer(args.model), args.glue_dir)
    except (GlueError, ModelError) as e:
        raise CliError(str(e)) from None
    return lengths[: args.limit] if args.limit else lengths


def _estimate(args: argparse.Namespace) -> dict[str, Any]:
    from hw.perf.engines import (
        AttentionEngine,
        LayerNormEngine,
        attention_resources,
        engine_costs,
        group_resources,
    )
    from hw.perf.model import estimate
    from hw.perf.ops import OPS_BY_NAME

    design = _design(args, args.artifact, args.machine)
    cfg = design.cfg
    try:
        result = estimate(design, args.lengths or list(cfg.bucket_edges))
    except ValueError as e:
        raise CliError(f"--lengths: {e}") from None
    result["per_group"] = vars(group_resources(cfg))
    result["attention_engines_total"] = vars(attention_resources(cfg))
    result["engines"] = engine_costs(cfg)
    result["engine_cycles_at_max_length"] = {
        "attention_all_heads": AttentionEngine(cfg).cycles(cfg.max_length),
        "layernorm_one_group": LayerNormEngine(cfg).cycles(cfg.max_length),
        "layer0_ffn1_one_group": design.cost.spmm(0, OPS_BY_NAME["ffn1"]).cycles(cfg.max_length),
    }
    result["weights"]["source"] = args.artifact or f"uniform density {args.density}"
    return result


def _schedule(args: argparse.Namespace) -> dict[str, Any]:
    from hw.sched import compare, make_pipeline

    if args.batch < 1 or args.stages < 1:
        raise CliError("--batch and --stages must be >= 1")
    design = _design(args, machine="analytical")  # stage overlap: not the RTL's
    lengths = _lengths(args)
    clipped = np.minimum(lengths, design.cfg.max_length)
    try:
        pipe = make_pipeline(design, round(float(clipped.mean())), args.stages)
        runs = compare(pipe, lengths, args.batch, args.edges)
    except ValueError as e:
        raise CliError(str(e)) from None
    hz = design.clock_hz
    policies = {name: run.metrics(hz) for name, run in runs.items()}
    base = policies["pad_to_max"]["throughput_seq_s"]
    for m in policies.values():
        m["speedup_vs_pad_to_max"] = m["throughput_seq_s"] / base
    la = runs["length_aware"]
    result = {
        "task": args.task, "split": args.split, "sequences": int(lengths.size),
        "truncated": int((lengths > design.cfg.max_length).sum()),
        "mean_length": float(clipped.mean()), "board": design.board.name,
        "model": "hw.perf analytical model + hw.sched discrete-event simulation",
        "figures": "modeled", "pe_groups": design.groups, "batch": args.batch,
        "stages": [[op.name for op in st] for st in pipe.stages],
        "allocations": {p: {str(k): list(v) for k, v in r.allocations.items()}
                        for p, r in runs.items() if p == "length_aware"},
        "policies": policies,
    }
    if args.table:
        write_json(args.table, la.table(), indent=1)
        result["table"] = args.table
    if args.plot:
        from hw.sched.plot import plot_schedule

        result["plot"] = str(plot_schedule(runs, pipe.n_stages, hz, args.plot))
    return result


def _explore(args: argparse.Namespace) -> dict[str, Any]:
    from hw.explore import DEFAULT_SPACE, explore, plot_front
    from hw.select import AccuracyError, load_variants

    cfg, board = _config(args)
    if args.accuracy:
        try:
            variants = [(v.density, v.drop) for v in load_variants(args.task, args.accuracy)]
        except AccuracyError as e:
            raise CliError(str(e)) from None
    else:
        variants = [(args.density, None)]
    space = dict(DEFAULT_SPACE, attn_k=tuple(args.k or (cfg.attn_k,)))
    try:
        result = explore(cfg, board, _lengths(args), variants, space=space,
                         sample=args.sample, use_ray=args.ray, progress=show_progress())
    except RuntimeError as e:
        raise CliError(str(e)) from None
    if args.plot:
        plot_front(result, args.plot)
        result["plot"] = args.plot
    if not result["valid"]:
        raise CliError(f"no design of the space fits board {board.name}")
    return result


def _select(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    from boards.loader import BoardError
    from hw.select import AccuracyError, load_variants, select

    try:
        cfg = DesignConfig.from_yaml(args.config)
        if args.length is not None and args.length > cfg.max_length:
            raise CliError(f"--length: {args.length} exceeds the design's max_length "
                           f"{cfg.max_length}; give a length up to it")
        variants = load_variants(args.task, args.accuracy)
        result = select(cfg, variants, args.latency_ms, args.max_accuracy_drop, args.length,
                        args.boards)
    except (ConfigError, AccuracyError, BoardError) as e:
        raise CliError(str(e)) from None
    return result, 0 if result["selected"] else 1
