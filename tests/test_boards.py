"""Board files: the shipped figures, and every malformed case naming its file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from boards import DEFAULT_BOARD, Board, BoardError, list_boards, load_board
from boards.loader import BOARD_DIR, KERNEL_SHARES

SHIPPED = ["kv260", "u200", "u250", "u280", "zcu102"]


def test_list_boards_ships_all_five() -> None:
    assert list_boards() == SHIPPED
    assert DEFAULT_BOARD == "u200"


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_board_loads_and_is_consistent(name: str) -> None:
    b = load_board(name)
    assert isinstance(b, Board) and b.name == name
    for share, total in KERNEL_SHARES.items():
        assert 0 <= getattr(b, share) <= getattr(b, total)
    assert sum(m.count * m.bandwidth_gbs for m in b.memory) == pytest.approx(
        b.memory_bandwidth_gbs)
    assert Path(b.source) == BOARD_DIR / f"{name}.yaml"


def test_u200_figures_from_the_research_notes() -> None:
    b = load_board()
    assert (b.part, b.platform) == ("xcu200-fsgd2104-2-e", "xilinx_u200_gen3x16_xdma_2_202110_1")
    assert (b.lut, b.ff, b.dsp, b.bram36, b.uram) == (1182240, 2364480, 6840, 2160, 960)
    assert (b.kernel_lut, b.kernel_dsp, b.kernel_bram36, b.kernel_uram) == (870000, 5847, 1602, 800)
    assert b.slrs == 3 and b.clock_mhz == 300.0 and b.power_w == 225.0
    assert [m.slr for m in b.memory] == [0, 1, 1, 2]
    assert b.memory_bandwidth_gbs == 77.0
    assert b.pcie is not None and (b.pcie.gen, b.pcie.lanes) == (3, 16)
    assert "kernel_dsp" not in b.assumed  # sourced, not assumed


def test_assumed_figures_are_labelled() -> None:
    assert "kernel_dsp" in load_board("u280").assumed
    assert "kernel_dsp" not in load_board("u250").assumed  # ~11,508 is in the notes
    assert load_board("kv260").pcie is None


def test_frozen() -> None:
    with pytest.raises(AttributeError):
        load_board("u200").dsp = 1  # type: ignore[misc]


def _u200() -> dict:
    return yaml.safe_load((BOARD_DIR / "u200.yaml").read_text())


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _bank(data: dict, **change: object) -> dict:
    data["memory"][0].update(change)
    return data


MALFORMED = {
    "unknown key": (lambda d: {**d, "dsps": 1}, "dsps: unknown key"),
    "missing field": (lambda d: {k: v for k, v in d.items() if k != "bram36"}, "bram36: missing"),
    "wrong type": (lambda d: {**d, "dsp": "many"}, "dsp: expected an integer"),
    "bool is no count": (lambda d: {**d, "uram": True}, "uram: expected an integer"),
    "negative count": (lambda d: {**d, "lut": -5}, "lut: must not be negative"),
    "negative number": (lambda d: {**d, "power_w": -1.0}, "power_w: must be a non-negative"),
    "kernel above device": (lambda d: {**d, "kernel_dsp": 6841}, "kernel_dsp: 6841 exceeds"),
    "bank field missing": (lambda d: {**d, "memory": [{"name": "x"}]}, "memory[0].kind: missing"),
    "bank unknown key": (lambda d: _bank(d, speed=1), "memory[0].speed: unknown key"),
    "bank on missing SLR": (lambda d: _bank(d, slr=7), "memory[0].slr: 7"),
    "bandwidth mismatch": (lambda d: {**d, "memory_bandwidth_gbs": 80.0},
                           "memory_bandwidth_gbs: 80.0 but the banks add up to 77"),
    "pcie wrong type": (lambda d: {**d, "pcie": {"gen": 3, "lanes": "x16",
                                                 "gbs_per_direction": 15.75}},
                        "pcie.lanes: expected an integer"),
    "assumed unknown key": (lambda d: {**d, "assumed": ["dps"]}, "assumed: 'dps'"),
    "empty string": (lambda d: {**d, "part": ""}, "part: expected a non-empty string"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_board_names_file_and_key(tmp_path: Path, case: str) -> None:
    change, message = MALFORMED[case]
    path = _write(tmp_path, change(_u200()))
    with pytest.raises(BoardError) as info:
        load_board(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_not_a_mapping_and_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(BoardError, match="expected a mapping"):
        load_board(path)
    path.write_text("dsp: [1\n")
    with pytest.raises(BoardError, match="not valid YAML"):
        load_board(path)


def test_unknown_board_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(BoardError, match="unknown board 'u999'.*u200"):
        load_board("u999")
    with pytest.raises(BoardError, match="no such board file"):
        load_board(tmp_path / "absent.yaml")
