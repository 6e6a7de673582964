"""The design config: the default loads, and every invalid value names its field."""

from pathlib import Path

import pytest

from hw.config import DEFAULT_CONFIG, ConfigError, DesignConfig, ModelDims


def test_default_config_loads() -> None:
    cfg = DesignConfig.from_yaml()
    assert cfg == DesignConfig.from_yaml(DEFAULT_CONFIG)
    assert cfg.board == "u200" and cfg.model.hidden == 384
    assert cfg.bucket_edges[-1] == cfg.max_length


def test_round_trip_through_dict() -> None:
    cfg = DesignConfig.from_yaml()
    assert DesignConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"m": 32}, "m"),
        ({"bo": 0}, "bo"),
        ({"bi": 7}, "bi"),
        ({"bo": 5}, "bo"),
        ({"clock_mhz": -1}, "clock_mhz"),
        ({"bucket_edges": (64, 32, 128)}, "bucket_edges"),
        ({"bucket_edges": (32, 64)}, "bucket_edges"),
        ({"attn_heads_parallel": 5}, "attn_heads_parallel"),
        ({"model": ModelDims(hidden=384, heads=7)}, "model.heads"),
        ({"act_bits": 4}, "act_bits"),
        ({"weight_capacity": "sparse"}, "weight_capacity"),
    ],
)
def test_invalid_values_name_the_field(changes: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{field}\b"):
        DesignConfig.from_yaml().replace(**changes)


def test_unknown_key_is_named(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(DEFAULT_CONFIG.read_text() + "pe_rows: 4\n")
    with pytest.raises(ConfigError, match=r"pe_rows: unknown key"):
        DesignConfig.from_yaml(p)
    p.write_text(DEFAULT_CONFIG.read_text().replace("layers: 6", "layers: 6, depth: 2"))
    with pytest.raises(ConfigError, match=r"model\.depth: unknown key"):
        DesignConfig.from_yaml(p)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        DesignConfig.from_yaml(tmp_path / "absent.yaml")
