"""Time of one AdamW step over the packaged MiniLM's parameters: fused (what algo.train
uses) vs foreach (torch's CPU default), on this machine's CPU.

Each figure is the median of --repeats timed steps after one warm-up step, with gradients
filled in once (the step's cost does not depend on their values).

    .venv/bin/python benchmarks/optimizer_step.py   # writes benchmarks/results/optimizer_step.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.shared_results import write_results  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "optimizer_step.json"
MS = 1e3


def time_step(fused: bool, threads: int, repeats: int) -> float:
    import torch

    from algo.models import load_model

    torch.set_num_threads(threads)
    model, _ = load_model(None, num_labels=2)
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    opt = torch.optim.AdamW(params, lr=1e-5, **({"fused": True} if fused else {"foreach": True}))
    opt.step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * MS


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    import transformers

    transformers.logging.set_verbosity_error()
    rows = [{"optimizer": name, "threads": args.threads, "repeats": args.repeats,
             "step_ms_median": round(time_step(fused, args.threads, args.repeats), 2),
             "kind": "measured"} for name, fused in (("adamw-foreach", False),
                                                     ("adamw-fused", True))]
    write_results(args.out, rows)
    for r in rows:
        print(f"{r['optimizer']:14} {r['step_ms_median']:8.2f} ms per step "
              f"({r['threads']} threads)")


if __name__ == "__main__":
    main()
