"""`sbf demo`: the whole flow on the built-in default, in a few minutes on 2 cores.

The packaged MiniLM is HP-pruned in one shot, quantized, bucketed on built-in sentences of
varied length, rendered to HLS and C-simulated, one of its layers is run on the RTL sparse
matmul engine, and the sentences go through the emulation backend. Every step calls the
same library functions as the commands that own it; the demo only strings them together
and reports. Nothing here needs GLUE data or a board.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from host.cli import Cli, CliError, show_progress, write_json
from sim.rtl.simulators import SIMULATORS

DEFAULT_OUT = Path("out/demo")
DENSITY = 0.2  # 80% HP sparsity on every encoder linear
N_BUCKETS = 3
RTL_LAYER = "query"  # the linear of layer 0 that runs on the RTL engine
RTL_SENTENCE = 0  # which demo sentence feeds it
CPU_REPEATS = 5  # timed passes over the sentences for the CPU latency (median reported)
STEPS = ("prune", "quantize", "buckets", "fidelity", "csim", "rtl", "emulation", "latency")
OPTIONAL = STEPS[3:]  # the first three make what every later step reads


def register(cli: Cli) -> None:
    p = cli.command("demo", run, "the whole flow on the packaged MiniLM: prune, quantize, "
                    "bucket, C-simulate, RTL-simulate, emulate, and report")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"directory for artifacts, the design and plots (default {DEFAULT_OUT})")
    p.add_argument("--simulator", default="verilator", choices=SIMULATORS,
                   help="RTL simulator for the sparse matmul step (default verilator)")
    p.add_argument("--skip", default="", help=f"comma-separated steps to skip, of {OPTIONAL}")


class Demo:
    """The state passed from step to step, and the report they fill in."""

    def __init__(self, out: Path, simulator: str) -> None:
        from algo.sentences import DEMO_SENTENCES
        from hw.config import DesignConfig

        self.out = out
        self.simulator = simulator
        self.cfg = DesignConfig.from_yaml()
        self.texts = list(DEMO_SENTENCES)
        self.report: dict[str, Any] = {"config": self.cfg.to_dict(), "plots": {}}

    def prune(self) -> dict[str, Any]:
        from algo.hp.mask import HPShape
        from algo.hp.model import export_hp_artifact, prune_model_oneshot
        from algo.quantize.pipeline import load_float

        self.src = load_float()
        shape = HPShape(self.cfg.bo, self.cfg.bi, self.cfg.m)
        self.src.hp_layers = prune_model_oneshot(self.src.model, DENSITY, shape)
        path = export_hp_artifact(self.src.model, self.src.hp_layers, self.out / "minilm-hp80",
                                  {"command": "sbf demo", "density": DENSITY})
        nnz = sum(hp.nnz for hp in self.src.hp_layers.values())
        total = sum(hp.out_features * hp.in_features for hp in self.src.hp_layers.values())
        return {"artifact": str(path), "layers": len(self.src.hp_layers),
                "encoder_density": round(nnz / total, 4), "block": [shape.bo, shape.bi],
                "m": shape.m}

    def quantize(self) -> dict[str, Any]:
        from algo.quantize.io import save_quantized
        from algo.quantize.pipeline import calibration_texts, quantize_source

        texts_a, texts_b, info = calibration_texts(None, 0)
        self.qm = quantize_source(self.src, texts_a, texts_b, self.cfg.max_length,
                                  progress=False)
        path = self.out / "minilm-hp80-int8"
        save_quantized(path, self.qm, {"command": "sbf demo"})
        return {"artifact": str(path), "calibration": info}

    def buckets(self) -> dict[str, Any]:
        from algo.buckets import optimal_edges, tile_overhead
        from algo.buckets_cli import plot_histogram

        self.ids = [np.asarray(self.src.tokenizer(t)["input_ids"]) for t in self.texts]
        self.lengths = np.array([len(i) for i in self.ids])
        plan = optimal_edges(self.lengths, N_BUCKETS)  # last edge: the longest sentence
        plot = self.out / "buckets.png"
        plot_histogram(self.lengths, plan.edges, plot, "demo sentences: lengths and buckets")
        self.report["plots"]["buckets"] = str(plot)
        return {"sentences": len(self.texts), "lengths": self.lengths.tolist(),
                "edges": list(plan.edges), "padding_fraction": round(plan.padding_fraction, 4),
                "pad_to_max_fraction": round(plan.pad_to_max_fraction, 4),
                "tile_overhead": round(tile_overhead(self.lengths, self.cfg.tile_tokens), 4)}

    def fidelity(self) -> dict[str, Any]:
        from sim.golden.check import compare, tokenize

        self.tok = tokenize(self.src.tokenizer, self.texts)
        res = compare(self.src.model, self.qm, self.tok)
        return {k: round(res[k], 4) if isinstance(res[k], float) else res[k]
                for k in ("n", "tokens", "cosine_mean", "cosine_min", "agreement") if k in res}

    def csim(self) -> dict[str, Any]:
        from hw.csim import run_check
        from hw.render import render
        from sim.golden.check import Tokenized, host_embed

        self.design = self.out / "design"
        render(self.cfg, self.qm, self.design, source={"by": "sbf demo"})
        seqs = [host_embed(self.src.model, Tokenized(i, np.zeros_like(i), [len(i)]),
                           self.qm.input_scale).astype(np.int8) for i in self.ids[:4]]
        res = run_check(self.design, self.qm, self.cfg, seqs)
        return {"design": str(self.design), "lengths": res["lengths"],
                "engines": res["engines"], "all_bit_exact": res["all_bit_exact"]}

    def rtl(self) -> dict[str, Any]:
        from sim.golden.check import Tokenized, host_embed
        from sim.golden.encoder import encoder_layer
        from sim.rtl.simulators import find_simulator
        from sim.rtl.spmm_case import SpmmCase, SpmmParams
        from sim.rtl.spmm_sim import simulate_spmm
        from sim.rtl.stimulus import StimulusOptions

        ids = self.ids[RTL_SENTENCE]
        x = host_embed(self.src.model, Tokenized(ids, np.zeros_like(ids), [len(ids)]),
                       self.qm.input_scale).astype(np.int8)
        layer = self.qm.layers[0]
        trace: dict[str, np.ndarray] = {}
        encoder_layer(x, layer, [len(ids)], trace=trace)
        lin = getattr(layer, RTL_LAYER)
        case = SpmmCase(f"demo:layer.0.{RTL_LAYER}:L{len(ids)}", lin.hp, lin.bias, lin.mult,
                        lin.shift, x)
        params = SpmmParams.from_config(self.cfg)
        sim = find_simulator(self.simulator)
        (row,) = simulate_spmm([case], params, sim, StimulusOptions(seed=0))
        same_as_layer = bool(np.array_equal(case.reference(), trace[RTL_LAYER]))
        return {"simulator": f"{sim.name} {sim.version}", "case": case.name,
                "bit_exact": row["bit_exact"], "reference_is_the_layer's": same_as_layer,
                "cycles": row["cycles"], "utilization": round(row["utilization"], 4)}

    def emulation(self) -> dict[str, Any]:
        from host.accelerator import Accelerator

        with Accelerator(self.qm, self.design, "emulation", config=self.cfg,
                         tokenizer=self.src.tokenizer) as acc:
            ids, types = acc.tokenize(self.texts)
            res = acc.run_ids(ids, types)
            golden = acc.model.golden(acc.model.embed(ids, types), res.lengths.tolist(),
                                      acc.config)
        return {"backend": "emulation", "sentences": len(ids),
                "kernel_calls": res.kernel_calls,
                "bit_exact_vs_golden": bool(np.array_equal(res.packed_hidden, golden)),
                "predictions": res.predictions.tolist()}

    def latency(self) -> dict[str, Any]:
        import torch

        from boards.loader import load_board
        from hw.perf.model import best_design, estimate

        model = self.src.model.eval()
        times: list[float] = []
        with torch.inference_mode():
            for _ in range(CPU_REPEATS):
                for ids in self.ids:
                    t0 = time.perf_counter()
                    model(input_ids=torch.as_tensor(ids)[None])
                    times.append(time.perf_counter() - t0)
        board = load_board(self.cfg.board)
        # the attention-engine count and PE groups that fit with the lowest latency
        design, _ = best_design(self.cfg, board, DENSITY, self.lengths.tolist(),
                                self.src.hp_layers)
        est = estimate(design, sorted(set(self.lengths.tolist())))
        by_len = {r["length"]: r["latency_ms"] for r in est["per_length"]}
        fpga_ms = float(np.mean([by_len[n] for n in self.lengths.tolist()]))
        cpu_ms = 1e3 * statistics.median(times)
        return {
            "cpu_ms_per_sentence": {"value": round(cpu_ms, 3), "figure": "measured",
                                    "on": f"{platform.processor() or platform.machine()}, "
                                          f"torch {torch.__version__} float32, "
                                          f"{torch.get_num_threads()} threads, batch 1, "
                                          "real lengths (median)"},
            "u200_ms_per_sentence": {"value": round(fpga_ms, 3), "figure": "modeled",
                                     "model": est.get("model", "hw.perf"),
                                     "machine": est["machine"],
                                     "latency_model": est["latency_model"],
                                     "pe_groups": est["pe_groups"],
                                     "attention_engines": est["attention_engines"],
                                     "clock_mhz": est["clock_mhz"]},
            "speedup_at_real_lengths": round(cpu_ms / fpga_ms, 2),
        }


def _design_words(u200: dict[str, Any]) -> str:
    machine = "RTL layer top" if u200["machine"].startswith("RTL") else "analytical machine"
    return (f"{machine}, {u200['pe_groups']} groups x {u200['attention_engines']} attention "
            f"engines at {u200['clock_mhz']:g} MHz")


def run(args: argparse.Namespace) -> dict[str, Any]:
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(OPTIONAL)
    if unknown:
        raise CliError(f"--skip: cannot skip {sorted(unknown)}; optional steps are "
                       f"{list(OPTIONAL)}")
    needs = {"csim": {"emulation"}}  # emulation runs the design that csim rendered
    for step, dependents in needs.items():
        if step in skip and dependents - skip:
            raise CliError(f"--skip: {sorted(dependents - skip)} need the {step!r} step")
    args.out.mkdir(parents=True, exist_ok=True)
    quiet_transformers()
    demo = Demo(args.out, args.simulator)
    t_all = time.perf_counter()
    bar = tqdm([s for s in STEPS if s not in skip], desc="sbf demo", unit="step",
               disable=not show_progress())
    for step in bar:
        bar.set_postfix_str(step)
        t0 = time.perf_counter()
        fn: Callable[[], dict[str, Any]] = getattr(demo, step)
        try:
            result = fn()
        except (ValueError, RuntimeError, OSError) as e:
            raise CliError(f"demo step {step!r} failed: {e}") from e
        result["seconds"] = round(time.perf_counter() - t0, 1)
        demo.report[step] = result
    demo.report["seconds"] = round(time.perf_counter() - t_all, 1)
    path = write_json(args.out / "report.json", demo.report)
    demo.report["report"] = str(path)
    if not args.json:
        print_summary(demo.report)
        return None
    return demo.report


def quiet_transformers() -> None:
    """The packaged MiniLM has no classifier head; its load report would bury the demo's."""
    from transformers.utils import logging

    logging.set_verbosity_error()


def print_summary(r: dict[str, Any]) -> None:
    """The few lines a newcomer reads: what ran, whether it was exact, what it would gain."""
    def get(step: str, key: str, default: Any = "skipped") -> Any:
        return r.get(step, {}).get(key, default)

    lat = r.get("latency", {})
    lines = [
        "",
        "sbf demo: packaged MiniLM, HP 80% sparse, int8, on the default U200 design",
        f"  pruned         encoder density {get('prune', 'encoder_density')} -> "
        f"{get('prune', 'artifact')}",
        f"  buckets        edges {get('buckets', 'edges')}: padding "
        f"{get('buckets', 'padding_fraction')} vs {get('buckets', 'pad_to_max_fraction')} "
        "with all padded to the longest",
        f"  fidelity       cosine mean {get('fidelity', 'cosine_mean')}, min "
        f"{get('fidelity', 'cosine_min')} (integer golden vs float, mean-pooled)",
        f"  HLS csim       all engines bit-exact: {get('csim', 'all_bit_exact')}",
        (f"  RTL spmm       {get('rtl', 'case')} on {get('rtl', 'simulator')}: bit-exact "
         f"{get('rtl', 'bit_exact')}, {get('rtl', 'cycles')} cycles, utilization "
         f"{get('rtl', 'utilization')}" if "rtl" in r else "  RTL spmm       skipped"),
        f"  emulation      {get('emulation', 'sentences')} sentences, bit-exact vs golden: "
        f"{get('emulation', 'bit_exact_vs_golden')}",
    ]
    if lat:
        lines.append(f"  latency        CPU {lat['cpu_ms_per_sentence']['value']} ms (measured) "
                     f"vs U200 {lat['u200_ms_per_sentence']['value']} ms (modeled: "
                     f"{_design_words(lat['u200_ms_per_sentence'])}): "
                     f"{lat['speedup_at_real_lengths']}x at real lengths")
    lines += [f"  plots          {', '.join(r['plots'].values()) or 'none'}",
              f"  report         {r['report']} ({r['seconds']} s)", ""]
    print("\n".join(lines))
