"""Evaluation by segment size: the paper's claim is about small regions, so every number is also
given per size bin.

Two binnings: the paper's (the author's ``EvaluateAccuracy.py``: areas below 1000, 2000, 4000,
..., 256000, 500000 native pixels, and a last bin of 500000 and up; note the doubling stops at
500000, not 512000) and COCO's small / medium / large (32² and 96² px). A dataset whose images
are small (``ContextShapes``) may bring its own edges as ``size_bins``.

Accuracy is top-1, both over instances and averaged over classes ("mean class accuracy", over
the classes present, as the author's code does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from roiattn.runtime import (
    choose_precision,
    collate_regions,
    dataset_attribute,
    dataset_classes,
    describe_data,
    resolve_device,
    to_device,
    use_channels_last,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAPER_EDGES: tuple[float, ...] = (
    1000,
    2000,
    4000,
    8000,
    16000,
    32000,
    64000,
    128000,
    256000,
    500000,
)
COCO_EDGES: tuple[float, ...] = (32**2, 96**2)


def _short(area: float) -> str:
    if area >= 1000 and area % 1000 == 0:
        return f"{int(area // 1000)}k"
    return f"{area:g}"


@dataclass(frozen=True)
class SizeBins:
    """Area bins given by ascending upper edges: bin 0 is ``area < edges[0]``, bin i is
    ``edges[i-1] <= area < edges[i]``, and the last bin, ``area >= edges[-1]``, is open."""

    name: str
    edges: tuple[float, ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        edges = self.edges
        if not edges or any(not math.isfinite(e) or e <= 0 for e in edges):
            raise ValueError(f"size bin edges must be positive finite numbers, got {edges!r}")
        if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise ValueError(f"size bin edges must be strictly ascending, got {edges!r}")
        if len(self.labels) != len(edges) + 1:
            raise ValueError(f"{len(edges)} edges make {len(edges) + 1} bins, not {self.labels}")

    @classmethod
    def from_edges(cls, name: str, edges: Sequence[float]) -> SizeBins:
        """Bins from upper edges, labelled like ``<1k``, ``1k-2k``, ..., ``>=500k``."""
        try:
            edges = tuple(float(e) for e in edges)
        except (TypeError, ValueError):
            raise ValueError(
                f"size bins must be a sequence of upper edges (numbers), got {edges!r}"
            ) from None
        if not edges:
            raise ValueError("size bins need at least one edge")
        labels = [f"<{_short(edges[0])}"]
        labels += [f"{_short(a)}-{_short(b)}" for a, b in zip(edges, edges[1:], strict=False)]
        labels.append(f">={_short(edges[-1])}")
        return cls(name, edges, tuple(labels))

    def assign(self, areas: np.ndarray | Sequence[float]) -> np.ndarray:
        """The bin index of each area."""
        return np.searchsorted(np.asarray(self.edges), np.asarray(areas, float), side="right")

    def bounds(self, index: int) -> tuple[float, float | None]:
        """``(low, high)`` of a bin; ``high`` is None for the open last bin."""
        low = 0.0 if index == 0 else self.edges[index - 1]
        return low, (self.edges[index] if index < len(self.edges) else None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "edges": list(self.edges), "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SizeBins:
        return cls(data["name"], tuple(data["edges"]), tuple(data["labels"]))


PAPER_BINS = SizeBins.from_edges("paper", PAPER_EDGES)
COCO_BINS = SizeBins("coco", COCO_EDGES, ("small", "medium", "large"))


def size_bins(spec: str | Sequence[float] | SizeBins | None, name: str = "custom") -> SizeBins:
    """Bins from ``"paper"``, ``"coco"``, a :class:`SizeBins`, or a sequence of upper edges."""
    if spec is None or spec == "paper":
        return PAPER_BINS
    if spec == "coco":
        return COCO_BINS
    if isinstance(spec, SizeBins):
        return spec
    if isinstance(spec, str):
        raise ValueError(
            f"unknown size bins {spec!r}: use 'paper', 'coco' or a list of upper edges in pixels"
        )
    return SizeBins.from_edges(name, spec)


def schemes_for(data: Dataset | None, bins: Any) -> list[SizeBins]:
    """The primary binning (asked for, else the dataset's own ``size_bins`` with its
    ``size_bin_names`` if any, else the paper's), then COCO's."""
    if bins is None and data is not None:
        own = dataset_attribute(data, "size_bins")
        primary = size_bins(own, "dataset") if own is not None else PAPER_BINS
        names = dataset_attribute(data, "size_bin_names")
        if own is not None and not isinstance(own, SizeBins) and names is not None:
            names = tuple(str(n) for n in names)
            if len(names) == len(primary.labels):
                primary = SizeBins("dataset", primary.edges, names)
    else:
        primary = size_bins(bins)
    return [primary] if primary.name == "coco" else [primary, COCO_BINS]


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
        top5_correct: Sequence[bool] | np.ndarray | None = None,
        method: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        self.labels = np.asarray(labels, dtype=np.int64)
        self.predictions = np.asarray(predictions, dtype=np.int64)
        self.areas = np.asarray(areas, dtype=np.float64)
        self.classes = [str(c) for c in classes]
        n, num_classes = len(self.labels), len(self.classes)
        if n == 0:
            raise ValueError("cannot report on no instances: the dataset is empty")
        if len(self.predictions) != n or len(self.areas) != n:
            raise ValueError(
                f"labels ({n}), predictions ({len(self.predictions)}) and areas "
                f"({len(self.areas)}) must have one entry per instance"
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
                            "label": row.label,
                            "low": row.low,
                            "high": row.high,
                            "count": row.count,
                            "accuracy": _nan_to_none(row.accuracy),
                            "mean_class_accuracy": _nan_to_none(row.mean_class_accuracy),
                            "classes_present": row.classes_present,
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


def predict_all(
    model: nn.Module,
    data: Dataset,
    *,
    batch_size: int = 64,
    device: str | torch.device = "auto",
    num_workers: int = 0,
    amp: bool | None = None,
    channels_last: bool | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Labels, top-1 predictions, top-5 hits and areas of every item, in batches, without
    gradients, in mixed precision on a GPU. The model is left on ``device`` in its own mode."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = resolve_device(device)
    precision = choose_precision(device, amp)
    nhwc = use_channels_last(device, channels_last)
    was_training = model.training
    model.to(device, memory_format=torch.channels_last if nhwc else torch.contiguous_format)
    model.eval()
    loader = DataLoader(
        data,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_regions,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(0),  # never draws from the global RNG
    )
    labels, predictions, top5, areas = [], [], [], []
    try:
        # the model was moved above, outside inference mode: its weights stay trainable
        for batch in tqdm(loader, desc="evaluate", unit="batch", disable=not progress):
            images, masks, target = to_device(batch, device, nhwc)
            with torch.inference_mode(), precision.autocast(device):
                logits = model(images, masks)
            k = min(5, logits.shape[1])
            best = logits.float().topk(k, dim=1).indices
            labels.append(batch["label"])
            predictions.append(best[:, 0].cpu())
            top5.append((best == target[:, None]).any(1).cpu())
            areas.append(batch["area"])
    finally:
        model.train(was_training)
    if not labels:
        raise ValueError("the dataset to evaluate on is empty")
    return {
        "labels": torch.cat(labels).numpy(),
        "predictions": torch.cat(predictions).numpy(),
        "top5_correct": torch.cat(top5).numpy(),
        "areas": torch.cat(areas).numpy(),
    }


def evaluate(
    model: nn.Module,
    data: Dataset,
    *,
    batch_size: int = 64,
    device: str | torch.device = "auto",
    bins: str | Sequence[float] | SizeBins | None = None,
    num_workers: int = 0,
    amp: bool | None = None,
    channels_last: bool | None = None,
    classes: Sequence[str] | None = None,
    progress: bool = True,
) -> Report:
    """Evaluate ``model`` on every item of ``data`` and report accuracy overall, per class and
    per size bin.

    ``bins``: ``None`` for the dataset's own ``size_bins`` if it has them, else the paper's;
    or ``"paper"``, ``"coco"``, a :class:`SizeBins`, or a list of upper edges. COCO's
    small/medium/large are always reported beside them.
    """
    classes = list(classes) if classes is not None else dataset_classes(data)
    num_classes = getattr(model, "num_classes", None)
    if num_classes is not None and num_classes != len(classes):
        raise ValueError(
            f"the model has {num_classes} outputs but the data has {len(classes)} classes: "
            "evaluate on the classes it was trained on"
        )
    schemes = schemes_for(data, bins)
    out = predict_all(
        model,
        data,
        batch_size=batch_size,
        device=device,
        num_workers=num_workers,
        amp=amp,
        channels_last=channels_last,
        progress=progress,
    )
    return Report(
        out["labels"],
        out["predictions"],
        out["areas"],
        classes,
        schemes,
        top5_correct=out["top5_correct"],
        method=getattr(model, "method", ""),
        data=describe_data(data),
    )
