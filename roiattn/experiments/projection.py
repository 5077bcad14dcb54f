"""How long training will take, said before it starts: a few steps of each method timed on the
device at hand, times the steps its runs will take.

For the runs a comparison is missing, with ``jobs`` of them training at once::

    seconds = (sum over runs of steps x step time + evaluation) / jobs + reading

- *step time*: one training step of the method on a batch of the experiment's, measured here
  after a warm-up step (one thread per run when several runs share the CPU);
- *evaluation*: every test region of every run, at the measured time of a forward pass;
- *reading*: the regions not yet in memory, once, at the measured time of reading one; a
  dataset read by DataLoader workers is read again every epoch, beside the GPU, so a run then
  takes the longer of its steps and its reading.

The download, when one is needed, comes before (``experiment.regions()``), and says its size and
speed as it goes.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from roiattn.benchmarks.timing import interleaved, torch_threads
from roiattn.data.regions import RegionCache, RegionDataset, collate_regions
from roiattn.runtime import choose_precision, describe_device, to_device, use_channels_last
from roiattn.train.steps import make_optimizer, train_step

if TYPE_CHECKING:
    from roiattn.experiments.definitions import Experiment

# a region read faster than this came from memory (a RegionCache), not from its JPEG
IN_MEMORY_SECONDS = 1e-4
# for less time: the next smaller profile
SMALLER = {"paper": "colab", "colab": "quick"}


@dataclass(frozen=True)
class Projection:
    """What a comparison is about to train, and how long it will take (module docstring)."""

    runs: int
    steps: int
    train_seconds: float  # the runs' steps and evaluation, one after another
    read_seconds: float
    jobs: int
    device: str
    profile: str

    @property
    def seconds(self) -> float:
        return self.train_seconds / self.jobs + self.read_seconds

    def __str__(self) -> str:
        at_once = f", {self.jobs} at a time" if self.jobs > 1 else ""
        smaller = SMALLER.get(self.profile)
        less = f"; for less, ROIATTN_PROFILE={smaller}" if smaller else ""
        return (
            f"about {minutes(self.seconds)} to train {self.runs} run{'s' * (self.runs != 1)} "
            f"not trained before ({self.steps:,} steps{at_once}, timed on {self.device}; reading "
            f"the regions {minutes(self.read_seconds)}){less}"
        )


def minutes(seconds: float) -> str:
    """``42 s``, ``3.5 min`` or ``1.2 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def run_steps(experiment: Experiment, train: RegionDataset) -> int:
    """The optimizer steps of one run of ``experiment`` on ``train`` (as ``fit`` counts them)."""
    settings = experiment.training
    steps = settings.epochs * max(1, len(train) // settings.batch_size)
    return min(steps, settings.max_steps) if settings.max_steps else steps


def time_method(
    experiment: Experiment, method: str, train: RegionDataset, device: torch.device, steps: int = 3
) -> tuple[float, float]:
    """Seconds of one training step of ``method`` and of a forward pass per region, measured on
    a batch of ``train`` after a warm-up step; the global random state is left as it was."""
    settings = experiment.settings()
    batch = collate_regions([train[i] for i in range(min(len(train), settings.batch_size))])
    nhwc = use_channels_last(device, settings.channels_last)
    precision = choose_precision(device, settings.amp)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        model = experiment.model(method, len(train.classes))
        model.to(device, memory_format=torch.channels_last if nhwc else torch.contiguous_format)
        optimizer = make_optimizer(model, settings, device)
        scaler = torch.amp.GradScaler(device.type) if precision.scale_loss else None
        images, masks, labels = to_device(batch, device, nhwc)

        def step() -> None:
            train_step(model, images, masks, labels, optimizer, scaler, precision,
                       settings.grad_clip)  # fmt: skip

        def forward() -> None:
            with torch.no_grad(), precision.autocast(device):
                model(images, masks)

        model.train()
        step_seconds = statistics.mean(interleaved({"step": step}, steps, 1, device)["step"])
        model.eval()
        forward_seconds = interleaved({"forward": forward}, 1, 0, device)["forward"][0]
    return step_seconds, forward_seconds / len(labels)


def read_seconds(data: RegionDataset, count: int = 8) -> tuple[float, bool]:
    """Seconds to read one region of ``data`` (its first ``count``), and whether they came from
    memory."""
    started = time.perf_counter()
    for i in range(min(count, len(data))):
        data[i]
    each = (time.perf_counter() - started) / max(1, min(count, len(data)))
    return each, isinstance(data, RegionCache) and each < IN_MEMORY_SECONDS


def project(
    experiment: Experiment,
    runs: Sequence[tuple[str, int]],
    train: RegionDataset,
    test: RegionDataset,
    device: torch.device,
    jobs: int = 1,
) -> Projection:
    """How long training ``runs`` (``(method, seed)`` pairs) of ``experiment`` will take on
    ``device``, ``jobs`` at a time: each method's first steps timed here (module docstring)."""
    with torch_threads(1 if jobs > 1 else None):  # each run of a parallel comparison: 1 thread
        # read first, so that the steps are timed on regions in memory
        per_region, in_memory = read_seconds(train)
        methods = dict.fromkeys(method for method, _ in runs)
        timed = {method: time_method(experiment, method, train, device) for method in methods}
        where = describe_device(device)
    steps = run_steps(experiment, train)
    workers = experiment.training.num_workers
    epochs_read = len(train) * experiment.training.epochs * per_region
    total = 0.0
    for method, _ in runs:
        step_seconds, forward_seconds = timed[method]
        training = steps * step_seconds
        if workers > 0:  # read again every epoch, beside the steps
            training = max(training, epochs_read / workers)
        elif not isinstance(train, RegionCache):
            training += epochs_read
        total += training + len(test) * forward_seconds
    once = 0.0 if in_memory or not isinstance(train, RegionCache) else per_region * len(train)
    if isinstance(test, RegionCache) and not in_memory:
        once += per_region * len(test)
    return Projection(len(runs), steps * len(runs), total, once, jobs, where, experiment.profile)
