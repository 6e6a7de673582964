"""The design config: one typed, validated description of a generated accelerator.

HLS rendering, the RTL parameters, the performance model and the scheduler all read
this object; nothing else carries hardware parameters. Errors name the offending field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "minilm-u200.yaml"


class ConfigError(ValueError):
    """An invalid design config; the message starts with the field's name."""


@dataclass(frozen=True)
class ModelDims:
    """The encoder shape the design is built for."""

    hidden: int = 384
    heads: int = 12
    ffn: int = 1536
    layers: int = 6

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


WEIGHT_CAPACITIES = ("dense", "model")


@dataclass(frozen=True)
class DesignConfig:
    """Hardware parameters of one accelerator build."""

    board: str = "u200"
    clock_mhz: float = 300.0
    bo: int = 16  # PEs per block-row: output rows computed in parallel
    bi: int = 16  # block width: activations broadcast to the PEs per step
    m: int = 4  # kept entries per row of a kept block = MACs per PE per cycle
    tile_tokens: int = 8  # T: tokens per tile; the last tile of a sequence may be partial
    attn_k: int = 16  # keys kept per query by the top-k sparse attention
    attn_heads_parallel: int = 1  # attention heads processed at once
    max_length: int = 128  # longest sequence the buffers hold
    act_bits: int = 8
    weight_bits: int = 8
    acc_bits: int = 32
    bucket_edges: tuple[int, ...] = (32, 64, 96, 128)
    model: ModelDims = field(default_factory=ModelDims)
    # what the RTL layer top's PE groups are built to hold: "dense" weights (one bitstream
    # takes any pruning of the model) or the "model" it is built for (its HP weights as
    # the groups are dealt them, as FINN and hls4ml bake a model into the build)
    weight_capacity: str = "dense"

    def __post_init__(self) -> None:
        positive = ("clock_mhz", "bo", "bi", "m", "tile_tokens", "attn_k",
                    "attn_heads_parallel", "max_length", "act_bits", "weight_bits", "acc_bits")
        for name in positive:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
                raise ConfigError(f"{name}: must be a positive number, got {v!r}")
        if self.m > self.bi:
            raise ConfigError(f"m: {self.m} kept entries per row cannot exceed bi={self.bi}")
        if self.weight_capacity not in WEIGHT_CAPACITIES:
            raise ConfigError(f"weight_capacity: {self.weight_capacity!r}, choose one of "
                              f"{', '.join(WEIGHT_CAPACITIES)}")
        if self.act_bits != 8 or self.weight_bits != 8 or self.acc_bits != 32:
            raise ConfigError("act_bits/weight_bits/acc_bits: only 8/8/32 is implemented")
        edges = tuple(self.bucket_edges)
        if not edges or any(b <= a for a, b in zip(edges, edges[1:], strict=False)) or edges[0] < 1:
            raise ConfigError(f"bucket_edges: must be positive and strictly ascending, got {edges}")
        if edges[-1] != self.max_length:
            raise ConfigError(
                f"bucket_edges: the last edge ({edges[-1]}) must equal max_length "
                f"({self.max_length})")
        d = self.model
        for name in ("hidden", "heads", "ffn", "layers"):
            if getattr(d, name) < 1:
                raise ConfigError(f"model.{name}: must be >= 1")
        if d.hidden % d.heads:
            raise ConfigError(f"model.heads: {d.heads} does not divide hidden={d.hidden}")
        for name, dim in (("model.hidden", d.hidden), ("model.ffn", d.ffn)):
            if dim % self.bo:
                raise ConfigError(f"bo: {self.bo} does not divide {name}={dim}")
            if dim % self.bi:
                raise ConfigError(f"bi: {self.bi} does not divide {name}={dim}")
        if d.heads % self.attn_heads_parallel:
            raise ConfigError(f"attn_heads_parallel: {self.attn_heads_parallel} does not "
                              f"divide model.heads={d.heads}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> DesignConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{unknown[0]}: unknown key in {source} (known: {sorted(known)})")
        data = dict(data)
        if "model" in data:
            if not isinstance(data["model"], dict):
                raise ConfigError(f"model: must be a mapping of hidden/heads/ffn/layers, "
                                  f"got {data['model']!r}")
            mknown = {f.name for f in dataclasses.fields(ModelDims)}
            bad = sorted(set(data["model"]) - mknown)
            if bad:
                raise ConfigError(f"model.{bad[0]}: unknown key in {source}")
            data["model"] = ModelDims(**data["model"])
        if "bucket_edges" in data:
            data["bucket_edges"] = tuple(int(e) for e in data["bucket_edges"])
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str | Path | None = None) -> DesignConfig:
        path = Path(path) if path else DEFAULT_CONFIG
        if not path.is_file():
            raise ConfigError(f"config: no such file {path}")
        try:
            data = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as e:  # one line: where and what
            mark = getattr(e, "problem_mark", None)
            where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
            problem = getattr(e, "problem", None) or type(e).__name__
            raise ConfigError(f"config: {path}{where}: not valid YAML ({problem}); fix the "
                              f"file or pass another --config") from None
        if data is None:  # an empty file is a mistake, never the built-in defaults
            raise ConfigError(f"config: {path} is empty; give the design's fields (see "
                              f"{DEFAULT_CONFIG.name}) or omit --config for the default")
        if not isinstance(data, dict):
            raise ConfigError(f"config: {path} must hold a mapping of fields, "
                              f"not a {type(data).__name__}")
        try:
            return cls.from_dict(data, source=str(path))
        except ConfigError as e:
            raise ConfigError(f"{e} [{path}]") from None
        except (TypeError, ValueError) as e:  # wrong value types: name the file
            raise ConfigError(f"config: {path}: a field has a value of the wrong type "
                              f"({e})") from None

    def replace(self, **changes: Any) -> DesignConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["bucket_edges"] = list(self.bucket_edges)
        return d
