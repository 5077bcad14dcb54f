"""Training: one readable loop that runs the same on a laptop CPU, a GPU and several GPUs.

``fit`` trains a region classifier and returns its :class:`History`. It is deterministic on the
CPU for a given seed, and with ``checkpoint_dir`` and ``resume=True`` a killed run goes on from
its last checkpoint and ends with exactly the weights an uninterrupted run would have.

How exact resuming works: each epoch's order of items is a function of (seed, epoch) only, so a
resumed run recomputes it and skips the batches already done; every random number generator,
the optimizer, the schedule and the loss scaler are restored from the checkpoint. (With
``num_workers > 0``, a dataset that draws random numbers per item sees them in another order
after a mid-epoch resume; datasets whose items depend only on their index, like every roiattn
dataset, resume exactly either way.)
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, Subset
from tqdm.auto import tqdm

from roiattn import distributed
from roiattn.checkpoints import (
    CHECKPOINT_NAME,
    CheckpointError,
    load_checkpoint,
    model_spec,
    save_checkpoint,
    set_rng_state,
)
from roiattn.evaluate import predict_all
from roiattn.runtime import (
    Precision,
    choose_precision,
    collate_regions,
    dataset_attribute,
    dataset_classes,
    dataset_image_size,
    item_values,
    resolve_device,
    to_device,
    use_channels_last,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "EpochRecord",
    "History",
    "epoch_order",
    "fit",
    "load_checkpoint",  # checkpoints live in roiattn.checkpoints; DESIGN.md names them here too
    "make_optimizer",
    "make_schedule",
    "save_checkpoint",
    "train_step",
]

OPTIMIZERS: tuple[str, ...] = ("adamw", "adam", "sgd")
SCHEDULES: tuple[str, ...] = ("cosine", "constant")
LOG_EVERY = 10  # steps between reading the loss back from the GPU (each read waits for it)


@dataclass
class EpochRecord:
    """One epoch: mean training loss and accuracy, validation accuracy, and its speed."""

    epoch: int
    steps: int
    train_loss: float
    train_accuracy: float
    val_accuracy: float | None
    seconds: float
    images_per_second: float


@dataclass
class History:
    """What a run did: loss and learning rate at every step, and a record per epoch."""

    method: str = ""
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Time spent training (validation not included)."""
        return sum(e.seconds for e in self.epochs)

    @property
    def val_accuracy(self) -> float | None:
        """Validation accuracy after the last epoch (None without validation data)."""
        return self.epochs[-1].val_accuracy if self.epochs else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "step": list(self.step),
            "loss": list(self.loss),
            "lr": list(self.lr),
            "epochs": [asdict(e) for e in self.epochs],
            "settings": dict(self.settings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(
            method=data.get("method", ""),
            step=list(data["step"]),
            loss=list(data["loss"]),
            lr=list(data["lr"]),
            epochs=[EpochRecord(**e) for e in data["epochs"]],
            settings=dict(data.get("settings", {})),
        )

    def __repr__(self) -> str:
        last = self.epochs[-1] if self.epochs else None
        summary = "" if last is None else f", train accuracy {last.train_accuracy:.3f}"
        if last is not None and last.val_accuracy is not None:
            summary += f", val accuracy {last.val_accuracy:.3f}"
        return f"History({self.method}: {len(self.step)} steps, {len(self.epochs)} epochs{summary})"

    def plot(self) -> Figure:
        """Loss per step (with a running mean) and accuracy per epoch; returns the figure."""
        import matplotlib.pyplot as plt

        figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
        left.plot(self.step, self.loss, alpha=0.35, label="loss")
        if len(self.loss) >= 5:
            width = max(5, len(self.loss) // 20)
            smooth = np.convolve(self.loss, np.ones(width) / width, mode="valid")
            left.plot(self.step[width - 1 :], smooth, label=f"mean of {width}")
        left.set_xlabel("step")
        left.set_ylabel("cross-entropy")
        left.legend()
        left.set_title(f"{self.method or 'model'}: training loss")
        epochs = [e.epoch + 1 for e in self.epochs]
        right.plot(epochs, [e.train_accuracy for e in self.epochs], "o-", label="train")
        if any(e.val_accuracy is not None for e in self.epochs):
            val = [np.nan if e.val_accuracy is None else e.val_accuracy for e in self.epochs]
            right.plot(epochs, val, "s-", label="validation")
        right.set_xlabel("epoch")
        right.set_ylabel("top-1 accuracy")
        right.set_ylim(0, 1)
        right.legend()
        right.set_title("accuracy")
        figure.tight_layout()
        return figure


class _IndexList(Sampler[int]):
    """The items of the current epoch, in order; ``fit`` refills it each epoch, so one
    DataLoader (and its persistent workers) serves the whole run."""

    def __init__(self) -> None:
        self.indices: list[int] = []

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _mix(seed: int, epoch: int) -> int:
    """A seed for one epoch of one run."""
    digest = hashlib.sha256(f"{seed}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


@contextmanager
def _seeded_globals(seed: int):
    """Run a block with torch, numpy and python's global RNGs seeded, then put them back."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)
            random.setstate(python_state)


def epoch_order(
    data: Dataset,
    sampler: Sampler | Sequence[int] | None,
    seed: int,
    epoch: int,
    group: distributed.Group | None = None,
) -> list[int]:
    """This process's items of one epoch, in order: a function of (seed, epoch) only.

    Without a sampler, torch's ``DistributedSampler`` shuffles (one process is a group of one).
    A sampler of your own (class-balanced, ...) is seeded for the epoch: its ``set_epoch`` is
    called, its own ``generator`` reseeded, and the global RNGs it might use are seeded; under
    DDP each process then takes every world_size-th index.
    """
    group = group or distributed.Group()
    if sampler is None:
        shuffler = DistributedSampler(
            data,
            num_replicas=group.world_size,
            rank=group.rank,
            shuffle=True,
            seed=seed,
            drop_last=True,
        )
        shuffler.set_epoch(epoch)
        return list(shuffler)
    epoch_seed = _mix(seed, epoch)
    with _seeded_globals(epoch_seed):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        generator = getattr(sampler, "generator", None)
        if isinstance(generator, torch.Generator):
            generator.manual_seed(epoch_seed)
        order = [int(i) for i in sampler]
    if order and (min(order) < 0 or max(order) >= len(data)):
        raise ValueError(
            f"the sampler gave index {max(order) if max(order) >= len(data) else min(order)} "
            f"for a dataset of {len(data)} items: build it over the training data"
        )
    if group.distributed:
        share = len(order) // group.world_size
        order = order[group.rank : share * group.world_size : group.world_size]
    return order


def _digest(order: list[int]) -> str:
    return hashlib.sha256(np.asarray(order, dtype=np.int64).tobytes()).hexdigest()[:16]


def make_optimizer(
    name: str, parameters, lr: float, weight_decay: float, device: torch.device
) -> torch.optim.Optimizer:
    """AdamW (the default), Adam (the paper's: lr 1e-5, weight decay 1e-5) or SGD with Nesterov
    momentum; fused kernels on CUDA."""
    fused = {"fused": True} if device.type == "cuda" else {}
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay, **fused)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay, **fused)
    if name == "sgd":
        return torch.optim.SGD(
            parameters, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay, **fused
        )
    raise ValueError(f"unknown optimizer {name!r}: choose one of {OPTIMIZERS}")


def make_schedule(
    name: str, optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """``cosine``: from lr down to 0 over the run; ``constant``: lr throughout (the paper's)."""
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    if name == "cosine":
        total = max(1, total_steps)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
        )
    raise ValueError(f"unknown schedule {name!r}: choose one of {SCHEDULES}")


def train_step(
    model: nn.Module,
    images: Tensor,
    masks: Tensor,
    labels: Tensor,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    precision: Precision,
    grad_clip: float | None = None,
) -> tuple[Tensor, Tensor]:
    """One optimizer step on one batch; returns (loss, number correct) as tensors, without
    waiting for the GPU."""
    with precision.autocast(images.device):
        logits = model(images, masks)
    loss = F.cross_entropy(logits.float(), labels)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if grad_clip is not None:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()
    return loss.detach(), (logits.detach().argmax(1) == labels).sum()


def _check(
    model: nn.Module,
    train_data: Dataset,
    classes: list[str],
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    optimizer: str,
    schedule: str,
    grad_clip: float | None,
    checkpoint_every: int | None,
    max_steps: int | None,
    num_workers: int,
) -> None:
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not lr > 0 or not weight_decay >= 0:
        raise ValueError(f"lr must be > 0 and weight_decay >= 0, got {lr}, {weight_decay}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}: choose one of {OPTIMIZERS}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: choose one of {SCHEDULES}")
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be > 0 or None, got {grad_clip}")
    if checkpoint_every is not None and checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1 steps or None, got {checkpoint_every}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be >= 1 or None, got {max_steps}")
    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {num_workers}")
    if len(train_data) == 0:
        raise ValueError("the training data is empty")
    num_classes = getattr(model, "num_classes", None)
    if num_classes is not None and num_classes != len(classes):
        raise ValueError(
            f"the model has {num_classes} outputs but the training data has {len(classes)} "
            f"classes: build it with num_classes={len(classes)}"
        )
    labels = item_values(train_data, "labels")
    if labels is not None and len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ValueError(
            f"training labels run from {labels.min()} to {labels.max()}, outside the "
            f"{len(classes)} classes [0, {len(classes)})"
        )


def fit(
    model: nn.Module,
    train_data: Dataset,
    val_data: Dataset | None = None,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    optimizer: str = "adamw",
    schedule: str = "cosine",
    device: str | torch.device = "auto",
    sampler: Sampler | Sequence[int] | None = None,
    num_workers: int = 0,
    amp: bool | None = None,
    channels_last: bool | None = None,
    grad_clip: float | None = None,
    seed: int = 0,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    max_steps: int | None = None,
    eval_batch_size: int | None = None,
    progress: bool = True,
    on_step: Callable[[int, nn.Module, float], None] | None = None,
) -> History:
    """Train ``model`` on ``train_data`` and return its :class:`History`.

    - ``optimizer``: ``adamw`` (default), ``adam`` (the paper's, with lr 1e-5 and weight decay
      1e-5) or ``sgd``; ``schedule``: ``cosine`` to zero over the run, or ``constant``.
    - ``device="auto"``: a GPU when there is one. ``amp`` and ``channels_last`` default to on
      for CUDA (bf16 where the GPU has it, else fp16 with loss scaling) and off on the CPU.
    - ``sampler``: the order of items (e.g. class-balanced); default a seeded shuffle. A last
      incomplete batch is dropped each epoch (BatchNorm needs more than one item).
    - ``checkpoint_dir``: write ``last.pt`` there after every epoch, and every
      ``checkpoint_every`` steps; ``resume=True`` goes on from it when it exists.
    - ``max_steps``: stop after this many optimizer steps in all (the schedule fits them).
    - ``val_data``: accuracy on it after every epoch (batches of ``eval_batch_size``).
    - ``on_step(step, model, loss)``: called after every step (e.g. to record weights); it
      makes every step wait for the GPU, so leave it out for speed.

    Under ``torchrun`` (a process group initialised by :func:`roiattn.distributed.init`), the
    model is wrapped in ``DistributedDataParallel``, each process trains on its share of every
    epoch, and only rank 0 shows progress and writes checkpoints.
    """
    classes = dataset_classes(train_data)
    _check(
        model,
        train_data,
        classes,
        epochs,
        batch_size,
        lr,
        weight_decay,
        optimizer,
        schedule,
        grad_clip,
        checkpoint_every,
        max_steps,
        num_workers,
    )
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the checkpoint_dir of the run to go on with")
    group = distributed.current()
    device = distributed.device_for(group, resolve_device(device))
    precision = choose_precision(device, amp)
    nhwc = use_channels_last(device, channels_last)
    settings = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "optimizer": optimizer,
        "schedule": schedule,
        "grad_clip": grad_clip,
        "seed": seed,
        "max_steps": max_steps,
        "world_size": group.world_size,
        "train_items": len(train_data),
    }

    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    model.to(device, memory_format=torch.channels_last if nhwc else torch.contiguous_format)
    net: nn.Module = model
    if group.distributed:
        ids = [device.index] if device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay, device)
    per_process = len(epoch_order(train_data, sampler, seed, 0, group))
    steps_per_epoch = per_process // batch_size if per_process >= batch_size else 1
    if per_process == 0:
        raise ValueError(
            f"{len(train_data)} training items cannot be shared among {group.world_size} "
            "processes: use more data or fewer processes"
        )
    total_steps = epochs * steps_per_epoch
    if max_steps is not None:
        total_steps = min(total_steps, max_steps)
    scheduler = make_schedule(schedule, opt, total_steps)
    scaler = torch.amp.GradScaler(device.type, enabled=precision.scale_loss)
    history = History(method=getattr(model, "method", ""), settings=settings)
    meta = {
        "image_size": dataset_image_size(train_data),
        "view": dataset_attribute(train_data, "view"),
        "data": dataset_attribute(train_data, "description"),
    }

    step, epoch, done_in_epoch = 0, 0, 0
    resumed_digest: str | None = None  # the order of the epoch a resumed run stopped in
    running = {"loss": 0.0, "correct": 0.0, "seen": 0, "seconds": 0.0}
    checkpoint = None if checkpoint_dir is None else Path(checkpoint_dir) / CHECKPOINT_NAME
    if resume and checkpoint is not None and checkpoint.exists():
        state = load_checkpoint(checkpoint)
        _restore(state, model, opt, scheduler, scaler, settings, classes)
        step, epoch = state["step"], state["epoch"]
        done_in_epoch = state["training"]["done_in_epoch"]
        running = dict(state["training"]["running"])
        history = History.from_dict(state["history"])
        set_rng_state(state["rng"])
        if done_in_epoch:
            resumed_digest = state["training"]["order_digest"]
        del state

    def save() -> None:
        if checkpoint is None or not group.is_main:
            return
        save_checkpoint(
            checkpoint,
            model,
            optimizer=opt,
            scheduler=scheduler,
            scaler=scaler,
            step=step,
            epoch=epoch,
            history=history.to_dict(),
            classes=classes,
            meta=meta,
            training={
                "settings": settings,
                "done_in_epoch": done_in_epoch,
                "running": dict(running),
                "order_digest": order_digest,
            },
        )

    items = _IndexList()
    loader = DataLoader(
        train_data,
        batch_size=batch_size,
        sampler=items,
        num_workers=num_workers,
        collate_fn=collate_regions,
        pin_memory=device.type == "cuda",
        drop_last=per_process >= batch_size,
        persistent_workers=num_workers > 0,
        generator=torch.Generator(),
    )
    bar = tqdm(
        total=total_steps,
        initial=step,
        desc=history.method or "train",
        unit="step",
        disable=not progress or not group.is_main,
        dynamic_ncols=True,
    )
    pending: list[tuple[Tensor, Tensor, int, float]] = []  # (loss, correct, batch, lr) per step

    def flush() -> None:
        """Read the losses of the steps since the last flush back from the device."""
        if not pending:
            return
        losses = torch.stack([p[0] for p in pending])
        correct = torch.stack([p[1] for p in pending]).float()
        totals = distributed.sum_over_processes(torch.cat([losses, correct]).double())
        n = len(pending)
        losses = (totals[:n] / group.world_size).tolist()
        correct = totals[n:].tolist()
        first = step - n + 1
        for i, (loss, hits, (_, _, size, rate)) in enumerate(
            zip(losses, correct, pending, strict=True)
        ):
            history.step.append(first + i)
            history.loss.append(loss)
            history.lr.append(rate)
            running["loss"] += loss * size * group.world_size
            running["correct"] += hits
            running["seen"] += size * group.world_size
        pending.clear()
        bar.set_postfix(
            epoch=f"{epoch + 1}/{epochs}",
            loss=f"{losses[-1]:.3f}",
            acc=f"{running['correct'] / max(running['seen'], 1):.3f}",
            refresh=False,
        )

    def end_epoch() -> None:
        nonlocal epoch, done_in_epoch
        flush()
        distributed.broadcast_buffers(model)  # every process evaluates and ends with rank 0's
        val_accuracy = None
        if val_data is not None:
            val_accuracy = _accuracy(
                model, val_data, eval_batch_size or batch_size, device, num_workers, amp, nhwc
            )
        seconds = running["seconds"]
        history.epochs.append(
            EpochRecord(
                epoch=epoch,
                steps=done_in_epoch,
                train_loss=running["loss"] / max(running["seen"], 1),
                train_accuracy=running["correct"] / max(running["seen"], 1),
                val_accuracy=val_accuracy,
                seconds=seconds,
                images_per_second=running["seen"] / seconds if seconds > 0 else 0.0,
            )
        )
        if val_accuracy is not None:
            bar.set_postfix(epoch=f"{epoch + 1}/{epochs}", val_acc=f"{val_accuracy:.3f}")
        epoch, done_in_epoch = epoch + 1, 0
        running.update(loss=0.0, correct=0.0, seen=0, seconds=0.0)

    order_digest = None
    try:
        while epoch < epochs and step < total_steps:
            order = epoch_order(train_data, sampler, seed, epoch, group)
            order_digest = _digest(order)
            if resumed_digest is not None:
                if resumed_digest != order_digest:
                    raise CheckpointError(
                        "the sampler gives another order of items than the run being resumed: "
                        "resuming exactly needs a sampler whose order depends only on the seed "
                        "and epoch (set_epoch, its own generator, or the global RNGs)"
                    )
                resumed_digest = None
            items.indices = order[done_in_epoch * batch_size : steps_per_epoch * batch_size]
            loader.generator.manual_seed(_mix(seed, epoch))
            net.train()
            started = time.perf_counter()
            for batch in loader:
                images, masks, labels = to_device(batch, device, nhwc)
                rate = opt.param_groups[0]["lr"]
                loss, correct = train_step(
                    net, images, masks, labels, opt, scaler, precision, grad_clip
                )
                scheduler.step()
                step += 1
                done_in_epoch += 1
                pending.append((loss, correct, len(labels), rate))
                bar.update(1)
                last_step = step >= total_steps or done_in_epoch == steps_per_epoch
                checkpoint_now = checkpoint_every is not None and step % checkpoint_every == 0
                if len(pending) >= LOG_EVERY or on_step is not None or checkpoint_now:
                    flush()
                if checkpoint_now and not last_step:
                    running["seconds"] += time.perf_counter() - started
                    started = time.perf_counter()
                    save()
                if on_step is not None:
                    on_step(step, model, history.loss[-1])
                if step >= total_steps:
                    break
            running["seconds"] += time.perf_counter() - started
            end_epoch()
            order_digest = None
            save()
    finally:
        bar.close()
    return history


def _restore(
    state: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler,
    settings: dict[str, Any],
    classes: list[str],
) -> None:
    """Load a checkpoint's training state into this run, after checking it is the same run."""
    spec = model_spec(model)
    theirs = {k: state.get(k) for k in ("method", "arch", "num_classes")}
    ours = {k: spec[k] for k in theirs}
    if theirs != ours:
        raise CheckpointError(
            f"the checkpoint is of a {theirs} model, this run trains {ours}: use another "
            "checkpoint_dir, or resume=False to start afresh"
        )
    if "training" not in state or "optimizer" not in state:
        raise CheckpointError("the checkpoint holds a model only, not a run to resume")
    saved = state["training"]["settings"]
    changed = {k: (saved.get(k), v) for k, v in settings.items() if saved.get(k) != v}
    if changed:
        detail = ", ".join(f"{k}: {a!r} then, {b!r} now" for k, (a, b) in changed.items())
        raise CheckpointError(
            f"cannot resume exactly with other settings ({detail}): use the same settings, or "
            "another checkpoint_dir (or resume=False) to start afresh"
        )
    if state.get("classes") is not None and list(state["classes"]) != classes:
        raise CheckpointError("the checkpoint was trained on other classes than this data")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])


def _accuracy(
    model: nn.Module,
    data: Dataset,
    batch_size: int,
    device: torch.device,
    num_workers: int,
    amp: bool | None,
    channels_last: bool,
) -> float:
    """Top-1 accuracy on ``data``; under DDP each process takes every world_size-th item and
    the counts are summed, so the result is exact and the same on every process."""
    group = distributed.current()
    share = Subset(data, range(group.rank, len(data), group.world_size))
    counts = torch.zeros(2, dtype=torch.float64)
    if len(share):
        out = predict_all(
            model,
            share,
            batch_size=batch_size,
            device=device,
            num_workers=num_workers,
            amp=amp,
            channels_last=channels_last,
            progress=False,
        )
        counts += torch.tensor([(out["labels"] == out["predictions"]).sum(), len(share)])
    counts = distributed.sum_over_processes(counts)
    return float(counts[0] / counts[1])
