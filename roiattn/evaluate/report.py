"""Report: top-1 accuracy of one model on one dataset, overall, per class and per size bin.

Accuracy is top-1, both over instances and averaged over classes ("mean class accuracy", over
the classes present, as the author's code does). A report keeps the raw predictions and the
image each instance comes from, so any binning, baseline or bootstrap can be computed again
later, and ``to_dict`` / ``from_dict`` round-trip exactly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from roiattn.data.bins import COCO_BINS, PAPER_BINS, SizeBins

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class BinRow:
    """One size bin: its range, how many instances fall in it, and the accuracies there."""

    label: str
    low: float
    high: float | None
    count: int
    accuracy: float  # NaN for an empty bin
    mean_class_accuracy: float
    classes_present: int


def _nan_to_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _accuracies(
    labels: np.ndarray, correct: np.ndarray, num_classes: int
) -> tuple[float, float, int]:
    """(instance accuracy, mean class accuracy, classes present) of a group of instances."""
    if len(labels) == 0:
        return math.nan, math.nan, 0
    counts = np.bincount(labels, minlength=num_classes)
    hits = np.bincount(labels, weights=correct, minlength=num_classes)
    present = counts > 0
    mean_class = float((hits[present] / counts[present]).mean())
    return float(correct.mean()), mean_class, int(present.sum())


class Report:
    """Top-1 accuracy of one model on one dataset: overall, per class, per size bin, and the
    confusion matrix. Built from the raw predictions, which it keeps, so any binning can be
    computed again later (and ``to_dict`` / ``from_dict`` round-trip exactly)."""

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray,
        predictions: Sequence[int] | np.ndarray,
        areas: Sequence[float] | np.ndarray,
        classes: Sequence[str],
        schemes: Sequence[SizeBins] = (PAPER_BINS, COCO_BINS),
        *,
        image_ids: Sequence[int] | np.ndarray | None = None,
        top5_correct: Sequence[bool] | np.ndarray | None = None,
        method: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        self.labels = np.asarray(labels, dtype=np.int64)
        self.predictions = np.asarray(predictions, dtype=np.int64)
        self.areas = np.asarray(areas, dtype=np.float64)
        # the image of each instance: the unit a bootstrap resamples (each its own by default)
        self.image_ids = (
            np.arange(len(self.labels))
            if image_ids is None
            else np.asarray(image_ids, dtype=np.int64)
        )
        self.classes = [str(c) for c in classes]
        n, num_classes = len(self.labels), len(self.classes)
        if n == 0:
            raise ValueError("cannot report on no instances: the dataset is empty")
        if len(self.predictions) != n or len(self.areas) != n or len(self.image_ids) != n:
            raise ValueError(
                f"labels ({n}), predictions ({len(self.predictions)}), areas "
                f"({len(self.areas)}) and image_ids ({len(self.image_ids)}) must have one entry "
                "per instance"
            )
        for name, values in (("labels", self.labels), ("predictions", self.predictions)):
            if values.min() < 0 or values.max() >= num_classes:
                raise ValueError(
                    f"{name} must lie in [0, {num_classes}) for {num_classes} classes, got "
                    f"[{values.min()}, {values.max()}]"
                )
        if not schemes:
            raise ValueError("give at least one size binning")
        self.schemes = {scheme.name: scheme for scheme in schemes}
        self.top5_correct = None if top5_correct is None else np.asarray(top5_correct, bool)
        self.method = method
        self.data = dict(data or {})
        self.correct = (self.labels == self.predictions).astype(np.float64)

    # -- overall and per class ----------------------------------------------------------------
    @property
    def count(self) -> int:
        return len(self.labels)

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy over instances."""
        return float(self.correct.mean())

    @property
    def mean_class_accuracy(self) -> float:
        """Top-1 accuracy averaged over the classes that have instances here."""
        return _accuracies(self.labels, self.correct, len(self.classes))[1]

    @property
    def top5_accuracy(self) -> float | None:
        return None if self.top5_correct is None else float(self.top5_correct.mean())

    @property
    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return dict(zip(self.classes, counts.tolist(), strict=True))

    @property
    def per_class_accuracy(self) -> dict[str, float]:
        """Accuracy of each class (NaN for a class with no instance here)."""
        counts = np.bincount(self.labels, minlength=len(self.classes))
        hits = np.bincount(self.labels, weights=self.correct, minlength=len(self.classes))
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
        return dict(zip(self.classes, accuracy.tolist(), strict=True))

    @property
    def confusion(self) -> np.ndarray:
        """``confusion[true, predicted]``: instance counts, classes in label order."""
        k = len(self.classes)
        flat = np.bincount(self.labels * k + self.predictions, minlength=k * k)
        return flat.reshape(k, k)

    # -- per size bin -------------------------------------------------------------------------
    @property
    def primary(self) -> str:
        """The name of the main binning (the paper's, or the dataset's own)."""
        return next(iter(self.schemes))

    def by_size(self, scheme: str | None = None) -> list[BinRow]:
        """One row per size bin of ``scheme`` (default: the primary binning)."""
        bins = self.schemes[self._scheme(scheme)]
        index = bins.assign(self.areas)
        rows = []
        for i, label in enumerate(bins.labels):
            inside = index == i
            accuracy, mean_class, present = _accuracies(
                self.labels[inside], self.correct[inside], len(self.classes)
            )
            low, high = bins.bounds(i)
            rows.append(BinRow(label, low, high, int(inside.sum()), accuracy, mean_class, present))
        return rows

    def in_bin(self, index: int, scheme: str | None = None) -> np.ndarray:
        """Which instances fall in size bin ``index`` of ``scheme`` (-1 for the last bin): a
        boolean mask, to restrict a gap or a contrast to the small or the large regions."""
        bins = self.schemes[self._scheme(scheme)]
        return bins.assign(self.areas) == range(len(bins.labels))[index]

    def _scheme(self, scheme: str | None) -> str:
        if scheme is None:
            return self.primary
        if scheme not in self.schemes:
            raise ValueError(f"no size binning {scheme!r} in this report: {list(self.schemes)}")
        return scheme

    # -- output -------------------------------------------------------------------------------
    def to_markdown(self, per_class: bool = False) -> str:
        """The numbers as Markdown tables: a summary line, then one table per binning."""
        title = f"**{self.method}**: " if self.method else ""
        lines = [
            f"{title}top-1 {self.accuracy:.1%}, mean class {self.mean_class_accuracy:.1%}"
            + (f", top-5 {self.top5_accuracy:.1%}" if self.top5_correct is not None else "")
            + f" over {self.count} instances, {len(self.classes)} classes",
        ]
        for name in self.schemes:
            lines += [
                "",
                f"| size ({name}) | instances | accuracy | mean class |",
                "| --- | ---: | ---: | ---: |",
            ]
            for row in self.by_size(name):
                lines.append(
                    f"| {row.label} | {row.count} | {_percent(row.accuracy)} "
                    f"| {_percent(row.mean_class_accuracy)} |"
                )
        if per_class:
            lines += ["", "| class | instances | accuracy |", "| --- | ---: | ---: |"]
            counts = self.class_counts
            for name, accuracy in self.per_class_accuracy.items():
                lines.append(f"| {name} | {counts[name]} | {_percent(accuracy)} |")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Report({self.method or 'model'}: top-1 {self.accuracy:.3f}, mean class "
            f"{self.mean_class_accuracy:.3f}, {self.count} instances)"
        )

    def to_dict(self) -> dict[str, Any]:
        """Every number, JSON-able (NaN becomes null), plus the raw predictions."""
        per_class = self.per_class_accuracy
        counts = self.class_counts
        return {
            "kind": "roiattn.report",
            "method": self.method,
            "data": self.data,
            "count": self.count,
            "accuracy": self.accuracy,
            "mean_class_accuracy": self.mean_class_accuracy,
            "top5_accuracy": self.top5_accuracy,
            "classes": self.classes,
            "per_class": {
                name: {"count": counts[name], "accuracy": _nan_to_none(per_class[name])}
                for name in self.classes
            },
            "size_bins": {
                name: {
                    **self.schemes[name].to_dict(),
                    "rows": [
                        {
                            **dataclasses.asdict(row),  # its fields in order, NaN as null
                            "accuracy": _nan_to_none(row.accuracy),
                            "mean_class_accuracy": _nan_to_none(row.mean_class_accuracy),
                        }
                        for row in self.by_size(name)
                    ],
                }
                for name in self.schemes
            },
            "confusion": self.confusion.tolist(),
            "items": {
                "labels": self.labels.tolist(),
                "predictions": self.predictions.tolist(),
                "areas": self.areas.tolist(),
                "image_ids": self.image_ids.tolist(),
                "top5_correct": None
                if self.top5_correct is None
                else self.top5_correct.astype(int).tolist(),
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The report :meth:`to_dict` wrote."""
        if data.get("kind") != "roiattn.report":
            raise ValueError("not a roiattn report (its 'kind' is not 'roiattn.report')")
        items = data["items"]
        return cls(
            items["labels"],
            items["predictions"],
            items["areas"],
            data["classes"],
            [SizeBins.from_dict(b) for b in data["size_bins"].values()],
            image_ids=items.get("image_ids"),
            top5_correct=items.get("top5_correct"),
            method=data.get("method", ""),
            data=data.get("data"),
        )

    def plot(self, scheme: str | None = None) -> Figure:
        """Accuracy per size bin (instances and mean class, with counts) beside the
        row-normalised confusion matrix; returns the matplotlib figure."""
        import matplotlib.pyplot as plt

        rows = self.by_size(scheme)
        figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), width_ratios=(1.6, 1))
        x = np.arange(len(rows))
        left.bar(x - 0.2, [r.accuracy for r in rows], 0.4, label="accuracy (instances)")
        left.bar(x + 0.2, [r.mean_class_accuracy for r in rows], 0.4, label="mean class")
        for i, row in enumerate(rows):
            left.annotate(f"n={row.count}", (i, 1.01), ha="center", fontsize=7)
        left.set_xticks(x, [r.label for r in rows], rotation=45, ha="right")
        left.set_ylim(0, 1.08)
        left.set_xlabel(f"segment area, native pixels ({self._scheme(scheme)} bins)")
        left.set_ylabel("top-1 accuracy")
        left.legend(loc="lower right", fontsize=8)
        left.set_title(f"{self.method or 'model'}: accuracy by segment size")
        confusion = self.confusion.astype(float)
        confusion /= np.maximum(confusion.sum(1, keepdims=True), 1)
        image = right.imshow(confusion, cmap="viridis", vmin=0, vmax=1)
        if len(self.classes) <= 20:
            ticks = np.arange(len(self.classes))
            right.set_xticks(ticks, self.classes, rotation=90, fontsize=7)
            right.set_yticks(ticks, self.classes, fontsize=7)
        right.set_xlabel("predicted")
        right.set_ylabel("true")
        right.set_title("confusion (rows sum to 1)")
        figure.colorbar(image, ax=right, fraction=0.046)
        figure.tight_layout()
        return figure


def _percent(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1%}"
