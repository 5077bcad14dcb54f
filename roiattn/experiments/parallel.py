"""Training several runs of a comparison at once on a CPU, each in a process of its own.

A small network's training step does not keep two CPU cores busy: on the 2-core machine this
book is built on, a step of the quick profile's ``resnet10_w32`` took 0.088 s with two threads
and 0.11 s with one. Two runs side by side with one thread each take longer each (chapter 5's
runs: about 28 s against 20 s) but finish two at a time: a script training chapter 5's
eight runs took 133 s instead of 178 s. So :func:`~roiattn.experiments.compare` trains the
runs it is missing in ``jobs`` processes when it trains on a Linux CPU, one thread each, and
one run at a time elsewhere.

The workers are forked, so they start at once with the regions already in memory (nothing is
imported or sent again). A forked process must keep to one thread: the OpenMP pool torch
used before the fork does not survive it, and a second thread waits on it forever. Each run
saves itself when it finishes, so an interrupted comparison loses only the runs in flight, and
those resume from their checkpoints.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import torch

_shared: Any = None  # what the workers read through shared(), set before they are forked


def choose_jobs(jobs: int | None, device: torch.device, runs: int) -> int:
    """How many runs to train at once: ``jobs`` if given (checked); by default one per CPU
    thread torch would use on a Linux CPU, never more than the runs to train; else one."""
    parallel_here = device.type == "cpu" and sys.platform.startswith("linux")
    if jobs is None:
        return max(1, min(runs, torch.get_num_threads())) if parallel_here else 1
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive whole number, got {jobs!r}")
    if jobs > 1 and not parallel_here:
        raise ValueError(
            f"jobs={jobs} trains several runs at once in forked processes on a Linux CPU; here "
            f"(device {device.type}, {sys.platform}) train one at a time: jobs=1 or unset"
        )
    return jobs


def shared() -> Any:
    """In a worker: the value :func:`run_in_workers` shared with it (in the parent: None)."""
    return _shared


def run_in_workers(
    function: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    jobs: int,
    share: Any,
) -> Iterator[Any]:
    """``function(*task)`` for every task, ``jobs`` at a time in forked worker processes of
    one thread each, yielded in the order of ``tasks``; ``share`` reaches each worker through
    :func:`shared` without being copied or pickled."""
    global _shared
    _shared = share
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=torch.set_num_threads,
                               initargs=(1,))  # fmt: skip
    try:
        futures = [pool.submit(function, *task) for task in tasks]
        for future in futures:
            try:
                yield future.result()
            except BrokenProcessPool as error:
                raise RuntimeError(
                    "a training process died (out of memory, or killed): the runs that finished "
                    "are saved and the others resume from their checkpoints when you run this "
                    "again; with jobs=1 fewer runs share the memory"
                ) from error
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _shared = None
