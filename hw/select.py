"""Device selection (Qi et al., ICCAD 2021): the cheapest board meeting latency and accuracy.

Given a latency constraint and the largest acceptable accuracy drop, every board in
`boards/` is paired with every pruned variant of the accuracy table whose drop is within
the bound; the design is sized for the board (`hw.perf.build_design`: as many PE groups
as fit, with the attention-engine count of least latency) and its modeled latency for
one sequence at the given length is compared with the constraint. The board
of least `cost` (ties: lower latency) wins; otherwise the answer names the constraint no
board meets.

The accuracy table, `benchmarks/results/accuracy.json` (written by the pruning
benchmarks), holds rows, as a JSON list or under a "rows" key. A row names the task, the
overall sparsity of the pruned variant, the metric's value and the dense baseline's value:
    {"task": "SST-2", "sparsity": 0.8, "metric": "accuracy", "value": 0.90, "baseline": 0.92}
`dense_baseline` is accepted for `baseline`. GLUE metrics are higher-is-better, so a
variant's drop is baseline - value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boards.loader import list_boards, load_board
from hw.config import ConfigError, DesignConfig
from hw.perf.model import MODEL_NAME, build_design, estimate
from hw.perf.ops import uniform_weights, with_density

DEFAULT_ACCURACY = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "accuracy.json"
BASELINE_KEYS = ("baseline", "dense_baseline")


class AccuracyError(ValueError):
    """A missing or malformed accuracy table; the message names the file and the row."""


@dataclass(frozen=True)
class Variant:
    """One pruned model: its sparsity and what it costs in accuracy."""

    task: str
    sparsity: float
    metric: str
    value: float
    baseline: float

    @property
    def density(self) -> float:
        return 1.0 - self.sparsity

    @property
    def drop(self) -> float:
        return self.baseline - self.value


def _with_flat_values(rows: list[Any]) -> list[Any]:
    """Rows of the pruning benchmark (`benchmarks/accuracy.py`: `variant`, `dev` metrics,
    `encoder_sparsity`) in the flat form read here, their baseline the same task's dense row.
    """
    dense = {r["task"]: r["dev"][r["metric"]] for r in rows
             if isinstance(r, dict) and r.get("variant") == "dense" and "dev" in r}
    flat = []
    for r in rows:
        if isinstance(r, dict) and "variant" in r and "dev" in r and r["task"] in dense:
            r = {**r, "sparsity": r["encoder_sparsity"], "value": r["dev"][r["metric"]],
                 "baseline": dense[r["task"]]}
        flat.append(r)
    return flat


def load_variants(task: str, path: str | Path | None = None) -> list[Variant]:
    """The table's variants for `task`, densest first; errors say what is missing."""
    path = Path(path) if path else DEFAULT_ACCURACY
    if not path.is_file():
        raise AccuracyError(
            f"{path}: no accuracy table. It is written by the pruning benchmarks; pass "
            f"--accuracy FILE with rows like {{\"task\": \"SST-2\", \"sparsity\": 0.8, "
            f"\"metric\": \"accuracy\", \"value\": 0.90, \"baseline\": 0.92}}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise AccuracyError(f"{path}: not valid JSON ({e})") from None
    except UnicodeDecodeError:
        raise AccuracyError(f"{path}: not a text file; --accuracy takes the JSON accuracy "
                            "table the pruning benchmarks write") from None
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise AccuracyError(f"{path}: expected a list of rows or {{\"rows\": [...]}}")
    variants = []
    for i, row in enumerate(_with_flat_values(rows)):
        if not isinstance(row, dict) or row.get("task") != task:
            continue
        if row.get("attention", "dense") != "dense":  # top-k rows vary k, not the pruning
            continue
        base_key = next((k for k in BASELINE_KEYS if k in row), None)
        missing = [k for k in ("sparsity", "value") if k not in row]
        if base_key is None:
            missing.append("baseline")
        if missing:
            raise AccuracyError(f"{path}: row {i} ({task}) lacks {missing}")
        sparsity = float(row["sparsity"])
        if not 0.0 <= sparsity < 1.0:
            raise AccuracyError(f"{path}: row {i} sparsity {sparsity} is not in [0, 1)")
        variants.append(Variant(task, sparsity, str(row.get("metric", "metric")),
                                float(row["value"]), float(row[base_key])))
    if not variants:
        raise AccuracyError(f"{path}: no rows for task {task!r}")
    return sorted(variants, key=lambda v: v.sparsity)


def select(cfg: DesignConfig, variants: list[Variant], latency_ms: float,
           max_drop: float, length: int | None = None,
           boards: list[str] | None = None) -> dict[str, Any]:
    """The cheapest (board, variant) meeting both constraints, with every candidate's figures."""
    length = length or cfg.max_length
    accurate = [v for v in variants if v.drop <= max_drop]
    candidates: list[dict[str, Any]] = []
    for name in boards or list_boards():
        board = load_board(name)
        for v in accurate:
            row: dict[str, Any] = {"board": name, "cost": board.cost, "sparsity": v.sparsity,
                                   "accuracy_drop": v.drop}
            best = _fastest(cfg.replace(board=name, clock_mhz=board.clock_mhz), board, v,
                            length)
            if isinstance(best, str):
                candidates.append({**row, "fits": False, "reason": best})
                continue
            vcfg, design, lat = best
            candidates.append({**row, "fits": True, "m": vcfg.m, "pe_groups": design.groups,
                               "attention_engines": vcfg.attn_heads_parallel,
                               "weights_on_chip": design.placement.weights_on_chip,
                               "latency_ms": lat, "meets_latency": lat <= latency_ms})
    ok = [c for c in candidates if c.get("meets_latency")]
    result: dict[str, Any] = {
        "task": variants[0].task if variants else None, "latency_ms_limit": latency_ms,
        "max_accuracy_drop": max_drop, "length": length, "model": MODEL_NAME,
        "figures": "modeled", "candidates": candidates}
    if ok:
        best = min(ok, key=lambda c: (c["cost"], c["latency_ms"], c["accuracy_drop"]))
        return {"selected": best, "unmet": None, **result}
    if not accurate:
        best_drop = min(v.drop for v in variants)
        unmet = (f"accuracy: no variant in the table drops {max_drop} or less "
                 f"(the best drops {best_drop:.4f})")
    else:
        fitted = [c for c in candidates if c["fits"]]
        fastest = min((c["latency_ms"] for c in fitted), default=None)
        unmet = ("latency: no board fits any accurate variant" if fastest is None else
                 f"latency: no board reaches {latency_ms} ms (the fastest takes "
                 f"{fastest:.3f} ms at length {length})")
    return {"selected": None, "unmet": unmet, **result}


def _fastest(cfg: DesignConfig, board: Any, variant: Variant,
             length: int) -> tuple[DesignConfig, Any, float] | str:
    """The variant's design on the board with the attention-engine count (a divisor of the
    heads) of least latency; or why none fits."""
    heads = cfg.model.heads
    best: tuple[DesignConfig, Any, float] | None = None
    reason = "no design fits"
    for engines in (a for a in range(1, heads + 1) if heads % a == 0):
        try:
            vcfg = with_density(cfg, variant.density).replace(attn_heads_parallel=engines)
            design = build_design(vcfg, board, uniform_weights(vcfg, variant.density))
        except (ConfigError, ValueError) as e:
            reason = str(e)
            continue
        lat = estimate(design, [length])["per_length"][0]["latency_ms"]
        if best is None or lat < best[2]:
            best = (vcfg, design, lat)
    return best if best is not None else reason
