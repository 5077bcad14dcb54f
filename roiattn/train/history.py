"""What a training run did: the loss and learning rate of every step, a record per epoch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
