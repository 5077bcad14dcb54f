"""fit: a whole training run, composed of the small parts in :mod:`roiattn.train.steps` and one
:class:`~roiattn.train.state.TrainState`.

It is deterministic on the CPU for given settings, and with ``checkpoint_dir`` and
``resume=True`` a killed run goes on from its last checkpoint and ends with exactly the weights
an uninterrupted run would have: each epoch's order is a function of (seed, epoch) only, so a
resumed run recomputes it and skips the batches already done, and the state (optimizer,
schedule, scaler, running sums, random number generators) comes back from the checkpoint.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler

from roiattn import distributed
from roiattn.checkpoints import CHECKPOINT_NAME, load_checkpoint, save_checkpoint, set_rng_state
from roiattn.data.regions import RegionDataset, collate_regions, require_regions
from roiattn.evaluate.evaluation import predict_all
from roiattn.progress import progress_bar
from roiattn.runtime import resolve_device, use_channels_last
from roiattn.train.history import History
from roiattn.train.settings import TrainSettings
from roiattn.train.state import TrainState
from roiattn.train.steps import epoch_seed, train_one_epoch


class _Items(Sampler[int]):
    """The items of the current epoch, in order; refilled every epoch, so one DataLoader (and
    its persistent workers) serves the whole run."""

    def __init__(self) -> None:
        self.indices: list[int] = []

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _loader(data: RegionDataset, settings: TrainSettings, device: torch.device) -> DataLoader:
    return DataLoader(
        data,
        batch_size=settings.batch_size,
        sampler=_Items(),
        num_workers=settings.num_workers,
        collate_fn=collate_regions,
        pin_memory=device.type == "cuda",
        drop_last=False,  # the items given are always whole batches, or one short epoch
        persistent_workers=settings.num_workers > 0,
        generator=torch.Generator(),
    )


def _check(
    model: nn.Module, data: RegionDataset, checkpoint_dir: object, every: int | None, resume: bool
) -> None:
    if len(data) == 0:
        raise ValueError("the training data is empty")
    num_classes = getattr(model, "num_classes", None)
    if num_classes is not None and num_classes != len(data.classes):
        raise ValueError(
            f"the model has {num_classes} outputs but the training data has {len(data.classes)} "
            f"classes: build it with num_classes={len(data.classes)}"
        )
    labels = np.asarray(data.labels)
    if len(labels) and (labels.min() < 0 or labels.max() >= len(data.classes)):
        raise ValueError(
            f"training labels run from {labels.min()} to {labels.max()}, outside the "
            f"{len(data.classes)} classes [0, {len(data.classes)})"
        )
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise ValueError(f"checkpoint_every must be >= 1 steps or None, got {every!r}")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the checkpoint_dir of the run to go on with")


class Checkpoints:
    """Where a run's state goes: ``<folder>/last.pt``, written by rank 0 only; no folder, no
    checkpoints."""

    def __init__(self, folder: str | Path | None, state: TrainState) -> None:
        self.path = None if folder is None else Path(folder) / CHECKPOINT_NAME
        self.state = state
        data = state.data
        self.meta = {"image_size": data.image_size, "view": data.view, "data": data.description}

    def restore(self) -> None:
        """Go on from the checkpoint, when there is one."""
        if self.path is not None and self.path.exists():
            saved = load_checkpoint(self.path)
            self.state.load_state_dict(saved)
            set_rng_state(saved["rng"])

    def save(self) -> float:
        """Write the checkpoint; returns the seconds it took (not training time)."""
        started = time.perf_counter()
        if self.path is not None and self.state.group.is_main:
            state = self.state
            save_checkpoint(self.path, state.model, classes=state.data.classes, meta=self.meta,
                            run=state.state_dict())  # fmt: skip
        return time.perf_counter() - started


def validation_accuracy(model: nn.Module, data: RegionDataset, state: TrainState) -> float:
    """Top-1 accuracy on ``data``; each process takes every ``world_size``-th item and the
    counts are summed, so the result is exact and the same on every process."""
    group = state.group
    share = data.subset(np.arange(group.rank, len(data), group.world_size))
    counts = torch.zeros(2, dtype=torch.float64)
    if len(share):
        out = predict_all(
            model,
            share,
            batch_size=state.settings.eval_batch_size,
            device=state.device,
            num_workers=state.settings.num_workers,
            amp=state.settings.amp,
            channels_last=state.channels_last,
            progress=False,
        )
        counts += torch.tensor([(out["labels"] == out["predictions"]).sum(), len(share)])
    counts = group.sum(counts)
    return float(counts[0] / counts[1])


def fit(
    model: nn.Module,
    train_data: RegionDataset,
    settings: TrainSettings | None = None,
    *,
    val_data: RegionDataset | None = None,
    sampler: Sampler | Sequence[int] | None = None,
    device: str | torch.device = "auto",
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[int, nn.Module, float], None] | None = None,
) -> History:
    """Train ``model`` on ``train_data`` with ``settings`` (default :class:`TrainSettings`) and
    return its :class:`History`.

    - ``sampler``: the order of items (e.g. class-balanced); default a seeded shuffle.
    - ``val_data``: accuracy on it after every epoch.
    - ``device="auto"``: a GPU when there is one.
    - ``checkpoint_dir``: write ``last.pt`` there after every epoch, and every
      ``checkpoint_every`` steps; ``resume=True`` goes on from it when it exists.
    - ``on_step(step, model, loss)``: called after every step (e.g. to record weights); it
      makes every step wait for the GPU, so leave it out for speed.

    Under ``torchrun`` (:func:`roiattn.distributed.init`) each process trains on its share of
    every epoch in ``DistributedDataParallel``, and only rank 0 shows progress and writes.
    """
    settings = settings or TrainSettings()
    train_data = require_regions(train_data, "training data")
    if val_data is not None:
        val_data = require_regions(val_data, "validation data")
    _check(model, train_data, checkpoint_dir, checkpoint_every, resume)
    group = distributed.current()
    device = group.device(resolve_device(device))
    torch.manual_seed(settings.seed)
    np.random.seed(settings.seed % 2**32)
    random.seed(settings.seed)
    nhwc = use_channels_last(device, settings.channels_last)
    model.to(device, memory_format=torch.channels_last if nhwc else torch.contiguous_format)
    state = TrainState(model, train_data, sampler, settings, device, group)
    checkpoints = Checkpoints(checkpoint_dir, state)
    if resume:
        checkpoints.restore()
    save = checkpoints.save
    bar = progress_bar(total=state.total_steps, initial=state.step, unit="step",
                       desc=state.history.method or "train",
                       disable=not progress or not group.is_main)  # fmt: skip

    def after_step(state: TrainState) -> bool:
        bar.update(1)
        due = checkpoint_every is not None and state.step % checkpoint_every == 0
        state.flush(force=due or on_step is not None)
        if due and state.step < state.total_steps and state.done_in_epoch < state.steps_per_epoch:
            state.tally.seconds -= save()  # the epoch's time is training time only
        if on_step is not None:
            on_step(state.step, model, state.history.loss[-1])
        return state.step < state.total_steps

    net = group.wrap(model)
    loader = _loader(train_data, settings, device)
    try:
        while not state.done:
            loader.sampler.indices = state.epoch_items()
            loader.generator.manual_seed(epoch_seed(settings.seed, state.epoch))
            started = time.perf_counter()
            train_one_epoch(net, loader, state, after_step)
            state.tally.seconds += time.perf_counter() - started
            group.sync_buffers(model)  # every process evaluates and ends with rank 0's
            accuracy = None if val_data is None else validation_accuracy(model, val_data, state)
            record = state.end_epoch(accuracy)
            bar.set_postfix(epoch=f"{record.epoch + 1}/{settings.epochs}",
                            loss=f"{record.train_loss:.3f}", refresh=False)  # fmt: skip
            save()
    finally:
        bar.close()
    return state.history
