"""How far a difference between two methods can be trusted: a paired bootstrap that resamples
images, baselines, and verdicts with an equivalence margin.

**The unit of resampling is the image.** The regions of one image share its light, its scene and
its photographer; resampling regions as if they were independent makes intervals too narrow.
Each bootstrap draw takes as many images as the test set has, with replacement, and every region
of a drawn image comes along. **Paired**: both methods are scored on the same draw, so what both
get right or both get wrong adds no noise. **Seeds**: given several training seeds of each
method, the statistic is the mean over seeds of the difference (same draws for every seed).

It is computed from counts per image (hits and instances, per class for the mean-class metric),
``chunk`` draws at a time, so its memory does not grow with the number of draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from roiattn.evaluate.report import Report

METRICS: tuple[str, ...] = ("mean_class", "accuracy")


@dataclass(frozen=True)
class Gap:
    """Metric of method ``a`` minus method ``b`` on the same test instances of one size bin, with
    a paired image-bootstrap interval (``low``, ``high``; NaN when the bin is empty).

    ``a``, ``b`` and ``difference`` are means over seeds; ``per_seed`` holds each seed's
    difference."""

    label: str
    count: int
    images: int
    a: float
    b: float
    difference: float
    low: float
    high: float
    per_seed: tuple[float, ...] = ()

    @property
    def sign(self) -> int:
        """+1 when the whole interval is above 0, -1 when below, 0 when it holds 0."""
        if math.isnan(self.difference):
            return 0
        return 1 if self.low > 0 else -1 if self.high < 0 else 0

    def within(self, margin: float) -> bool:
        """Whether the whole interval lies inside ``(-margin, +margin)``: equivalent within it."""
        return not math.isnan(self.difference) and -margin < self.low and self.high < margin

    @property
    def seeds_agree(self) -> bool:
        """Whether every seed's difference has the sign of the interval (or there is one)."""
        return all(np.sign(d) == self.sign for d in self.per_seed)

    def __str__(self) -> str:
        if math.isnan(self.difference):
            return "–"
        return f"{100 * self.difference:+.1f} [{100 * self.low:+.1f}, {100 * self.high:+.1f}]"


def _metric(hits: np.ndarray, counts: np.ndarray, metric: str) -> np.ndarray:
    """The metric from (weighted) hits and counts: over instances, or the mean over the classes
    present of the per-class accuracy. Works on one draw or a stack of draws (NaN for a draw
    with no instance)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "accuracy":
            return hits / counts
        per_class = hits / counts
        present = counts > 0
        return np.where(present, per_class, 0).sum(-1) / present.sum(-1)


class _Paired:
    """Per-image sums of two methods' hits and of the instances, restricted to the instances
    ``inside``: everything a draw of images needs. Hits are summed over seeds and divided by
    the number of seeds only at the end, so the arithmetic is exact whatever the chunk size."""

    def __init__(self, a: list[Report], b: list[Report], inside: np.ndarray, metric: str) -> None:
        first = a[0]
        for report in a + b:
            if not (
                np.array_equal(report.labels, first.labels)
                and np.array_equal(report.image_ids, first.image_ids)
                and report.classes == first.classes
            ):
                raise ValueError(
                    "the reports are not on the same test instances: compare methods of one "
                    "comparison (same test data, same order)"
                )
        self.metric, self.inside = metric, inside
        self.image_ids, index = np.unique(first.image_ids, return_inverse=True)
        images, classes = len(self.image_ids), len(first.classes)
        cell = index if metric == "accuracy" else index * classes + first.labels
        shape = (images,) if metric == "accuracy" else (images, classes)

        def sums(values: np.ndarray) -> np.ndarray:
            weights = np.where(inside, values, 0.0)
            return np.bincount(cell, weights=weights, minlength=int(np.prod(shape))).reshape(shape)

        self.seeds_a = [sums(r.correct) for r in a]
        self.seeds_b = [sums(r.correct) for r in b]
        self.hits_a, self.hits_b = np.sum(self.seeds_a, 0), np.sum(self.seeds_b, 0)
        self.runs_a, self.runs_b = len(a), len(b)
        self.counts = sums(np.ones(first.count))

    @property
    def images_inside(self) -> np.ndarray:
        """Which test images hold at least one selected instance."""
        return self.counts.reshape(len(self.image_ids), -1).sum(1) > 0

    def value(self, hits: np.ndarray, runs: int = 1) -> float:
        """The metric of summed ``hits`` over ``runs`` seeds, on every selected instance."""
        return float(_metric(hits.sum(0) / runs, self.counts.sum(0), self.metric))

    @property
    def gap(self) -> float:
        return self.value(self.hits_a, self.runs_a) - self.value(self.hits_b, self.runs_b)

    def differences(self, draws: np.ndarray) -> np.ndarray:
        """The difference of the metric on each draw (a row of image counts)."""
        counts = np.tensordot(draws, self.counts, axes=1)
        hits_a = np.tensordot(draws, self.hits_a, axes=1) / self.runs_a
        hits_b = np.tensordot(draws, self.hits_b, axes=1) / self.runs_b
        return _metric(hits_a, counts, self.metric) - _metric(hits_b, counts, self.metric)


@dataclass(frozen=True)
class _Resampling:
    """How an interval is drawn: the metric, the interval's level, how many bootstrap draws
    from which seed, and how many draws are held in memory at once."""

    metric: str = "mean_class"
    level: float = 0.95
    resamples: int = 2000
    seed: int = 0
    chunk: int = 250

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}")
        if not 0 < self.level < 1:
            raise ValueError(f"level must lie in (0, 1), got {self.level}")

    def interval(
        self, images: int, differences: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[float, float]:
        """The central ``level`` interval of ``differences(draws)`` over bootstrap draws of the
        test set's images: each row of ``draws`` counts how often each image was drawn (as many
        draws as images, with replacement)."""
        rng = np.random.default_rng(self.seed)
        values = []
        for start in range(0, self.resamples, self.chunk):
            size = min(self.chunk, self.resamples - start)
            values.append(differences(rng.multinomial(images, np.full(images, 1 / images), size)))
        tail = (1 - self.level) / 2
        low, high = np.nanquantile(np.concatenate(values), [tail, 1 - tail])
        return float(low), float(high)


def _pair(
    a: Sequence[Report] | Report,
    b: Sequence[Report] | Report,
    inside: np.ndarray | None,
    metric: str,
) -> _Paired:
    """``a`` and ``b`` (a report, or one per seed) on the instances ``inside`` selects (all)."""
    a = [a] if isinstance(a, Report) else list(a)
    b = [b] if isinstance(b, Report) else list(b)
    inside = np.ones(a[0].count, dtype=bool) if inside is None else np.asarray(inside, bool)
    return _Paired(a, b, inside, metric)


def paired_gap(
    a: Sequence[Report] | Report,
    b: Sequence[Report] | Report,
    inside: np.ndarray | None = None,
    *,
    label: str = "overall",
    metric: str = "mean_class",
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    chunk: int = 250,
) -> Gap:
    """Method ``a`` minus method ``b`` on the instances ``inside`` selects (all by default), as
    a :class:`Gap` whose interval resamples the test set's images (module docstring). ``a`` and
    ``b`` are one report each, or one per training seed (the same test instances throughout).
    The same ``seed`` gives the same draws for every bin and every pair; ``chunk`` draws are
    held in memory at once."""
    resampling = _Resampling(metric, level, resamples, seed, chunk)
    paired = _pair(a, b, inside, metric)
    n = int(paired.inside.sum())
    if n == 0:
        return Gap(label, 0, 0, *([math.nan] * 5))
    low, high = resampling.interval(len(paired.image_ids), paired.differences)
    value_a = paired.value(paired.hits_a, paired.runs_a)
    value_b = paired.value(paired.hits_b, paired.runs_b)
    per_seed: tuple[float, ...] = ()
    if paired.runs_a == paired.runs_b > 1:
        pairs = zip(paired.seeds_a, paired.seeds_b, strict=True)
        per_seed = tuple(paired.value(x) - paired.value(y) for x, y in pairs)
    images = int(paired.images_inside.sum())
    return Gap(label, n, images, value_a, value_b, value_a - value_b, low, high, per_seed)


def gap_contrast(
    a: Sequence[Report] | Report,
    b: Sequence[Report] | Report,
    first: np.ndarray,
    second: np.ndarray,
    **options: Any,
) -> Gap:
    """How much larger the gap ``a - b`` is on the instances ``first`` selects than on those
    ``second`` selects (e.g. small against large regions): :func:`paired_contrast` of the two
    selections, with its options (``label``, ``metric``, ``level``, ``resamples``, ``seed``)."""
    return paired_contrast((a, b, first), (a, b, second), **options)


def paired_contrast(
    one: tuple[Sequence[Report] | Report, Sequence[Report] | Report, np.ndarray | None],
    two: tuple[Sequence[Report] | Report, Sequence[Report] | Report, np.ndarray | None],
    *,
    label: str = "contrast",
    **options: Any,
) -> Gap:
    """A difference of two gaps on the same test set, each ``(a, b, inside)``: ``a - b`` on the
    instances ``inside`` selects (None: all). E.g. the gap on small minus the gap on large
    regions, or the gap after training on more data minus the gap with less. Both gaps are
    computed on the same image draws, so their shared noise cancels; ``a``/``b`` of the result
    are the two gaps. ``options`` are those of :func:`paired_gap`: ``metric``, ``level``,
    ``resamples``, ``seed``, ``chunk``."""
    resampling = _Resampling(**options)
    first, second = (_pair(a, b, inside, resampling.metric) for a, b, inside in (one, two))
    if not np.array_equal(first.image_ids, second.image_ids):
        raise ValueError(
            "the two gaps are not on the same test images: compare them on one test set"
        )
    if not first.counts.sum() or not second.counts.sum():
        return Gap(label, 0, 0, *([math.nan] * 5))
    low, high = resampling.interval(
        len(first.image_ids), lambda draws: first.differences(draws) - second.differences(draws)
    )
    count = int(first.inside.sum() + second.inside.sum())
    images = int((first.images_inside | second.images_inside).sum())
    return Gap(label, count, images, first.gap, second.gap, first.gap - second.gap, low, high)


def paired_gaps(
    a: Sequence[Report] | Report,
    b: Sequence[Report] | Report,
    scheme: str = "coco",
    **options: object,
) -> list[Gap]:
    """:func:`paired_gap` in every size bin of ``scheme``, then over all instances."""
    first = a if isinstance(a, Report) else a[0]
    if scheme not in first.schemes:
        raise ValueError(f"no size binning {scheme!r} in these reports: {list(first.schemes)}")
    bins = first.schemes[scheme]
    index = bins.assign(first.areas)
    gaps = [
        paired_gap(a, b, index == i, label=label, **options)  # type: ignore[arg-type]
        for i, label in enumerate(bins.labels)
    ]
    return gaps + [paired_gap(a, b, label="overall", **options)]  # type: ignore[arg-type]


def majority_report(report: Report, train_counts: Sequence[int]) -> Report:
    """The baseline that answers the training set's most frequent class for every instance,
    scored on ``report``'s test instances."""
    label = int(np.argmax(train_counts))
    return Report(
        report.labels,
        np.full(report.count, label),
        report.areas,
        report.classes,
        list(report.schemes.values()),
        image_ids=report.image_ids,
        method=f"majority ({report.classes[label]})",
        data=report.data,
    )


def chance_accuracy(num_classes: int) -> float:
    """Expected accuracy of a uniform random guess: ``1 / num_classes``, over instances and
    averaged over classes alike, in every size bin."""
    return 1 / num_classes
