"""Cost of top-k sparse attention against dense attention, per layer, L = 16 ... 512.

Every figure is MODELED: multiply-accumulates counted analytically by
`algo.attention.cost.attention_macs` for the default design's model dimensions (MiniLM:
12 heads of 32). It fits the growth exponent p (MACs ~ L**p) of each part; for a fixed k
the exact part must be linear (p = 1), while dense attention and the 4-bit estimate are
quadratic. Writes benchmarks/results/attention_cost.json and attention_cost.png.

    python benchmarks/attention_cost.py [--out-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from algo.attention.cost import attention_macs, growth_exponent
from host.machine import machine_info
from hw.config import DesignConfig

LENGTHS = (16, 32, 64, 128, 256, 512)
FIXED_K = (8, 16, 32)
FRACTION, FRACTION_K_MIN = 0.125, 8
RESULTS = Path(__file__).parent / "results"


def variants() -> list[dict]:
    """The k rules compared: fixed k (linear exact part) and a fraction of L (quadratic)."""
    fixed = [{"label": f"k={k}", "k": k} for k in FIXED_K]
    return fixed + [{"label": f"k=ceil({FRACTION}L), >= {FRACTION_K_MIN}",
                     "fraction": FRACTION, "k_min": FRACTION_K_MIN}]


def run(cfg: DesignConfig) -> dict:
    heads, head_dim = cfg.model.heads, cfg.model.head_dim
    out = []
    for v in variants():
        rule = {key: v[key] for key in ("k", "fraction", "k_min") if key in v}
        rows = [attention_macs(L, heads, head_dim, **rule) for L in LENGTHS]
        # Fit where the rule is in force (L >= k; below it every key is kept).
        fit = [r for r in rows if r.k < r.length or "fraction" in v] or rows
        lengths = np.array([r.length for r in fit])
        out.append({
            "rule": v["label"],
            **rule,
            "rows": [r.__dict__ for r in rows],
            "exact_over_dense": [r.exact / r.dense for r in rows],
            "fit_lengths": lengths.tolist(),
            "exponent_exact": growth_exponent(lengths, [r.exact for r in fit]),
        })
    dense = [attention_macs(L, heads, head_dim, k=1) for L in LENGTHS]
    return {
        "benchmark": "attention_cost",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(torch_details=False),
        "kind": "modeled",
        "model": "analytic MAC count, algo/attention/cost.py (nothing is measured)",
        "per": "one encoder layer, all heads",
        "heads": heads,
        "head_dim": head_dim,
        "lengths": list(LENGTHS),
        "exponent_dense": growth_exponent(LENGTHS, [r.dense for r in dense]),
        "exponent_estimate": growth_exponent(LENGTHS, [r.estimate for r in dense]),
        "variants": out,
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(7, 4.5))
    first = result["variants"][0]["rows"]
    lengths = [r["length"] for r in first]
    ax.loglog(lengths, [r["dense"] for r in first], "k-o",
              label=f"dense (p={result['exponent_dense']:.2f})")
    ax.loglog(lengths, [r["estimate"] for r in first], "k--s",
              label=f"4-bit estimate (p={result['exponent_estimate']:.2f})")
    for v in result["variants"]:
        ax.loglog(lengths, [r["exact"] for r in v["rows"]], "-^",
                  label=f"exact, {v['rule']} (p={v['exponent_exact']:.2f})")
    ax.set_xticks(lengths, [str(L) for L in lengths])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("sequence length L")
    ax.set_ylabel("MACs per layer (modeled)")
    ax.set_title(f"Attention MACs, {result['heads']} heads x {result['head_dim']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    p.add_argument("--config", type=Path, default=None, help="design config YAML")
    args = p.parse_args(argv)
    result = run(DesignConfig.from_yaml(args.config))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "attention_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out_dir / "attention_cost.png")
    for v in result["variants"]:
        print(f"{v['rule']:>24}: exact part grows as L^{v['exponent_exact']:.3f}")
    print(f"{'dense':>24}: L^{result['exponent_dense']:.3f}; "
          f"4-bit estimate: L^{result['exponent_estimate']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
