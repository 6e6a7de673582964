"""Where search candidates are evaluated: this process, local worker processes, or Ray.

All three offer one call, `map(fn, jobs) -> results in job order`, so the search does
not care which runs it. Local processes are the default; Ray (`--executor ray`) spreads
the candidates over a cluster when one machine is too small.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from types import TracebackType
from typing import Any

from tqdm import tqdm

EXECUTORS = ("local", "inline", "ray")


def _set_threads(threads: int) -> None:
    """Worker initializer: split the cores between workers instead of oversubscribing."""
    import torch

    torch.set_num_threads(threads)


class Executor:
    """Runs `fn` over jobs; subclasses decide where. A context manager that cleans up."""

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (nothing to do by default)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class InlineExecutor(Executor):
    """In this process, one job after another (debugging, tiny runs)."""

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> list[Any]:
        return [fn(j) for j in tqdm(jobs, desc="candidates")]


class LocalExecutor(Executor):
    """A pool of `workers` spawned processes, each with `threads` torch threads
    (default cores // workers, so that workers do not oversubscribe the cores)."""

    def __init__(self, workers: int | None = None, threads: int | None = None) -> None:
        cores = os.cpu_count() or 1
        self.workers = max(1, min(workers or cores, cores))
        self.pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=get_context("spawn"),
            initializer=_set_threads, initargs=(threads or max(1, cores // self.workers),))

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> list[Any]:
        futures = {self.pool.submit(fn, j): i for i, j in enumerate(jobs)}
        results: list[Any] = [None] * len(jobs)
        for fut in tqdm(as_completed(futures), total=len(jobs), desc="candidates"):
            results[futures[fut]] = fut.result()
        return results

    def close(self) -> None:
        self.pool.shutdown()


class RayExecutor(Executor):
    """Ray tasks on the cluster at `address` (None: a local Ray started here), or on the
    Ray this process already initialised. When it connects itself, the `algo` package
    travels with the job (`py_modules`), so the cluster's workers need the project's
    dependencies but not its checkout."""

    def __init__(self, address: str | None = None, cpus_per_job: float = 1.0) -> None:
        try:
            import ray
        except ImportError:
            raise RuntimeError("--executor ray needs the `ray` package "
                               "(pip install 'sparse-bert-fpga[ray]' or pip install ray)") from None
        self.ray = ray
        self.started_here = not ray.is_initialized()
        if self.started_here:
            import algo

            ray.init(address=address,
                     runtime_env={"py_modules": [str(Path(algo.__file__).parent)]})
        self.cpus_per_job = cpus_per_job

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> list[Any]:
        remote = self.ray.remote(num_cpus=self.cpus_per_job)(fn)
        refs = [remote.remote(j) for j in jobs]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(jobs)
        pending = list(refs)
        with tqdm(total=len(jobs), desc="candidates (ray)") as bar:
            while pending:
                done, pending = self.ray.wait(pending, num_returns=1)
                for ref in done:
                    results[index[ref]] = self.ray.get(ref)
                    bar.update(1)
        return results

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()


def make_executor(kind: str = "local", workers: int | None = None,
                  address: str | None = None, threads: int | None = None) -> Executor:
    """The executor named `kind` (one of EXECUTORS)."""
    if kind == "local":
        return LocalExecutor(workers, threads)
    if kind == "inline":
        return InlineExecutor()
    if kind == "ray":
        return RayExecutor(address)
    raise ValueError(f"executor {kind!r} is not one of {EXECUTORS}")
