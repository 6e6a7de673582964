"""`Accelerator`: run sentences through a pruned, quantized BERT on a board or in emulation.

One object per (model, design): it opens a backend, allocates every device buffer once,
uploads the weight image once, then for each call tokenizes, checks every length before
anything runs, orders the sequences as the length-aware scheduler does (by bucket,
longest first), runs the kernel in device batches through the schedule table and
returns the logits in the caller's order. Embeddings and the classifier head run on
the host in float (as the design notes allow); the encoder runs on the device. A call
that fails returns nothing: results are handed back only when every device batch ran.

Failure is never silent. Before each kernel run the host writes a "pending" word that
carries the run's number into every status word it will use, syncs it to the device and
reads it back; after the run every word must have been overwritten with `ok` by the
kernel. A word still pending (the kernel did not run or did not finish, as when PYNQ
3.0.1's wait() swallows a failed run), a pending word of another run (stale) or a
refusal code fails the whole call with an error naming the sequence. One lock
serialises the calls of several threads, which share the device buffers.

The kernel is the rendered top `sbf_encoder` (hw/templates/sbf_top.cpp.j2); its C-
simulation bridge `sbf_run` takes the same arguments, so the emulation backend receives
the very buffers a board gets.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from host.backends.base import Backend, BackendError, BufferSpec, Direction, KernelSpec
from hw.config import DesignConfig
from hw.hls import abi
from hw.render import MANIFEST as RENDER_MANIFEST
from hw.render import memory_plan

# The top function's arguments in order (extern "C" sbf_encoder in sbf_top.cpp.j2).
KERNEL_ARGS = ("schedule", "n_seq", "act_in", "act_out", "image", "n_layers", "status")
BRIDGE_SYMBOL = "sbf_run"  # the C ABI bridge: same arguments as the kernel
RENDER_GENERATOR = "sbf hw render"  # the `generator` of a rendered project's manifest
IMAGE_FILE = "weights/weights.bin"  # the weight image, as the manifest lists it
RTL_IMAGE_FILE = "image.bin"  # the RTL kernel's image, in its package directory
RTL_XCLBIN_TAG = ".rtl."  # hw.rtl_kernel.xclbin_name: <kernel>.rtl.<target>.xclbin
MANIFEST_SEARCH_DEPTH = 3  # an xclbin may sit a few directories below its project
DEFAULT_MAX_BATCH = 16  # sequences per kernel call: sizes the activation buffers
BACKENDS = ("auto", "pynq", "pyxrt", "emulation")
BOARD_BACKENDS = ("pynq", "pyxrt")  # the ones that program an xclbin
EMULATION_MODE_ENV = "XCL_EMULATION_MODE"  # XRT runs a hw_emu xclbin only when it is hw_emu
PYNQ_ALVEO_VERSION = "3.0.1"
STATUS_OK = abi.STATUS_CODES["ok"]
# What the host writes into a status word before a run: this base plus the run's number
# modulo RUN_TAG_SPAN. The kernel writes only abi.STATUS_CODES, all far from this range.
STATUS_PENDING = int(np.iinfo(np.int32).min)
RUN_TAG_SPAN = 1 << 20


class AcceleratorError(ValueError):
    """Bad input or a mismatched design; the message names the sentence, file or field."""


class HostModel(Protocol):
    """What the host needs of a model: the weight image and its float ends."""

    hidden: int
    num_labels: int
    n_layers: int

    def image(self, cfg: DesignConfig) -> bytes: ...

    def embed(self, input_ids: list[np.ndarray], token_type_ids: list[np.ndarray]
              ) -> np.ndarray: ...

    def head(self, out: np.ndarray, lengths: Sequence[int]) -> np.ndarray: ...


@dataclass(frozen=True)
class Design:
    """A rendered (and perhaps built) design: its config and what identifies its weights."""

    config: DesignConfig
    root: Path | None = None  # the rendered project
    xclbin: Path | None = None
    image_sha256: str | None = None  # of the weight image it was rendered with
    searched: tuple[Path, ...] = ()  # where an xclbin was looked for in the project
    kernel: str = "hls"  # the xclbin's kernel: "hls" or "rtl" (`sbf hw build --kernel`)

    def missing_xclbin(self, backend: str) -> str:
        """One line: the board backend has no xclbin, where it looked, how to get one."""
        if self.root is None:
            return (f"backend {backend!r}: no design; render one with `sbf hw render`, link "
                    "it with `sbf hw build --target hw` (needs Vitis) and pass it as --design")
        looked = ", ".join(str(p) for p in self.searched) or "nothing"
        others = sorted(p.name for p in self.root.glob("*.xclbin"))
        found = f"; the project has only {others}" if others else ""
        return (f"backend {backend!r}: no xclbin in {self.root} (looked for {looked}{found}); "
                f"link it with `sbf hw build --project {self.root} --target hw` (needs "
                "Vitis) or pass the .xclbin itself as --design")


def load_design(path: str | Path | None, config: DesignConfig | None = None) -> Design:
    """A design from what `sbf hw render`/`sbf hw build` write: the project directory
    (its xclbin, if built, where `sbf hw build` links it) or an xclbin inside one.

    Without a path the design is `config` alone (default: hw/configs/minilm-u200.yaml),
    to be rendered on the fly for emulation.
    """
    if path is None:
        return Design(config or DesignConfig.from_yaml())
    path = Path(path)
    if not path.exists():
        raise AcceleratorError(f"design: {path} does not exist")
    xclbin = path if path.is_file() else None
    if xclbin is not None and path.suffix != ".xclbin":
        raise AcceleratorError(f"design: {path} is neither a rendered project nor an .xclbin")
    root = _project_root(path)
    mpath = root / RENDER_MANIFEST
    try:
        manifest = json.loads(mpath.read_text())
        if manifest.get("generator") != RENDER_GENERATOR:
            raise ValueError(f"generator is {manifest.get('generator')!r}")
        cfg = DesignConfig.from_dict(manifest["config"], source=str(mpath))
        image_sha = manifest["files"][IMAGE_FILE]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise AcceleratorError(f"design: {mpath} is not a manifest of `sbf hw render` "
                               f"({e})") from None
    searched: tuple[Path, ...] = ()
    if xclbin is None:
        searched = tuple(built_xclbins(root, cfg))
        xclbin = next((p for p in searched if p.is_file()), None)
    kernel = "rtl" if xclbin is not None and RTL_XCLBIN_TAG in xclbin.name else "hls"
    return Design(cfg, root, xclbin, image_sha, searched, kernel)


def built_xclbins(root: Path, cfg: DesignConfig) -> list[Path]:
    """Where `sbf hw build` links the design's xclbin (hw.vitis.plan's `-o`): the board's
    (`--target hw`), or the hw_emu one when XRT runs in hardware emulation."""
    from boards.loader import load_board
    from hw import vitis

    platform = load_board(cfg.board).platform
    targets = ("hw_emu",) if os.environ.get(EMULATION_MODE_ENV) == "hw_emu" else ("hw",)
    paths = []
    for target in targets:  # the HLS kernel's first, then the RTL kernel's
        link = vitis.plan(platform, target, cosim=False)[-1]
        paths.append(root / link.args[link.args.index("-o") + 1])
        paths.append(root / vitis.rtl_xclbin_name(target))
    return paths


def rtl_image(design: Design) -> bytes:
    """The RTL kernel's model image (its own layout, hw/rtl/sbf_kernel.sv), as
    `sbf hw build --kernel rtl` rendered it for the model the project was built for."""
    from hw import vitis

    path = (design.root or Path(".")) / vitis.RTL_PACKAGE_DIR / RTL_IMAGE_FILE
    if not path.is_file():
        raise AcceleratorError(f"design: {design.xclbin} is an RTL kernel but {path} is "
                               "missing; rerun `sbf hw build --kernel rtl` for this project")
    return path.read_bytes()


def _project_root(path: Path) -> Path:
    start = path if path.is_dir() else path.parent
    for d in [start, *start.parents][:MANIFEST_SEARCH_DEPTH + 1]:
        if (d / RENDER_MANIFEST).is_file():
            return d
    raise AcceleratorError(f"design: no {RENDER_MANIFEST} in {start} or its parents; is it a "
                           "project rendered by `sbf hw render`?")


def checked_image(model: HostModel, design: Design) -> bytes:
    """The model's weight image for the design; refuses a design rendered for other weights."""
    cfg = design.config
    if model.n_layers != cfg.model.layers or model.hidden != cfg.model.hidden:
        raise AcceleratorError(
            f"design: built for {cfg.model.layers} layers of hidden {cfg.model.hidden}, the "
            f"model has {model.n_layers} of hidden {model.hidden}")
    try:
        data = model.image(cfg)
    except ValueError as e:  # hw.hls.image.ImageError names the layer and field
        raise AcceleratorError(f"design: the model does not fit the design ({e})") from None
    if design.image_sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != design.image_sha256:
            raise AcceleratorError(
                f"design: {design.root} was rendered for other weights (image sha256 "
                f"{design.image_sha256[:12]}, this model's {got[:12]}): wrong xclbin for "
                "this artifact; render and build the design for it")
    return data


def kernel_spec(cfg: DesignConfig, image_bytes: int,
                max_batch: int = DEFAULT_MAX_BATCH) -> KernelSpec:
    """The kernel's buffers, sized once: packed tokens of `max_batch` sequences at most.

    Buffers sit in the DDR banks that the rendered `v++` connectivity gives their ports.
    """
    plan = memory_plan(cfg)
    names = [m.name for m in plan["board"].memory]
    bank = {p: (b, names.index(b) if b in names else None) for p, b in plan["bank_of"].items()}
    tokens = (max_batch * cfg.max_length, cfg.model.hidden)
    buffers = (
        BufferSpec("schedule", (max_batch, len(abi.SCHEDULE_FIELDS)), "int32", Direction.IN,
                   *bank["schedule"]),
        BufferSpec("act_in", tokens, "int8", Direction.IN, *bank["act_in"]),
        BufferSpec("act_out", tokens, "int8", Direction.OUT, *bank["act_out"]),
        BufferSpec("image", (image_bytes,), "uint8", Direction.CONST, *bank["image"]),
        BufferSpec("status", (max_batch,), "int32", Direction.OUT, *bank["status"]),
    )
    return KernelSpec(abi.KERNEL, KERNEL_ARGS, buffers)


def pending_word(run: int) -> int:
    """The status word the host writes before run `run`: 'not written by the kernel'."""
    return STATUS_PENDING + run % RUN_TAG_SPAN


def status_problem(word: int, run: int) -> str | None:
    """What a sequence's status word says is wrong after run `run`; None when it is ok."""
    if word == STATUS_OK:
        return None
    if STATUS_PENDING <= word < STATUS_PENDING + RUN_TAG_SPAN:
        if word == pending_word(run):
            return "the kernel wrote no status (the run did not happen or did not finish)"
        return (f"stale status: the word is run {word - STATUS_PENDING}'s (mod "
                f"{RUN_TAG_SPAN}), not this run's")
    return f"the kernel refused it ({abi.status_name(word)})"


def bucket_index(lengths: np.ndarray, cfg: DesignConfig) -> np.ndarray:
    """Each length's bucket: the index of the smallest edge that holds it."""
    from algo.buckets import assign

    return np.searchsorted(np.asarray(cfg.bucket_edges), assign(lengths, cfg.bucket_edges))


def run_order(lengths: np.ndarray, cfg: DesignConfig) -> np.ndarray:
    """The length-aware scheduler's admission order: by bucket, longest first inside one."""
    from hw.sched.policies import LENGTH_AWARE, plan

    seqs, _ = plan(LENGTH_AWARE, lengths, cfg.max_length, 1, cfg.bucket_edges)
    return np.array([s.seq for s in seqs], dtype=np.int64)


def schedule_rows(lengths: Sequence[int], cfg: DesignConfig) -> np.ndarray:
    """The kernel's schedule table for sequences packed back to back (hw.csim's layout)."""
    from hw.csim import schedule_table

    return schedule_table(cfg, [int(n) for n in lengths], cfg.attn_k)


@dataclass
class RunResult:
    """Everything one call produced, in the caller's order."""

    logits: np.ndarray  # float [n, num_labels]
    hidden: list[np.ndarray]  # int8 [L_i, hidden]: each sequence's encoder output
    lengths: np.ndarray  # int64 [n]
    buckets: np.ndarray  # int64 [n]
    kernel_calls: int

    @property
    def predictions(self) -> np.ndarray:
        return self.logits[:, 0] if self.logits.shape[1] == 1 else self.logits.argmax(axis=1)

    @property
    def packed_hidden(self) -> np.ndarray:
        """All outputs back to back, as the golden model returns them."""
        return np.concatenate(self.hidden) if self.hidden else np.zeros((0, 0), np.int8)


def make_backend(name: str, library: Path | None = None,
                 device_module: Any | None = None) -> Backend:
    """The backend by name, or for "auto" the first present: pynq, pyxrt, emulation."""
    if name not in BACKENDS:
        raise AcceleratorError(f"backend: {name!r} is not one of {BACKENDS}")
    if name == "auto":
        name = detect_backend(board=True)
    if name == "emulation":
        from host.backends.emulation import EmulationBackend, SharedLibraryKernel

        if library is None:
            raise BackendError("backend 'emulation': no C-simulation library; pass a design "
                               "rendered by `sbf hw render` (or none, to render one)")
        return EmulationBackend(SharedLibraryKernel(library, BRIDGE_SYMBOL))
    if name == "pynq":
        from host.backends.pynq_backend import PynqBackend, import_pynq

        module = device_module if device_module is not None else import_pynq()
        version = getattr(module, "__version__", None)
        if version != PYNQ_ALVEO_VERSION:
            raise BackendError(f"backend 'pynq': found pynq {version}; Alveo cards need "
                               f"pynq=={PYNQ_ALVEO_VERSION} (later releases dropped Alveo)")
        return PynqBackend(module)
    from host.backends.pyxrt_backend import PyxrtBackend

    return PyxrtBackend(device_module)


def detect_backend(board: bool) -> str:
    """With a built board design (`board`): pynq when PYNQ imports, else pyxrt when XRT's
    binding imports; otherwise, and without an xclbin, emulation."""
    import importlib.util

    for name in ("pynq", "pyxrt") if board else ():
        if importlib.util.find_spec(name) is not None:
            return name
    return "emulation"


class Accelerator:
    """A pruned BERT on a device: `with Accelerator(model, design) as acc: acc.run(texts)`.

    `model` is a `sim.golden.params.QuantizedModel` (or any `HostModel`); `design` a
    project rendered by `sbf hw render` or an xclbin built from one (None: render the
    model for `config` on the fly, for emulation); `backend` a name from BACKENDS or a
    `Backend` already set up.
    """

    def __init__(self, model: HostModel | Any, design: str | Path | None = None,
                 backend: str | Backend = "auto", *, config: DesignConfig | None = None,
                 tokenizer: Any = None, device_module: Any | None = None,
                 max_batch: int = DEFAULT_MAX_BATCH, library: Path | None = None,
                 progress: bool = False) -> None:
        from sim.golden.params import QuantizedModel

        self.model = QuantizedHostModel(model) if isinstance(model, QuantizedModel) else model
        self.design = load_design(design, config)
        self.config = self.design.config
        self.max_batch = max_batch
        self.progress = progress
        self._tokenizer = tokenizer
        self._scratch: tempfile.TemporaryDirectory | None = None
        self._lock = threading.RLock()  # the device buffers are shared: one call at a time
        self._runs = 0  # kernel runs so far; each run's status words carry its number
        image = checked_image(self.model, self.design)
        name = (backend.name if isinstance(backend, Backend) else
                detect_backend(self.design.xclbin is not None) if backend == "auto" else backend)
        if name in BOARD_BACKENDS and self.design.kernel == "rtl":
            image = rtl_image(self.design)  # same registers and buffers, its own image
        self.kernel = kernel_spec(self.config, len(image), max_batch)
        try:
            if isinstance(backend, Backend):  # a backend the caller set up
                self.backend = backend
            else:
                if name in BOARD_BACKENDS and self.design.xclbin is None:
                    raise BackendError(self.design.missing_xclbin(name))
                if name == "emulation" and library is None:
                    library = self._emulation_library()
                self.backend = make_backend(name, library, device_module)
            self.backend.open(self.kernel, self.design.xclbin)
            self.backend.host("image")[:] = np.frombuffer(image, dtype=np.uint8)
            self.backend.sync_to_device("image")  # the one upload of the weights
        except BaseException:
            self.close()
            raise

    def _emulation_library(self) -> Path:
        """The csim library of the design; without a rendered design, render one first."""
        from hw.csim import build_library
        from hw.hls.build import BuildError

        root = self.design.root
        if root is None:
            from hw.render import render

            if not isinstance(self.model, QuantizedHostModel):
                raise BackendError("backend 'emulation': pass a rendered design (or a "
                                   "quantized model, to render one)")
            self._scratch = tempfile.TemporaryDirectory(prefix="sbf-design-")
            root = Path(self._scratch.name)
            render(self.config, self.model.qmodel, root, source={"by": "host.Accelerator"})
        try:
            return build_library(root)
        except BuildError as e:  # no g++, or it failed
            raise BackendError(f"backend 'emulation': cannot build the C-simulation library "
                               f"of {root} ({e})") from None

    # -- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> Accelerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release every device buffer, the device, and any design rendered on the fly
        (after a call running in another thread has ended)."""
        with self._lock:
            backend = getattr(self, "backend", None)
            if backend is not None:
                backend.close()
            if self._scratch is not None:
                self._scratch.cleanup()
                self._scratch = None

    # -- inference -------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from algo.models import load_tokenizer

            self._tokenizer = load_tokenizer(getattr(self.model, "source", None))
        return self._tokenizer

    def tokenize(self, texts_a: Sequence[str], texts_b: Sequence[str] | None = None,
                 truncate: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Token and segment ids of every example; truncated to max_length only if asked."""
        if texts_b is not None and len(texts_b) != len(texts_a):
            raise AcceleratorError(f"texts_b has {len(texts_b)} entries, texts_a {len(texts_a)}")
        with self._lock:  # a fast tokenizer refuses concurrent calls that set truncation
            enc = self.tokenizer(list(texts_a),
                                 list(texts_b) if texts_b is not None else None,
                                 add_special_tokens=True, truncation=truncate,
                                 max_length=self.config.max_length if truncate else None,
                                 return_token_type_ids=True, verbose=False)
        ids = [np.asarray(x, dtype=np.int64) for x in enc["input_ids"]]
        types = [np.asarray(x, dtype=np.int64) for x in enc["token_type_ids"]]
        return ids, types

    def run(self, texts_a: Sequence[str], texts_b: Sequence[str] | None = None,
            truncate: bool = False) -> RunResult:
        """Logits for sentences (or sentence pairs), in the caller's order."""
        return self.run_ids(*self.tokenize(texts_a, texts_b, truncate))

    def run_ids(self, input_ids: Sequence[np.ndarray],
                token_type_ids: Sequence[np.ndarray] | None = None) -> RunResult:
        """Logits for tokenized examples; every length is checked before anything runs.

        Safe from several threads: calls are serialised on the accelerator's lock."""
        with self._lock:
            return self._run_ids(input_ids, token_type_ids)

    def _run_ids(self, input_ids: Sequence[np.ndarray],
                 token_type_ids: Sequence[np.ndarray] | None) -> RunResult:
        if not self.backend.is_open:
            raise AcceleratorError("the accelerator is closed")
        input_ids = [np.asarray(x, dtype=np.int64) for x in input_ids]
        if token_type_ids is None:
            token_type_ids = [np.zeros_like(x) for x in input_ids]
        lengths = np.array([len(x) for x in input_ids], dtype=np.int64)
        self._check_lengths(lengths)
        n = len(input_ids)
        if n == 0:
            return RunResult(np.zeros((0, self.model.num_labels)), [], lengths,
                             lengths.copy(), 0)
        x = self.model.embed(list(input_ids), list(token_type_ids))
        starts = np.concatenate([[0], np.cumsum(lengths)])
        order = run_order(lengths, self.config)
        batches = [order[i:i + self.max_batch] for i in range(0, n, self.max_batch)]
        hidden: dict[int, np.ndarray] = {}
        for batch in tqdm(batches, desc=f"{self.backend.name} kernel calls",
                          disable=not self.progress, leave=False):
            outs = self._run_batch([x[starts[i]:starts[i + 1]] for i in batch],
                                   batch.tolist())
            hidden.update(zip(batch.tolist(), outs, strict=True))
        outputs = [hidden[i] for i in range(n)]
        logits = self.model.head(np.concatenate(outputs), lengths.tolist())
        return RunResult(np.asarray(logits), outputs, lengths,
                         bucket_index(lengths, self.config), len(batches))

    def _check_lengths(self, lengths: np.ndarray) -> None:
        limit = self.config.max_length
        bad = np.flatnonzero((lengths > limit) | (lengths < 1))
        if bad.size:
            i = int(bad[0])
            raise AcceleratorError(
                f"sequence {i} has {lengths[i]} tokens, outside 1..{limit} (the design's "
                f"max_length; {bad.size} such); nothing was run (truncate to run them)")

    def _run_batch(self, seqs: list[np.ndarray], ids: list[int]) -> list[np.ndarray]:
        """One kernel call: pack the tokens, clear the status words, sync what is used,
        run, check every status word, read back. `ids` are the caller's indices."""
        b = self.backend
        n = len(seqs)
        lengths = [len(s) for s in seqs]
        table = schedule_rows(lengths, self.config)
        used = int(sum(lengths))
        self._runs += 1
        run, pending = self._runs, pending_word(self._runs)
        b.host("act_in")[:used] = np.concatenate(seqs)
        b.host("schedule")[:n] = table
        b.host("status")[:n] = pending
        b.sync_to_device("act_in", used)
        b.sync_to_device("schedule", n)
        b.sync_to_device("status", n)
        b.sync_from_device("status", n)  # the clear must be on the device, or stale words pass
        if np.any(b.host("status")[:n] != pending):
            raise BackendError(f"{b.name}: run {run}: the cleared status words of sequences "
                               f"{ids} did not reach the device; nothing of this call is "
                               "returned")
        try:
            b.run({"n_seq": n, "n_layers": self.config.model.layers})
        except BackendError as e:
            raise BackendError(f"{e} (run {run}: sequences {ids}, lengths {lengths}); "
                               "nothing of this call is returned") from None
        b.sync_from_device("status", n)
        for j, word in enumerate(np.array(b.host("status")[:n]).tolist()):
            problem = status_problem(word, run)
            if problem is not None:
                raise BackendError(f"{b.name}: sequence {ids[j]} (length {lengths[j]}, run "
                                   f"{run}): {problem}; nothing of this call is returned")
        b.sync_from_device("act_out", used)
        out = b.host("act_out")
        starts = np.concatenate([[0], np.cumsum(lengths)])
        # np.array: plain copies, never views or subclasses of device-mapped memory
        return [np.array(out[starts[r]:starts[r + 1]]) for r in range(n)]


class QuantizedHostModel:
    """A `QuantizedModel` on the host: its weight image, float embeddings and head.

    The float ends are `sim.golden.check`'s own (`host_embed`, `host_head`) on a BERT
    rebuilt from the model's stored config and host tensors, so the host computes
    exactly what the golden model's fidelity check computes.
    """

    def __init__(self, qmodel: Any, source: str | None = None) -> None:
        import torch
        from transformers import BertConfig, BertForSequenceClassification

        self.qmodel = qmodel
        self.source = source
        bert_cfg = BertConfig.from_dict(qmodel.meta["config"])
        with torch.random.fork_rng(devices=[]):
            self.float_model = BertForSequenceClassification(bert_cfg).eval()
        missing = set(qmodel.host) - set(self.float_model.state_dict())
        if missing:
            raise AcceleratorError(f"model: host tensors {sorted(missing)[:3]} do not belong "
                                   "to a BERT classifier")
        self.float_model.load_state_dict({k: torch.from_numpy(np.asarray(v))
                                          for k, v in qmodel.host.items()}, strict=False)
        self.hidden = bert_cfg.hidden_size
        self.num_labels = bert_cfg.num_labels
        self.n_layers = len(qmodel.layers)

    def image(self, cfg: DesignConfig) -> bytes:
        from hw.hls.image import build_image

        return build_image(self.qmodel.layers, cfg).data

    def _tokenized(self, input_ids: list[np.ndarray], token_type_ids: list[np.ndarray]) -> Any:
        from sim.golden.check import Tokenized

        return Tokenized(np.concatenate(input_ids), np.concatenate(token_type_ids),
                         [len(x) for x in input_ids])

    def embed(self, input_ids: list[np.ndarray], token_type_ids: list[np.ndarray]
              ) -> np.ndarray:
        from sim.golden.check import host_embed

        tok = self._tokenized(input_ids, token_type_ids)
        return host_embed(self.float_model, tok, self.qmodel.input_scale).astype(np.int8)

    def head(self, out: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
        from sim.golden.check import host_head

        return host_head(self.float_model, out * self.qmodel.output_scale, lengths)

    def golden(self, x: np.ndarray, lengths: Sequence[int], cfg: DesignConfig) -> np.ndarray:
        """The golden model's output for packed int8 inputs, with the design's top-k."""
        from hw.hls.golden_ref import topk_attention
        from sim.golden.encoder import encoder

        return encoder(x, self.qmodel, list(lengths),
                       attention=topk_attention(cfg.attn_k)).astype(np.int8)
