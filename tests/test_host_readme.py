"""The README's board commands, run as written against fake Vitis tools and a fake card.

`sbf hw render`, then `sbf hw build` with stand-ins for `vitis_hls` and `v++` on PATH
(they write the csynth report and the xclbin where the real tools do), then `sbf run
--backend pynq --design <project>` on the fake PYNQ 3.0.1 of tests/host_fakes.py, whose
card computes the golden model. Only paths, data options and --json are added.
"""

from __future__ import annotations

import json
import re
import shlex
import stat
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from host.cli import main
from hw import vitis
from hw.hls import abi
from tests import host_fakes
from tests.test_host_run_cli import tiny_artifact  # noqa: F401  (a fixture)

README = Path(__file__).parents[1] / "README.md"
LIMIT = 3
CALIBRATION = 8  # sentences: enough for a tiny model's scales
FAKE_XCLBIN = b"xclbin2\0"


def board_commands() -> list[list[str]]:
    """The `sbf` lines of the README's fenced block that runs on the board."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S)
    board = [b for b in blocks if "--backend pynq" in b]
    assert len(board) == 1, "the README has one block of board commands"
    lines = [ln.strip() for ln in board[0].splitlines() if ln.strip().startswith("sbf ")]
    return [shlex.split(ln.split("#")[0])[1:] for ln in lines]


def fake_tools(bin_dir: Path) -> Path:
    """`vitis_hls` writes the csynth report, `v++` the file after -o; both log their args."""
    bin_dir.mkdir()
    log = bin_dir / "calls.log"
    report = ("<profile><AreaEstimates><Resources><DSP>1</DSP><BRAM_18K>2</BRAM_18K>"
              "<URAM>0</URAM><LUT>3</LUT><FF>4</FF></Resources></AreaEstimates></profile>")
    scripts = {
        vitis.HLS_TOOL: f'echo "$0 $*" >> {log}\nmkdir -p {Path(vitis.CSYNTH_REPORT).parent}\n'
                        f"echo '{report}' > {vitis.CSYNTH_REPORT}\n",
        vitis.LINK_TOOL: f'echo "$0 $*" >> {log}\nwhile [ $# -gt 0 ]; do\n'
                         f'  if [ "$1" = "-o" ]; then printf "xclbin2\\0" > "$2"; fi; shift\n'
                         "done\n",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return log


def golden_card(qmodel: Any, cfg: Any) -> host_fakes.Kernel:
    """A kernel that computes the golden model over the schedule table, status last."""
    from hw.hls.golden_ref import topk_attention
    from hw.hls.image import build_image
    from sim.golden.encoder import encoder

    expected_image = build_image(qmodel.layers, cfg).data
    hidden = cfg.model.hidden

    def run(args: list[Any]) -> None:
        schedule, n_seq, act_in, act_out, image, n_layers, status = args
        table = schedule.view(np.int32).reshape(-1, len(abi.SCHEDULE_FIELDS))[:n_seq]
        x = act_in.view(np.int8).reshape(-1, hidden)
        y = act_out.view(np.int8).reshape(-1, hidden)
        words = status.view(np.int32)
        for s, (offset, length, _bucket, _topk) in enumerate(table.tolist()):
            if image.tobytes() != expected_image or n_layers != cfg.model.layers:
                words[s] = abi.STATUS_CODES["bad_image"]
                continue
            rows = slice(offset, offset + length)
            y[rows] = encoder(x[rows], qmodel, [length],
                              attention=topk_attention(cfg.attn_k)).astype(np.int8)
            words[s] = abi.STATUS_CODES["ok"]

    return run


def test_readme_board_commands_run_against_fakes(tiny_artifact, glue_dir: Path,  # noqa: F811
                                                 tmp_path: Path, capsys,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from algo.quantize.pipeline import load_quantized_with_source
    from hw.config import DesignConfig

    art, config = tiny_artifact
    cfg = DesignConfig.from_yaml(config)
    design = tmp_path / "out" / "design"
    log = fake_tools(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{__import__('os').environ['PATH']}")
    int8 = tmp_path / "out" / "hp80-int8"
    card: list[Any] = []  # the card's kernel, once the integer model exists
    pynq = host_fakes.fake_pynq(lambda args: card[0](args))
    monkeypatch.setitem(sys.modules, "pynq", pynq)

    paths = {"out/hp80": str(art), "out/hp80-int8": str(int8), "out/design": str(design)}
    extra = {"quantize": ["--calib-n", str(CALIBRATION), "--max-length", str(cfg.max_length),
                          "--glue-dir", str(glue_dir)],
             "render": ["--config", str(config)],
             "run": ["--glue-dir", str(glue_dir), "--limit", str(LIMIT)]}
    outputs: dict[str, Any] = {}
    for argv in board_commands():
        if argv[0] == "run":
            card.append(golden_card(load_quantized_with_source(int8)[0], cfg))
        argv = [paths.get(a, a) for a in argv]
        command = argv[1] if argv[0] == "hw" else argv[0]
        argv += extra.get(command, [])
        argv += [] if "--json" in argv else ["--json"]
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, f"sbf {' '.join(argv)}: exit {code}: {err}"
        outputs[command] = json.loads(out)
    assert [a[:2] for a in board_commands()] == [
        ["quantize", "--artifact"], ["hw", "render"], ["hw", "build"], ["run", "--artifact"]]
    xclbin = design / f"{abi.KERNEL}.hw.xclbin"
    assert xclbin.read_bytes() == FAKE_XCLBIN and f"-o {xclbin.name}" in log.read_text()
    assert outputs["build"]["xclbin"] == str(xclbin)
    assert pynq.log[0] == ("Overlay", xclbin.name, "card0")
    run = outputs["run"]
    assert run["backend"] == "pynq" and run["n"] == LIMIT and run["xclbin"] == str(xclbin)
    assert run["bit_exact_vs_golden"] is True and run["sequences_not_bit_exact"] == 0
