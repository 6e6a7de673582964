"""CPU (and CUDA, when present) BERT latency and throughput on real GLUE length traces,
next to the modeled U200, with speed-ups computed at the real lengths.

Measured: PyTorch float32, (a) every sequence padded to 128 and (b) at its real length
(batch 1) or padded only to the longest of its batch (batched); PyTorch dynamic int8
(`torch.ao.quantization.quantize_dynamic` on the Linear layers) at real lengths; and, when
installed (the `bench` extra), ONNX Runtime dynamic int8 and OpenVINO NNCF int8 at real
lengths on the same inputs and threads (host.bench_engines). Models: the packaged MiniLM
and BERT-base shapes (`BertConfig()` defaults, random weights: timing depends on shapes
only, not values). Inputs are random token ids of the traced lengths, for the same reason.

Modeled: the U200 latency per sequence of the best design that fits
(`hw.perf.model.best_design`: the RTL layer top and its cycle model where it fits, else the
analytical machine, named in each row's `source`), and the pipelined throughput of the
analytical machine from the `hw.sched` length-aware scheduler when that package is
present, for HP weights at `HP_DENSITY`.

The traces are the tokenized lengths of SST-2 dev and MRPC dev; to keep the default run
within minutes on 2 cores, each measurement uses a seeded random subsample of the trace
(`--n-latency` sequences for batch-1 latency, `--n-throughput` for throughput), and each
call is timed as the best of REPEATS runs; the modeled figures use the same
subsamples, so every speed-up compares like with like.

    python benchmarks/bench.py                 # writes benchmarks/results/bench.json + .png
    sbf bench --n-latency 8 --json             # the same through the CLI, also when installed

The code lives in the package (not in benchmarks/) so that `sbf bench` works from an
installed wheel; benchmarks/bench.py is the script entry point.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from host import bench_engines
from host.machine import load_average, machine_info

_CHECKOUT_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
OUT_NAME = "bench.json"


def default_out() -> Path:
    """In a source checkout the results sit with the other benchmarks'; installed, in the
    current directory (at run time)."""
    return (_CHECKOUT_RESULTS if _CHECKOUT_RESULTS.is_dir() else Path.cwd()) / OUT_NAME

SCRIPT = "benchmarks/bench.py"
MODELS = ("minilm", "bert-base")
TRACES = ("SST-2", "MRPC")
TRACE_SPLIT = "dev"
PAD_LENGTH = 128
DEFAULT_N_LATENCY = 24
DEFAULT_N_THROUGHPUT = 48
DEFAULT_BATCH = 8
WARMUP_CALLS = 1
# Each timed call runs this often and the fastest counts: on a shared machine a call is
# slowed by whoever else runs, never sped up, so the minimum is the machine's own figure.
REPEATS = 2
# torch intra-op threads. One by default: on a shared machine more threads stall on each
# other's barriers (here, MiniLM at 25 tokens: 12 ms on 1 thread, 200-500 ms on 2 with a
# load average of 3); pass --threads 2 on an idle 2-core machine.
DEFAULT_THREADS = 1
HP_DENSITY = 0.2  # 80% HP sparsity, the project's headline setting
SEED = 0
TOKEN_ID_LOW = 1000  # random ids from the ordinary vocabulary, clear of special tokens
BOARD = "u200"
MS_PER_S = 1e3
P50, P90 = 50, 90
MEASURED, MODELED = "measured", "modeled"
LATENCY_METRIC = "latency_ms_p50"


# -- machine and models ----------------------------------------------------------------
def build_model(name: str) -> Any:
    """A BertForSequenceClassification in eval mode: the packaged MiniLM or BERT-base shapes."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    if name == "minilm":
        from algo.models import load_model

        model, _ = load_model()
    elif name == "bert-base":
        torch.manual_seed(SEED)
        model = BertForSequenceClassification(BertConfig(num_labels=2))
    else:
        raise ValueError(f"model: {name!r} is not one of {MODELS}")
    return model.eval()


def quantize_int8(model: Any) -> Any | None:
    """PyTorch dynamic int8 Linear layers, or None when this torch cannot do it."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear},
                                                          dtype=torch.qint8)
    except (AttributeError, RuntimeError, NotImplementedError):
        return None


def trace_lengths(task: str, glue_dir: str | None) -> np.ndarray:
    """Tokenized lengths of a GLUE dev split (MiniLM's tokenizer = BERT-base uncased vocab)."""
    from algo.glue import token_lengths
    from algo.models import load_tokenizer

    return token_lengths(task, TRACE_SPLIT, load_tokenizer(), glue_dir)


def subsample(lengths: np.ndarray, n: int, seed: int = SEED) -> np.ndarray:
    """A seeded random subsample (without replacement), in trace order."""
    lengths = np.asarray(lengths)
    if n >= lengths.size:
        return lengths.copy()
    pick = np.random.default_rng(seed).choice(lengths.size, size=n, replace=False)
    return lengths[np.sort(pick)]


# -- measurement -----------------------------------------------------------------------
def _inputs(lengths: Sequence[int], pad_to: int, vocab: int, device: str) -> dict[str, Any]:
    import torch

    gen = torch.Generator().manual_seed(SEED)
    ids = torch.zeros((len(lengths), pad_to), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        length = min(int(length), pad_to)
        ids[row, :length] = torch.randint(TOKEN_ID_LOW, vocab, (length,), generator=gen)
        mask[row, :length] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}


def _timed(model: Any, batch: dict[str, Any], device: str) -> float:
    """Seconds of one forward pass, the best of REPEATS."""
    import torch

    best = math.inf
    for _ in range(REPEATS):
        start = time.perf_counter()
        model(**batch)
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def measure(model: Any, lengths: np.ndarray, pad_to: int | None, batch_size: int,
            device: str = "cpu") -> dict[str, Any]:
    """Seconds per call over the lengths, in batches; `pad_to=None` pads to the batch max.

    Batch 1 gives latency (mean, p50, p90 in ms); larger batches give throughput. Every
    call is timed as the best of REPEATS runs.
    """
    import torch

    vocab = model.config.vocab_size
    batches = [lengths[i:i + batch_size] for i in range(0, len(lengths), batch_size)]
    with torch.inference_mode():
        for b in batches[:WARMUP_CALLS]:
            model(**_inputs(b, pad_to or int(max(b)), vocab, device))
        times = [_timed(model, _inputs(b, pad_to or int(max(b)), vocab, device), device)
                 for b in batches]
    total = sum(times)
    out: dict[str, Any] = {"n": int(len(lengths)), "batch_size": batch_size,
                           "throughput_seq_s": len(lengths) / total}
    if batch_size == 1:
        ms = [t * MS_PER_S for t in times]
        out.update(latency_ms_mean=statistics.fmean(ms),
                   latency_ms_p50=float(np.percentile(ms, P50)),
                   latency_ms_p90=float(np.percentile(ms, P90)))
    return out


def measured_rows(model_name: str, trace: str, lat: np.ndarray, thr: np.ndarray,
                  batch_size: int, device: str, machine: dict[str, Any],
                  model_factory: Callable[[str], Any] = build_model,
                  tick: Callable[[], None] = lambda: None) -> list[dict[str, Any]]:
    """Float padded / float real / int8 real, batch 1 and batched, on one device."""
    model = model_factory(model_name).to(device)
    on = (f"{machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}"
          if device == "cpu" else f"{machine['cuda']['device']}, torch {machine['torch']}")
    systems = [("torch-fp32", model)]
    if device == "cpu":
        q = quantize_int8(model)
        if q is not None:
            systems.append(("torch-int8-dynamic", q))
    rows = []
    for system, m in systems:
        paddings = [("pad-to-128", PAD_LENGTH), ("real-lengths", None)]
        if system != "torch-fp32":
            paddings = paddings[1:]
        for padding, pad_to in paddings:
            for n_batch, lengths in ((1, lat), (batch_size, thr)):
                fig = measure(m, lengths, pad_to, n_batch, device)
                label = padding if n_batch == 1 or pad_to else "pad-to-batch-max"
                rows.append({"model": model_name, "trace": trace, "device": device,
                             "system": system, "padding": label, **fig,
                             "kind": MEASURED, "source": on})
                tick()
    if device == "cpu":
        rows += engine_rows(model, model_name, trace, lat, thr, batch_size, machine, tick)
    return rows


def engine_rows(model: Any, model_name: str, trace: str, lat: np.ndarray, thr: np.ndarray,
                batch_size: int, machine: dict[str, Any],
                tick: Callable[[], None] = lambda: None) -> list[dict[str, Any]]:
    """ONNX Runtime / OpenVINO int8 at real lengths, batch 1 and batched, timed by the same
    `measure` as the torch rows on torch's thread count; engines not installed give none."""
    from importlib.metadata import version

    import torch

    threads = torch.get_num_threads()
    rows = []
    for system, m, how in bench_engines.engine_models(model, threads, thr):
        package = "onnxruntime" if system == bench_engines.ORT_SYSTEM else "openvino"
        on = (f"{machine['cpu']}, {machine['cores']} cores, {package} {version(package)}, "
              f"intra-op threads {threads}; {how}")
        for n_batch, lengths in ((1, lat), (batch_size, thr)):
            fig = measure(m, lengths, None, n_batch, "cpu")
            rows.append({"model": model_name, "trace": trace, "device": "cpu",
                         "system": system,
                         "padding": "real-lengths" if n_batch == 1 else "pad-to-batch-max",
                         **fig, "threads": threads, "kind": MEASURED, "source": on})
            tick()
    return rows


# -- model -----------------------------------------------------------------------------
def design_config(model_name: str) -> Any:
    """The default U200 design's config, resized to the model's shape."""
    from hw.config import DesignConfig, ModelDims

    cfg = DesignConfig.from_yaml()
    if model_name == "bert-base":
        cfg = cfg.replace(model=ModelDims(hidden=768, heads=12, ffn=3072, layers=12))
    return cfg


def modeled_rows(model_name: str, trace: str, lat: np.ndarray,
                 thr: np.ndarray) -> tuple[list[dict[str, Any]], list[str]]:
    """U200 latency (hw.perf: the best design that fits, as benchmarks/u200_design.py
    sizes it) and scheduled throughput (hw.sched), with notes on what is absent."""
    try:
        from boards.loader import load_board
        from hw.config import ConfigError
        from hw.perf.model import MODEL_NAME, best_design, build_design, estimate
        from hw.perf.ops import uniform_weights
    except ImportError as e:
        return [], [f"modeled U200 rows left out: the performance model is absent ({e})"]
    board = load_board(BOARD)
    try:
        design, _ = best_design(design_config(model_name), board, HP_DENSITY,
                                [int(v) for v in lat])
    except ConfigError as e:
        return [], [f"modeled U200 rows of {model_name} left out: {e}"]
    cfg = design.cfg
    est = estimate(design, sorted({min(int(v), cfg.max_length) for v in lat}))
    per = {p["length"]: p for p in est["per_length"]}
    ms = [per[min(int(v), cfg.max_length)]["latency_ms"] for v in lat]
    source = (f"{MODEL_NAME}; {est['machine']}: {design.groups} PE groups x "
              f"{cfg.attn_heads_parallel} attention engines at {design.clock['mhz']:g} MHz "
              f"(bound: {design.clock['bound']}), HP density {HP_DENSITY}, one "
              f"sequence at a time; latency: {est['latency_model']}")
    rows = [{"model": model_name, "trace": trace, "device": BOARD, "system": "sbf-hp-int8",
             "padding": "real-lengths", "n": int(len(lat)), "batch_size": 1,
             "latency_ms_mean": statistics.fmean(ms),
             "latency_ms_p50": float(np.percentile(ms, P50)),
             "latency_ms_p90": float(np.percentile(ms, P90)),
             "throughput_seq_s": MS_PER_S / statistics.fmean(ms),
             "kind": MODELED, "source": source}]
    notes: list[str] = []
    try:
        analytical = build_design(cfg, board, uniform_weights(cfg, HP_DENSITY),
                                  machine="analytical")
    except ConfigError as e:
        return rows, [f"modeled pipelined throughput of {model_name} left out: {e}"]
    sched_row, note = _scheduled_row(model_name, trace, thr, analytical)
    rows += [sched_row] if sched_row else []
    notes += [note] if note else []
    return rows, notes


def _scheduled_row(model_name: str, trace: str, thr: np.ndarray,
                   design: Any) -> tuple[dict[str, Any] | None, str | None]:
    try:
        from hw.sched import schedule_trace
    except ImportError as e:
        return None, f"modeled pipelined throughput left out: hw.sched is absent ({e})"
    try:
        res = schedule_trace(design, [int(v) for v in thr])
    except ValueError as e:  # e.g. fewer groups than the pipeline's stages
        return None, f"modeled pipelined throughput of {model_name} left out: {e}"
    return ({"model": model_name, "trace": trace, "device": BOARD, "system": "sbf-hp-int8",
             "padding": "real-lengths (length-aware schedule)", "n": int(len(thr)),
             "batch_size": None, "throughput_seq_s": float(res["throughput_seq_s"]),
             "latency_ms_mean": float(res["mean_latency_ms"]), "kind": MODELED,
             "source": "hw.sched length-aware scheduler over hw.perf.ops costs: the "
                       "analytical machine with stage overlap, which the RTL layer top "
                       "does not have"}, None)


def speedups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """U200 (modeled) against each measured system, both at real lengths, per model/trace.

    Latency compares medians: on a shared machine the mean of a few timed calls follows
    whoever else is running, the median much less.
    """
    out = []
    for fpga in (r for r in rows if r["kind"] == MODELED):
        metric = LATENCY_METRIC if fpga["batch_size"] == 1 else "throughput_seq_s"
        for base in rows:
            if (base["kind"] != MEASURED or base["model"] != fpga["model"]
                    or base["trace"] != fpga["trace"] or base["padding"] == "pad-to-128"
                    or (base["batch_size"] == 1) != (fpga["batch_size"] == 1)):
                continue
            ratio = (base[metric] / fpga[metric] if metric == LATENCY_METRIC
                     else fpga[metric] / base[metric])
            out.append({"model": fpga["model"], "trace": fpga["trace"], "metric": metric,
                        "fpga": f"{fpga['device']} {fpga['system']} ({fpga['padding']})",
                        "baseline": f"{base['device']} {base['system']} ({base['padding']}, "
                                    f"batch {base['batch_size']})",
                        "speedup": ratio, "kind": "modeled / measured"})
    return out


# -- the run ---------------------------------------------------------------------------
def run_bench(traces: dict[str, np.ndarray], models: Sequence[str] = MODELS,
              n_latency: int = DEFAULT_N_LATENCY, n_throughput: int = DEFAULT_N_THROUGHPUT,
              batch_size: int = DEFAULT_BATCH, command: str | None = None,
              model_factory: Callable[[str], Any] = build_model, progress: bool = True,
              with_model: bool = True) -> dict[str, Any]:
    """Every row for every (model, trace), plus speed-ups; a JSON-able dict."""
    import torch
    from tqdm import tqdm

    machine = machine_info()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows: list[dict[str, Any]] = []
    notes = ["GPU rows left out: no CUDA device on this machine"] if len(devices) == 1 else []
    notes += bench_engines.missing_notes()
    steps = len(models) * len(traces) * (len(devices) * 6 + 2 * len(bench_engines.installed()))
    with tqdm(total=steps, desc="bench", disable=not progress) as bar:
        for model_name in models:
            for trace, lengths in traces.items():
                lat = subsample(lengths, n_latency, SEED)
                thr = subsample(lengths, n_throughput, SEED + 1)
                for device in devices:
                    rows += measured_rows(model_name, trace, lat, thr, batch_size, device,
                                          machine, model_factory, bar.update)
                if with_model:
                    mrows, mnotes = modeled_rows(model_name, trace, lat, thr)
                    rows += mrows
                    notes += [n for n in mnotes if n not in notes]
    machine["load_average_1m_at_end"] = load_average()
    notes.append(f"CPU figures measured with the 1-minute load average at "
                 f"{machine['load_average_1m_at_start']} (start) and "
                 f"{machine['load_average_1m_at_end']} (end) on {machine['cores']} cores: "
                 "a load near or above the core count means other processes shared the "
                 "CPU and the measured latencies are upper bounds")
    if not any(r["system"] == "torch-int8-dynamic" for r in rows):
        notes.append("PyTorch int8 rows left out: quantize_dynamic failed on this torch")
    return {
        "command": command or " ".join(sys.argv),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "settings": {"models": list(models), "traces": {t: f"GLUE {t} {TRACE_SPLIT}"
                                                         for t in traces},
                     "trace_sizes": {t: int(len(v)) for t, v in traces.items()},
                     "n_latency": n_latency, "n_throughput": n_throughput,
                     "batch_size": batch_size, "pad_length": PAD_LENGTH, "seed": SEED,
                     "hp_density": HP_DENSITY, "board": BOARD, "repeats": REPEATS,
                     "timing": f"wall clock per call, best of {REPEATS} runs",
                     "subsample": "seeded random subsample of each trace without "
                                  "replacement (seed for latency, seed+1 for throughput)"},
        "rows": rows,
        "speedups": speedups(rows),
        "notes": notes,
    }


def remodel(result: dict[str, Any], glue_dir: str | None, command: str) -> dict[str, Any]:
    """The result with its modeled rows, their notes and the speed-ups made again by the
    current model on the same sentences; the measured rows are kept as they were measured
    (the U200 model changes more often than the CPUs it is compared with)."""
    settings = result["settings"]
    rows = [r for r in result["rows"] if r["kind"] != MODELED]
    notes = [n for n in result["notes"] if not n.startswith("modeled")]
    for model_name in settings["models"]:
        for trace in settings["traces"]:
            lengths = trace_lengths(trace, glue_dir)
            if len(lengths) != settings["trace_sizes"][trace]:
                raise ValueError(f"--remodel: the {trace} trace has {len(lengths)} sentences, "
                                 f"the result was measured on {settings['trace_sizes'][trace]}"
                                 "; rerun the whole bench")
            lat = subsample(lengths, settings["n_latency"], settings["seed"])
            thr = subsample(lengths, settings["n_throughput"], settings["seed"] + 1)
            mrows, mnotes = modeled_rows(model_name, trace, lat, thr)
            rows += mrows
            notes += [n for n in mnotes if n not in notes]
    return {**result, "rows": rows, "speedups": speedups(rows), "notes": notes,
            "remodeled": {"command": command,
                          "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                          "what": "modeled rows and speed-ups made again by the current "
                                  "model; measured rows as measured (see date, machine)"}}


def plot(result: dict[str, Any], path: Path) -> Path:
    """Batch-1 median latency per system, one panel per (model, trace), log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(r["model"], r["trace"]) for r in result["rows"]})
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 4), squeeze=False)
    for ax, (model, trace) in zip(axes[0], keys, strict=True):
        rows = [r for r in result["rows"] if (r["model"], r["trace"]) == (model, trace)
                and r["batch_size"] == 1]
        labels = [f"{r['device']} {r['system']}\n{r['padding']}" for r in rows]
        colors = ["tab:orange" if r["kind"] == MODELED else "tab:blue" for r in rows]
        ax.barh(labels, [r[LATENCY_METRIC] for r in rows], color=colors)
        ax.set_xscale("log")
        ax.set_xlabel("median latency per sequence, batch 1 (ms)")
        ax.set_title(f"{model} on {trace} lengths")
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle("blue: measured on this CPU; orange: modeled U200 (hw.perf)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return run_from_args(p.parse_args(argv))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", default=",".join(MODELS), help="comma list of " + "|".join(MODELS))
    p.add_argument("--traces", default=",".join(TRACES), help="comma list of GLUE tasks")
    p.add_argument("--glue-dir", default=None, help="GLUE data (default: SBF_GLUE_DIR or "
                                                    "../shared/data/glue)")
    p.add_argument("--n-latency", type=int, default=DEFAULT_N_LATENCY,
                   help="sequences timed one at a time")
    p.add_argument("--n-throughput", type=int, default=DEFAULT_N_THROUGHPUT,
                   help="sequences timed in batches")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH,
                   help=f"sequences per batch of the throughput runs (default {DEFAULT_BATCH})")
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                   help=f"torch intra-op threads (default {DEFAULT_THREADS}: stable on a "
                        "shared machine)")
    p.add_argument("--out", type=Path, help="JSON result path (default: benchmarks/results/"
                   f"{OUT_NAME} in a source checkout, else ./{OUT_NAME})")
    p.add_argument("--plot", type=Path, default=None,
                   help="plot path (default: the JSON path with .png)")
    p.add_argument("--remodel", action="store_true",
                   help="measure nothing: remake the modeled U200 rows and the speed-ups of "
                        "the --out result with the current model, keeping its measured rows")


def _command_line() -> str:
    """How this run was started: the script, or `sbf` (console script or `-m host.cli`)."""
    if Path(sys.argv[0]).name == Path(SCRIPT).name:
        return " ".join([f"python {SCRIPT}", *sys.argv[1:]])
    return " ".join(["sbf", *sys.argv[1:]])


def run_from_args(args: argparse.Namespace) -> dict[str, Any]:
    models = [m for m in args.models.split(",") if m]
    bad = [m for m in models if m not in MODELS]
    if bad:
        raise ValueError(f"--models: {bad[0]!r} is not one of {MODELS}")
    import torch

    if args.threads < 1:
        raise ValueError(f"--threads: must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    out = args.out or default_out()
    if args.remodel:
        if not out.is_file():
            raise ValueError(f"--remodel: no result at {out} to remodel; run the bench first")
        result = remodel(json.loads(out.read_text()), args.glue_dir, _command_line())
    else:
        traces = {t: trace_lengths(t, args.glue_dir) for t in args.traces.split(",") if t}
        result = run_bench(traces, models, args.n_latency, args.n_throughput,
                           args.batch_size, command=_command_line())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    result["plot"] = str(plot(result, args.plot or out.with_suffix(".png")))
    result["out"] = str(out)
    return result


def script_main() -> None:
    """`python benchmarks/bench.py`: run and print the headline figures."""
    res = main()
    print(json.dumps({"out": res["out"], "plot": res["plot"], "speedups": res["speedups"],
                      "notes": res["notes"]}, indent=2))


if __name__ == "__main__":
    script_main()
