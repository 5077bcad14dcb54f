"""TrainSettings: every setting a training run depends on, as one value.

``fit`` takes one, checkpoints save it (a run resumes only with the same settings), results keep
it in their provenance, and each experiment of the book defines its own (``roiattn.experiments``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

OPTIMIZERS: tuple[str, ...] = ("adamw", "adam", "sgd")
SCHEDULES: tuple[str, ...] = ("cosine", "constant")


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


@dataclass(frozen=True)
class TrainSettings:
    """How :func:`~roiattn.train.fit` trains.

    - ``optimizer``: ``adamw`` (default), ``adam`` (the paper's, with lr 1e-5 and weight decay
      1e-5) or ``sgd`` (Nesterov momentum 0.9); ``schedule``: ``cosine`` from ``lr`` to 0 over
      the run (``torch.optim.lr_scheduler.CosineAnnealingLR``) or ``constant`` (the paper's).
    - ``branch_lr_scale``: the learning rate of the parameters that read the mask (the
      attention branches, the mask channel's filter) is ``lr * branch_lr_scale``. 1 is the
      paper's (one rate for everything).
    - ``max_steps``: stop after this many optimizer steps in all (the schedule fits them).
    - ``amp`` and ``channels_last``: ``None`` means on with CUDA, off on the CPU.
    - ``eval_batch_size``: batches of the evaluation after training (and of validation).
    """

    epochs: int = 1
    batch_size: int = 32
    lr: float = 1e-3
    branch_lr_scale: float = 1.0
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    schedule: str = "cosine"
    max_steps: int | None = None
    grad_clip: float | None = None
    seed: int = 0
    amp: bool | None = None
    channels_last: bool | None = None
    num_workers: int = 0
    eval_batch_size: int = 64

    def __post_init__(self) -> None:
        # rates as floats, so that 1 and 1.0 are the same settings in saved results too
        for name in ("lr", "branch_lr_scale", "weight_decay", "grad_clip"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        for name in ("epochs", "batch_size", "eval_batch_size"):
            _positive_int(name, getattr(self, name))
        for name in ("lr", "branch_lr_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {name}={getattr(self, name)}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got weight_decay={self.weight_decay}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}: choose one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}: choose one of {SCHEDULES}")
        if self.max_steps is not None:
            _positive_int("max_steps", self.max_steps)
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0 or None, got {self.grad_clip}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if isinstance(self.num_workers, bool) or not isinstance(self.num_workers, int):
            raise ValueError(f"num_workers must be an int >= 0, got {self.num_workers!r}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be an int >= 0, got {self.num_workers}")

    def evaluation(self) -> dict[str, Any]:
        """How a model trained with these settings is evaluated: the keyword arguments of
        :func:`~roiattn.evaluate.evaluate` (batches, loader workers, precision, memory layout)."""
        return {
            "batch_size": self.eval_batch_size,
            "num_workers": self.num_workers,
            "amp": self.amp,
            "channels_last": self.channels_last,
        }

    def replace(self, **changes: Any) -> TrainSettings:
        """A copy with some settings changed, checked like the original."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown training settings {unknown}: choose from {sorted(known)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """One line: what a run with these settings does."""
        steps = f" (at most {self.max_steps} steps)" if self.max_steps else ""
        branch = f", mask branch x{self.branch_lr_scale:g}" if self.branch_lr_scale != 1 else ""
        return (
            f"{self.epochs} epochs{steps} of batch {self.batch_size}, {self.optimizer} lr "
            f"{self.lr:g}{branch} wd {self.weight_decay:g} {self.schedule}"
        )
