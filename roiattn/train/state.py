"""TrainState: everything a training run changes as it goes, as one value that a checkpoint saves
and a resumed run restores.

The model, the optimizer, the schedule and the loss scaler; the step, the epoch and how far into
it; the running sums of the epoch; the history. A run resumed from a checkpoint is a state
loaded from it, and the loop then goes on as if it had never stopped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Sampler

from roiattn.checkpoints import model_spec
from roiattn.data.regions import RegionDataset
from roiattn.distributed import Group
from roiattn.errors import CheckpointError
from roiattn.runtime import Precision, choose_precision, use_channels_last
from roiattn.train.history import EpochRecord, History
from roiattn.train.settings import TrainSettings
from roiattn.train.steps import epoch_order, make_optimizer, make_schedule

LOG_EVERY = 10  # steps between reading the loss back from the GPU (each read waits for it)
# settings that do not change the weights a run ends with, so a run may resume with others
FREE_SETTINGS: tuple[str, ...] = ("num_workers", "eval_batch_size")


@dataclass
class EpochTally:
    """Running sums over the steps of the current epoch, and the steps not yet read back."""

    loss: float = 0.0
    correct: float = 0.0
    seen: int = 0
    seconds: float = 0.0
    pending: list[tuple[Tensor, Tensor, int, float]] = field(default_factory=list)

    def sums(self) -> dict[str, float]:
        return {"loss": self.loss, "correct": self.correct, "seen": self.seen,
                "seconds": self.seconds}  # fmt: skip


def _digest(order: list[int]) -> str:
    return hashlib.sha256(np.asarray(order, dtype=np.int64).tobytes()).hexdigest()[:16]


class TrainState:
    """A run of :func:`~roiattn.train.fit` at one moment (see the module docstring)."""

    def __init__(
        self,
        model: nn.Module,
        data: RegionDataset,
        sampler: Sampler | None,
        settings: TrainSettings,
        device: torch.device,
        group: Group,
    ) -> None:
        self.model, self.data, self.sampler = model, data, sampler
        self.settings, self.device, self.group = settings, device, group
        self.precision: Precision = choose_precision(device, settings.amp)
        self.channels_last = use_channels_last(device, settings.channels_last)
        per_process = len(group.share(epoch_order(data, sampler, settings.seed, 0)))
        if per_process == 0:
            raise ValueError(
                f"{len(data)} training items cannot be shared among {group.world_size} "
                "processes: use more data or fewer processes"
            )
        # a last incomplete batch is dropped (BatchNorm needs more than one item), unless the
        # epoch is shorter than one batch
        self.steps_per_epoch = max(1, per_process // settings.batch_size)
        self.total_steps = settings.epochs * self.steps_per_epoch
        if settings.max_steps is not None:
            self.total_steps = min(self.total_steps, settings.max_steps)
        self.optimizer = make_optimizer(model, settings, device)
        self.scheduler = make_schedule(self.optimizer, settings, self.total_steps)
        self.scaler = torch.amp.GradScaler(device.type) if self.precision.scale_loss else None
        self.step = self.epoch = self.done_in_epoch = 0
        self.tally = EpochTally()
        self.history = History(method=getattr(model, "method", ""), settings=self.identity())
        self._resumed_digest: str | None = None
        self._order_digest: str | None = None

    @property
    def done(self) -> bool:
        return self.epoch >= self.settings.epochs or self.step >= self.total_steps

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same run: the settings that change the weights, how many
        processes share it, and how many items it trains on."""
        kept = {k: v for k, v in self.settings.to_dict().items() if k not in FREE_SETTINGS}
        return {**kept, "world_size": self.group.world_size, "train_items": len(self.data)}

    # -- the steps of an epoch ----------------------------------------------------------------
    def epoch_items(self) -> list[int]:
        """This process's items for the rest of the current epoch."""
        order = self.group.share(
            epoch_order(self.data, self.sampler, self.settings.seed, self.epoch)
        )
        self._order_digest = _digest(order)
        if self._resumed_digest is not None and self._resumed_digest != self._order_digest:
            raise CheckpointError(
                "the sampler gives another order of items than the run being resumed: "
                "resuming exactly needs a sampler whose order depends only on the seed "
                "and epoch (set_epoch, its own generator, or the global RNGs)"
            )
        self._resumed_digest = None
        size = self.settings.batch_size
        return order[self.done_in_epoch * size : self.steps_per_epoch * size]

    def count_step(self, loss: Tensor, correct: Tensor, size: int, rate: float) -> None:
        self.step += 1
        self.done_in_epoch += 1
        self.tally.pending.append((loss, correct, size, rate))

    def flush(self, force: bool = False) -> None:
        """Read the losses of the steps since the last flush back from the device (every
        ``LOG_EVERY`` steps, each read waits for the GPU) into the history."""
        pending = self.tally.pending
        if not pending or (len(pending) < LOG_EVERY and not force):
            return
        losses = torch.stack([p[0] for p in pending])
        correct = torch.stack([p[1] for p in pending]).float()
        totals = self.group.sum(torch.cat([losses, correct]).double())
        n, world = len(pending), self.group.world_size
        first = self.step - n + 1
        for i, (_, _, size, rate) in enumerate(pending):
            loss = float(totals[i]) / world
            self.history.step.append(first + i)
            self.history.loss.append(loss)
            self.history.lr.append(rate)
            self.tally.loss += loss * size * world
            self.tally.correct += float(totals[n + i])
            self.tally.seen += size * world
        pending.clear()

    def end_epoch(self, val_accuracy: float | None) -> EpochRecord:
        self.flush(force=True)
        tally = self.tally
        record = EpochRecord(
            epoch=self.epoch,
            steps=self.done_in_epoch,
            train_loss=tally.loss / max(tally.seen, 1),
            train_accuracy=tally.correct / max(tally.seen, 1),
            val_accuracy=val_accuracy,
            seconds=tally.seconds,
            images_per_second=tally.seen / tally.seconds if tally.seconds > 0 else 0.0,
        )
        self.history.epochs.append(record)
        self.epoch, self.done_in_epoch, self.tally = self.epoch + 1, 0, EpochTally()
        self._order_digest = None
        return record

    # -- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of the run (the model's weights are saved beside it)."""
        self.flush(force=True)
        return {
            "step": self.step,
            "epoch": self.epoch,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "history": self.history.to_dict(),
            "training": {
                "settings": self.identity(),
                "done_in_epoch": self.done_in_epoch,
                "running": self.tally.sums(),
                "order_digest": self._order_digest,
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Go on from a checkpoint of the same run (same model, settings and data)."""
        spec = model_spec(self.model)
        saved_model = {k: state.get(k) for k in ("method", "arch", "num_classes")}
        this_model = {k: spec[k] for k in saved_model}
        if saved_model != this_model:
            raise CheckpointError(
                f"the checkpoint is of a {saved_model} model, this run trains {this_model}: use "
                "another checkpoint_dir, or resume=False to start afresh"
            )
        if "training" not in state or "optimizer" not in state:
            raise CheckpointError("the checkpoint holds a model only, not a run to resume")
        saved = state["training"]["settings"]
        changed = {k: (saved.get(k), v) for k, v in self.identity().items() if saved.get(k) != v}
        if changed:
            detail = ", ".join(f"{k}: {a!r} then, {b!r} now" for k, (a, b) in changed.items())
            raise CheckpointError(
                f"cannot resume exactly with other settings ({detail}): use the same settings, "
                "or another checkpoint_dir (or resume=False) to start afresh"
            )
        if state.get("classes") is not None and list(state["classes"]) != self.data.classes:
            raise CheckpointError("the checkpoint was trained on other classes than this data")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch = state["step"], state["epoch"]
        training = state["training"]
        self.done_in_epoch = training["done_in_epoch"]
        self.tally = EpochTally(**training["running"])
        self.history = History.from_dict(state["history"])
        self._resumed_digest = training["order_digest"] if self.done_in_epoch else None
