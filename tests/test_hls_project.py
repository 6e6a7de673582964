"""The rendered HLS project: deterministic, consistent with the config, bit-exact in csim.

One small synthetic design (hw.hls.synthetic.SMALL: 2 layers, hidden 32) is rendered and
compiled once per session; the full MiniLM layer runs in the slow test at the end.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from algo.hp import HPShape, encode, hp_mask
from boards.loader import load_board
from host.cli import main
from hw import vitis
from hw.csim import CsimLibrary, build_library, check_library, run_check, schedule_table
from hw.hls import abi, image
from hw.hls.ffi import ptr
from hw.hls.synthetic import SMALL, synthetic_model
from hw.render import GROUP_LENGTHS, GROUP_SEQS_MAX, RenderError, render

pytestmark = pytest.mark.xdist_group("hls")


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("csim-cache")


@pytest.fixture(scope="session")
def qmodel():
    return synthetic_model()


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory, qmodel) -> Path:
    out = tmp_path_factory.mktemp("project")
    render(SMALL, qmodel, out, "synthetic")
    return out


@pytest.fixture(scope="session")
def lib(project: Path, cache: Path) -> CsimLibrary:
    return CsimLibrary(build_library(project, cache),
                       (project / "weights" / "weights.bin").read_bytes())


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


# ---- rendering -----------------------------------------------------------------------------

def test_render_is_deterministic(tmp_path: Path, qmodel, project: Path) -> None:
    render(SMALL, qmodel, tmp_path / "again", "synthetic")
    first, second = _tree(project), _tree(tmp_path / "again")
    assert first == second
    manifest = json.loads(first["manifest.json"])
    assert set(manifest["files"]) == set(first) - {"manifest.json"}
    assert "kernel/hls_stream.h" not in first and "csim/hls_stream.h" in first


def _cfg_ints(header: str) -> dict[str, int]:
    return {m[0]: int(m[1]) for m in re.findall(r"static const int (\w+) = (\d+);", header)}


def test_config_header_follows_config(project: Path) -> None:
    got = _cfg_ints((project / "kernel" / "sbf_config.h").read_text())
    d = SMALL.model
    assert got == {"BO": SMALL.bo, "BI": SMALL.bi, "M": SMALL.m, "T": SMALL.tile_tokens,
                   "HIDDEN": d.hidden, "HEADS": d.heads, "HEAD_DIM": d.head_dim,
                   "FFN": d.ffn, "LAYERS": d.layers, "MAX_IN": max(d.hidden, d.ffn),
                   "MAX_L": SMALL.max_length, "MAX_K": SMALL.attn_k,
                   "HEADS_PARALLEL": SMALL.attn_heads_parallel,
                   "N_BUCKETS": len(SMALL.bucket_edges),
                   "GROUP_TOKENS": GROUP_LENGTHS * SMALL.max_length,
                   "GROUP_SEQS": min(GROUP_SEQS_MAX, GROUP_LENGTHS * SMALL.max_length)}


@pytest.mark.parametrize(("board", "clock"), [("u200", 300.0), ("u250", 250.0)])
def test_tcl_and_link_cfg_follow_config(tmp_path: Path, qmodel, board: str,
                                        clock: float) -> None:
    cfg = SMALL.replace(board=board, clock_mhz=clock)
    render(cfg, qmodel, tmp_path, "test")
    b = load_board(board)
    tcl = (tmp_path / "vitis" / "run_hls.tcl").read_text()
    assert f"set_top {abi.KERNEL}" in tcl
    assert f"set_part {b.part}" in tcl
    assert f"create_clock -period {1000.0 / clock:.3f}" in tcl
    assert re.search(r'set cflags "[^"]*-Ikernel"', tcl) and "-Icsim" not in tcl
    link = (tmp_path / "vitis" / "link.cfg").read_text()
    assert f"kernel_frequency={clock}" in link
    assert f"nk={abi.KERNEL}:1:{abi.KERNEL}_1" in link
    slr = int(re.search(r"slr=\w+:SLR(\d)", link)[1])
    bank_slr = {m.name: m.slr for m in b.memory}
    sp = dict(re.findall(rf"sp={abi.KERNEL}_1\.(\w+):(\S+)", link))
    assert set(sp) == {"schedule", "act_in", "act_out", "image", "status"}
    assert all(bank_slr[bank] == slr for bank in sp.values())
    top = (tmp_path / "src" / "sbf_top.cpp").read_text()
    for port in sp:  # every connected port is an m_axi port of the top function
        assert f"m_axi port = {port} " in top
    make = (tmp_path / "Makefile").read_text()
    for target in vitis.TARGETS:
        assert vitis.plan(b.platform, target)[-1].command in make


def _variable_loops_without_tripcount(text: str) -> list[str]:
    """`for`/`while` loops whose bound names a run-time value (the length L or a lower-case
    identifier: n, kk, nt, j.length ...) and that have no LOOP_TRIPCOUNT (or UNROLL) right
    after. Upper-case names are compile-time constants by the library's convention."""
    lines = text.splitlines()
    bad = []
    for i, line in enumerate(lines):
        m = re.search(r"\b(for|while)\s*\((.*)", line)
        if not m:
            continue
        head = m[2]
        cond = head.split(";")[1] if m[1] == "for" else head
        own = set(re.findall(r"int\s+(\w+)\s*=", head))
        names = [t for t in re.findall(r"[A-Za-z_][\w.]*(?:::\w+)*", cond)
                 if t not in own and "::" not in t and not t.startswith("beat")
                 and (t == "L" or not re.fullmatch(r"[A-Z][A-Z0-9_]*", t))]  # L: the length
        window = "\n".join(lines[i + 1:i + 4])
        if names and "LOOP_TRIPCOUNT" not in window and "UNROLL" not in window:
            bad.append(f"{i + 1}: {line.strip()}")
    return bad


def test_rendered_kernel_follows_the_vitis_rules(project: Path) -> None:
    """The issue-17 rules, read off the rendered sources: typed 512-bit image port, no
    pointer reinterpretation, no mutable statics in the library, a trip count on every
    variable-bound loop, depth= on every m_axi port from the image and testbench sizes."""
    top = (project / "src" / "sbf_top.cpp").read_text()
    kernel = {p.name: p.read_text() for p in (project / "kernel").glob("*.h")}
    for name, text in [("sbf_top.cpp", top), *kernel.items()]:
        assert "reinterpret_cast" not in text, name
        assert not _variable_loops_without_tripcount(text), (name,
                                                            _variable_loops_without_tripcount(text))
    for name, text in kernel.items():
        statics = [ln for ln in text.splitlines()
                   if re.match(r"\s*static\s", ln) and "static const" not in ln
                   and "static_assert" not in ln]
        assert not statics, (name, statics)
    assert re.search(r"const sbf::mem_word_t\* image", top)
    assert "typedef ap_uint<MEM_BITS> mem_word_t;" in kernel["sbf_types.h"]
    assert "MEM_BITS = 512" in kernel["sbf_types.h"]
    depth = dict(re.findall(r"m_axi port = (\w+) bundle = \w+ offset = slave depth = (\d+)",
                            top))
    assert set(depth) == set(abi.M_AXI_PORTS)
    lanes = min(SMALL.bo, SMALL.bi)
    weights = (project / "weights" / "weights.bin").stat().st_size
    assert int(depth["image"]) == -(-weights // image.ALIGN)
    assert int(depth["act_in"]) == (project / "tb" / "input.bin").stat().st_size // lanes
    n_seq = (project / "tb" / "schedule.bin").stat().st_size // (4 * len(abi.SCHEDULE_FIELDS))
    assert int(depth["status"]) == n_seq


def _hp(seed: int, out_f: int, in_f: int, shape: HPShape, keep: float):
    w = np.random.default_rng(seed).integers(-127, 128, size=(out_f, in_f)).astype(np.int8)
    return encode(w, hp_mask(w, shape, keep), shape)


def _read_i32(data: bytes, off: int, n: int) -> np.ndarray:
    return np.frombuffer(data, "<i4", count=n, offset=off)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31), keep=st.sampled_from([0.125, 0.5, 1.0]))
def test_weight_image_holds_the_hp_banks(qmodel, seed: int, keep: float) -> None:
    """Each kept block's record in the image holds all Bo PE banks of it: the Bo*m values
    (PE p's m at p*m), then the Bo*m in-block indices, on 512-bit word boundaries."""
    layer = qmodel.layers[1]
    hp = _hp(seed, SMALL.model.ffn, SMALL.model.hidden, HPShape(SMALL.bo, SMALL.bi, SMALL.m),
             keep)
    changed = dataclasses.replace(layer, ffn_in=dataclasses.replace(layer.ffn_in, hp=hp))
    img = image.build_image([qmodel.layers[0], changed], SMALL)
    head = _read_i32(img.data, 0, len(image.HEADER_FIELDS))
    assert dict(zip(image.HEADER_FIELDS, head.tolist(), strict=True))["bytes"] == len(img.data)
    assert head[0] == image.MAGIC and head[1] == image.IMAGE_VERSION and head[2] == 2
    d = img.directory[1]
    assert all(d[f"ffn_in_{f}"] % image.ALIGN == 0 for f in image.LINEAR_FIELDS[1:])
    nnzb, pl = hp.nnzb, SMALL.bo * SMALL.m
    rb = image.record_bytes(SMALL.bo, SMALL.m)
    assert rb >= 2 * pl and (image.ALIGN % rb == 0 or rb % image.ALIGN == 0)
    rec = np.frombuffer(img.data, np.uint8, nnzb * rb, d["ffn_in_blocks"]).reshape(nnzb, rb)
    assert np.array_equal(rec[:, :pl].view(np.int8).reshape(hp.values.shape), hp.values)
    assert np.array_equal(rec[:, pl:2 * pl].reshape(hp.idx.shape), hp.idx)
    assert not rec[:, 2 * pl:].any()
    assert np.array_equal(_read_i32(img.data, d["ffn_in_block_ptr"], hp.n_block_rows + 1),
                          hp.block_ptr)
    assert d["ffn_in_nnzb"] == nnzb


def test_render_rejects_a_model_the_design_cannot_run(tmp_path: Path, qmodel) -> None:
    with pytest.raises(image.ImageError, match="m=4"):
        render(SMALL.replace(m=2), qmodel, tmp_path, "test")
    with pytest.raises(RenderError, match="model.layers"):
        render(SMALL.replace(model=dataclasses.replace(SMALL.model, layers=3)), qmodel,
               tmp_path, "test")
    layer = qmodel.layers[0]
    bad = dataclasses.replace(layer, ffn_in=dataclasses.replace(layer.ffn_in, out_bits=8))
    with pytest.raises(image.ImageError, match="layer 0 ffn_in.out_bits"):
        image.build_image([bad, qmodel.layers[1]], SMALL)


# ---- C simulation --------------------------------------------------------------------------

def _inputs(lengths: list[int], seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=(n, SMALL.model.hidden)).astype(np.int8)
            for n in lengths]


def test_every_engine_bit_exact_at_every_tile_split(lib: CsimLibrary, qmodel) -> None:
    t = SMALL.tile_tokens
    lengths = [1, t - 1, t, t + 1, 2 * t + 1, SMALL.max_length]
    result = check_library(lib, qmodel, SMALL, _inputs(lengths), SMALL.attn_k)
    assert result["all_bit_exact"], result
    assert {e["name"]: e["cases"] for e in result["engines"]} == {
        "hp_linear": 6 * 2 * len(lengths), "sparse_attention": 2 * len(lengths),
        "gelu": 2 * len(lengths), "residual_layernorm": 2 * 2 * len(lengths),
        "encoder_layer": 2 * len(lengths), "top_kernel": 1}


def test_csim_catches_a_changed_weight(project: Path, cache: Path, qmodel) -> None:
    """A negative control: one flipped weight byte must show up as a mismatch."""
    data = bytearray((project / "weights" / "weights.bin").read_bytes())
    off = image.build_image(qmodel.layers, SMALL).directory[0]["value_blocks"]
    data[off] = (data[off] + 1) % 256
    bad = CsimLibrary(build_library(project, cache), bytes(data))
    result = check_library(bad, qmodel, SMALL, _inputs([5]), SMALL.attn_k)
    by_name = {e["name"]: e for e in result["engines"]}
    assert not result["all_bit_exact"]
    assert not by_name["hp_linear"]["bit_exact"] and "value layer 0" in \
        by_name["hp_linear"]["first_mismatch"]
    assert by_name["gelu"]["bit_exact"]  # the other engines still read golden inputs


def test_top_kernel_reports_bad_schedule_entries(lib: CsimLibrary) -> None:
    x = _inputs([4])[0]
    sched = schedule_table(SMALL, [4], SMALL.attn_k)
    codes = abi.STATUS_CODES
    for field, value, code in (("length", 0, "bad_length"), ("bucket", 5, "bad_bucket"),
                               ("topk", SMALL.attn_k + 1, "bad_topk")):
        s = sched.copy()
        s[0, abi.SCHEDULE_FIELDS.index(field)] = value
        status, out = np.zeros(1, np.int32), np.zeros_like(x)
        lib.lib.sbf_run(ptr(s), 1, ptr(x), ptr(out), ptr(lib.image), SMALL.model.layers,
                        ptr(status))
        assert status[0] == codes[code], field
    broken = lib.image.copy()
    broken[:4] = 0  # the magic word
    status, out = np.zeros(1, np.int32), np.zeros_like(x)
    lib.lib.sbf_run(ptr(sched), 1, ptr(x), ptr(out), ptr(broken), SMALL.model.layers,
                    ptr(status))
    assert status[0] == codes["bad_image"]


def test_cosim_testbench_passes_in_c(project: Path, tmp_path: Path) -> None:
    """The rendered testbench (what `vitis_hls ... cosim` runs) accepts the kernel."""
    work = tmp_path / "p"
    shutil.copytree(project, work)
    import sys

    proc = subprocess.run(["make", "-s", "tb", f"PYTHON={sys.executable}"], cwd=work,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "0 mismatches" in proc.stdout


def test_cli_csim_synthetic(tmp_path: Path, cache: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SBF_CACHE_DIR", str(cache.parent / "cli-cache"))
    code = main(["hw", "csim", "--synthetic", "--lengths", "1,4", "--out",
                 str(tmp_path / "p"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["all_bit_exact"] and out["lengths"] == [1, 4]
    assert [e["name"] for e in out["engines"]][-1] == "top_kernel"


def test_cli_build_without_vitis_names_the_tools(project: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    code = main(["hw", "build", "--synthetic", "--project", str(project), "--target", "hw",
                 "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 3
    assert out["missing_tools"] == ["v++", "vitis_hls"]
    assert any("vitis_hls -f vitis/run_hls.tcl -tclargs csynth" in c for c in out["commands"])
    assert any(f"--platform {load_board('u200').platform}" in c and "-t hw " in c
               for c in out["commands"])


CSYNTH_XML = """<?xml version="1.0"?>
<profile>
  <PerformanceEstimates><SummaryOfOverallLatency>
    <Best-caseLatency>10</Best-caseLatency><Worst-caseLatency>{lat}</Worst-caseLatency>
  </SummaryOfOverallLatency></PerformanceEstimates>
  <AreaEstimates><Resources>
    <BRAM_18K>9</BRAM_18K><DSP>1024</DSP><FF>200000</FF><LUT>150000</LUT><URAM>12</URAM>
  </Resources></AreaEstimates>
</profile>"""


@pytest.mark.parametrize(("lat", "want"), [("4321", 4321), ("undef", None)])
def test_parse_csynth_report(tmp_path: Path, lat: str, want: int | None) -> None:
    p = tmp_path / "csynth.xml"
    p.write_text(CSYNTH_XML.format(lat=lat))
    assert vitis.parse_csynth(p) == {"dsp": 1024, "bram": 5, "uram": 12, "lut": 150000,
                                     "ff": 200000, "latency": want}
    p.write_text("<profile/>")
    with pytest.raises(vitis.VitisError, match="AreaEstimates"):
        vitis.parse_csynth(p)


# ---- the full MiniLM layer (slow) ----------------------------------------------------------

@pytest.mark.slow
def test_minilm_hp80_csim_bit_exact(tmp_path: Path, cache: Path) -> None:
    """The packaged MiniLM, HP at 80% sparsity, k = 16: every engine at lengths 1..128."""
    from hw.config import DesignConfig
    from hw.hls.model_source import load_source, real_sequences

    cfg = DesignConfig.from_yaml()
    src = load_source(cfg, density=0.2)
    render(cfg, src.quantized, tmp_path, "default")
    seqs, _ = real_sequences(src, [1, 7, 25, 64, 128])
    result = run_check(tmp_path, src.quantized, cfg, seqs, cache_dir=cache)
    assert result["all_bit_exact"], result["engines"]


@pytest.mark.slow
def test_bert_base_shapes_csim_bit_exact(tmp_path: Path, cache: Path) -> None:
    """BERT-base widths (hidden 768, 12 heads, FFN 3072; one random layer) at lengths 1, a
    tile and one, and the longest: the engines' templates at the widths the paper uses."""
    from hw.config import DesignConfig, ModelDims

    cfg = DesignConfig.from_yaml().replace(model=ModelDims(hidden=768, heads=12, ffn=3072,
                                                           layers=1))
    model = synthetic_model(cfg)
    render(cfg, model, tmp_path, "bert-base shapes")
    rng = np.random.default_rng(0)
    seqs = [rng.integers(-128, 128, size=(n, 768)).astype(np.int8)
            for n in (1, cfg.tile_tokens + 1, cfg.max_length)]
    result = run_check(tmp_path, model, cfg, seqs, cache_dir=cache)
    assert result["all_bit_exact"], result["engines"]
