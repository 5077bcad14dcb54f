"""Training: the loop a chapter shows (:func:`train_step`, :func:`train_one_epoch`), the run
composed of them (:func:`fit`), its settings as one value (:class:`TrainSettings`), its state as
one value that checkpoints save and restore (:class:`TrainState`), and what it did
(:class:`History`)."""

from roiattn.checkpoints import load_checkpoint, save_checkpoint
from roiattn.train.fit import fit, validation_accuracy
from roiattn.train.history import EpochRecord, History
from roiattn.train.settings import OPTIMIZERS, SCHEDULES, TrainSettings
from roiattn.train.state import TrainState
from roiattn.train.steps import (
    epoch_order,
    make_optimizer,
    make_schedule,
    train_one_epoch,
    train_step,
)

__all__ = [
    "EpochRecord",
    "History",
    "OPTIMIZERS",
    "SCHEDULES",
    "TrainSettings",
    "TrainState",
    "epoch_order",
    "fit",
    "load_checkpoint",
    "make_optimizer",
    "make_schedule",
    "save_checkpoint",
    "train_one_epoch",
    "train_step",
    "validation_accuracy",
]
