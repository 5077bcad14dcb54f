"""The experiments the chapters share: one data recipe, one list of methods, one set of training
settings and one results folder each, all chosen by the profile.

**ContextShapes** (chapter 5 and the findings test): :func:`shapes_comparison` trains every
method of :data:`SHAPES_METHODS` on :func:`shapes_data`, synthetic scenes built so that the
paper's findings must appear. The test ``tests/test_findings.py`` trains it and asserts the
findings; chapter 5 calls the same function and, when the test (or an earlier run) has saved the
runs in :func:`results_dir`, loads them. It trains the profile's ContextShapes backbone at its
ContextShapes rate (:meth:`~roiattn.profiles.Profile.for_shapes`: in the quick profile a ResNet
small enough for eight methods to train in a few minutes on a CPU).

**COCO** (chapters 4, 6 and 7):
Chapter 6 trains every method of :data:`COCO_METHODS` with :func:`coco_comparison`, which keeps
the trained models; chapter 7 calls the same function and gets the same models back from the
results folder (run on its own, it trains them identically). Chapter 4 trains one of them by
hand with :func:`training_settings`, the settings ``compare`` uses.

What each profile does (nothing else switches it):

- **quick** (CPU, random init): the COCO folder at hand (``$ROIATTN_COCO_ROOT``, coco-mini in
  CI), restricted to :data:`QUICK_CATEGORIES`, four of COCO's most frequent categories, so that
  a ResNet-18 trained from random weights for a few dozen steps learns something measurable
  (with all 80 categories most of them have a handful of training regions and it learns only to
  say "person"). Training draws regions class-balanced, as the paper's code did.
- **full** (GPU, ImageNet weights): a COCO 2017 subset downloaded by
  :func:`~roiattn.data.find_coco` (``download_images`` images per split), all 80 categories.

Without any COCO folder or network, :func:`~roiattn.data.find_coco` falls back to synthetic
scenes and says so; then every category of that data is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from torch.utils.data import Dataset, Subset

from roiattn import profiles
from roiattn.data import COCORegions, ContextShapes, DataSource, find_coco
from roiattn.data.download import default_data_dir
from roiattn.data.indexing import check_index
from roiattn.data.samplers import ClassBalancedSampler
from roiattn.evaluate import Report
from roiattn.experiments import Comparison, compare
from roiattn.runtime import dataset_attribute, describe_data, item_values

__all__ = [
    "COCO_METHODS",
    "QUICK_CATEGORIES",
    "SHAPES_METHODS",
    "SHAPES_SEEDS",
    "TEST_SPLIT",
    "TRAIN_SPLIT",
    "VIEW",
    "COCOData",
    "Gap",
    "RegionCache",
    "coco_categories",
    "coco_comparison",
    "coco_regions",
    "coco_sampler",
    "comparison_name",
    "gaps_table",
    "paired_gaps",
    "results_dir",
    "shapes_comparison",
    "shapes_data",
    "training_settings",
]

TRAIN_SPLIT = "train2017"
TEST_SPLIT = "val2017"
VIEW = "context"  # a square window around the region, with room for its surroundings

# Four of COCO's most frequent categories (in all of COCO 2017 as in coco-mini), and different
# enough in shape and size that a mask says something about them. Chapter 4 shows the counts.
QUICK_CATEGORIES: tuple[str, ...] = ("person", "car", "chair", "cup")

# What chapter 6 compares: no mask, no context, hard attention at three depths, the attention
# map at the first layer (add, mul), before the last block and at all five points, and the
# mask as a fourth input channel. (attn-mul@layer3 and attn-mul@all are left out for time.)
COCO_METHODS: tuple[str, ...] = (
    "image",
    "crop",
    "hard@input",
    "hard@conv1",
    "hard@layer3",
    "attn-add@conv1",
    "attn-mul@conv1",
    "attn-add@layer3",
    "attn-add@all",
    "mask-channel",
)


# What chapter 5 compares on ContextShapes: no mask, no context (crop, hard attention at the
# input), the attention map at the first layer (add, mul), before the last block and at all
# five points, and the mask as a fourth input channel.
SHAPES_METHODS: tuple[str, ...] = (
    "image",
    "crop",
    "hard@input",
    "attn-add@conv1",
    "attn-mul@conv1",
    "attn-add@layer3",
    "attn-add@all",
    "mask-channel",
)
# The world's seeds: the test scenes are other scenes than the training ones.
SHAPES_SEEDS: dict[str, int] = {"train": 100, "test": 101}


def _profile(profile: profiles.Profile | str | None) -> profiles.Profile:
    if profile is None:
        return profiles.current()
    if isinstance(profile, str):
        return profiles.get(profile)
    return profile


def coco_categories(profile: profiles.Profile | str | None = None) -> tuple[str, ...] | None:
    """The categories a profile trains on: :data:`QUICK_CATEGORIES` for ``quick``, None (all
    80) for ``full`` (and for any profile that starts from ImageNet weights)."""
    profile = _profile(profile)
    return QUICK_CATEGORIES if profile.weights is None else None


def results_dir() -> Path:
    """Where the COCO comparison and its models are kept: ``$ROIATTN_DATA/results`` (default
    ``~/.cache/roiattn/results``), beside the downloads, outside the repository."""
    return default_data_dir() / "results"


def shapes_data(
    profile: profiles.Profile | str | None = None,
) -> tuple[ContextShapes, ContextShapes]:
    """``(train, test)``: ``profile.shapes_train`` and ``profile.shapes_test`` ContextShapes
    scenes of ``profile.shapes_image_size`` pixels, from the seeds of :data:`SHAPES_SEEDS`."""
    profile = _profile(profile)
    return tuple(
        ContextShapes(n, profile.shapes_image_size, seed=SHAPES_SEEDS[split])
        for split, n in (("train", profile.shapes_train), ("test", profile.shapes_test))
    )


def shapes_comparison(
    profile: profiles.Profile | str | None = None,
    methods: Sequence[str] = SHAPES_METHODS,
    *,
    results: str | Path | None = None,
    retrain: bool = False,
    progress: bool = True,
) -> Comparison:
    """Train and evaluate ``methods`` on :func:`shapes_data` with
    :func:`~roiattn.experiments.compare`: the profile's settings for ContextShapes
    (:meth:`~roiattn.profiles.Profile.for_shapes`), plain shuffling, the world's own size bins
    (``small`` specks, ``large`` bodies).

    Saved as ``<results>/shapes-<profile>.json`` (``results`` defaults to :func:`results_dir`);
    runs already saved there with the same settings are loaded unless ``retrain=True``.
    """
    profile = _profile(profile).for_shapes()
    train, test = shapes_data(profile)
    return compare(
        list(methods),
        train,
        test,
        profile,
        results_dir=results_dir() if results is None else Path(results),
        seed=profile.seed,
        name=f"shapes-{profile.name}",
        retrain=retrain,
        progress=progress,
    )


def comparison_name(profile: profiles.Profile | str | None = None) -> str:
    """The comparison's file name (without ``.json``) in :func:`results_dir`: ``coco-<profile>``."""
    return f"coco-{_profile(profile).name}"


class RegionCache(Dataset):
    """A dataset whose items are read once and then kept in memory.

    Every roiattn dataset's item depends only on its index (no random augmentation), so a cached
    item is exactly the item read again: training ten methods on the same regions reads each
    JPEG once instead of ten times. Attributes are the wrapped dataset's, looked up through any
    ``Subset`` (per-item arrays such as ``labels``, ``areas``, ``image_ids`` hold just these
    items), so results and their cache keys are the same with and without it. Methods of the
    wrapped dataset (``image_path``, ...) take its own indices. Meant for ``num_workers=0``:
    each worker process would keep a copy of its own.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._items: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        index = check_index(index, len(self))
        item = self._items.get(index)
        if item is None:
            item = self._items[index] = self.dataset[index]
        return item

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("dataset", "_items"):
            raise AttributeError(name)  # not set yet (e.g. while unpickling), or a dunder
        if name == "description":
            return describe_data(self.dataset)["description"]
        missing = object()
        value = dataset_attribute(self.dataset, name, missing)
        if value is missing:
            raise AttributeError(f"{type(self.dataset).__name__} has no attribute {name!r}")
        if isinstance(value, np.ndarray):  # a per-item array: only the wrapped items
            value = item_values(self.dataset, name)
        return value

    def __repr__(self) -> str:
        return f"RegionCache({self.description}; {len(self._items)} of {len(self)} items read)"


def _at_most(data: Dataset, limit: int | None, seed: int) -> Dataset:
    """``data``, or a seeded random ``limit`` of its items (kept in their order)."""
    if limit is None or len(data) <= limit:
        return data
    keep = np.sort(np.random.default_rng(seed).choice(len(data), size=limit, replace=False))
    return Subset(data, keep.tolist())


class COCOData(NamedTuple):
    """The training and test regions of the COCO experiment, and where they came from."""

    train: Dataset
    test: Dataset
    source: DataSource


def coco_regions(
    profile: profiles.Profile | str | None = None, *, download: bool = True
) -> COCOData:
    """``(train, test, source)``: COCO regions of ``train2017`` and ``val2017`` for ``profile``.

    The folder comes from :func:`~roiattn.data.find_coco` (``$ROIATTN_COCO_ROOT``, an earlier
    download, a download, or synthetic scenes, in that order); regions are ``context`` views of
    ``profile.image_size`` pixels of the categories :func:`coco_categories` gives, at most
    ``max_train_items`` / ``max_test_items`` of them (a seeded random choice). With
    ``num_workers=0`` (the quick profile) items are kept in memory once read
    (:class:`RegionCache`). ``source.note`` says where both splits came from.
    """
    profile = _profile(profile)
    sources = {split: find_coco(split, profile, download) for split in (TRAIN_SPLIT, TEST_SPLIT)}
    synthetic = any(s.kind == "synthetic" for s in sources.values())
    categories = None if synthetic else coco_categories(profile)
    splits = []
    for split, limit, seed in (
        (TRAIN_SPLIT, profile.max_train_items, profile.seed),
        (TEST_SPLIT, profile.max_test_items, profile.seed + 1),
    ):
        regions = COCORegions(
            sources[split].root,
            split,
            image_size=profile.image_size,
            view=VIEW,
            categories=categories,
        )
        regions = _at_most(regions, limit, seed)
        splits.append(RegionCache(regions) if profile.num_workers == 0 else regions)
    train_source, test_source = sources[TRAIN_SPLIT], sources[TEST_SPLIT]
    if train_source.root == test_source.root and train_source.kind == test_source.kind:
        note = f"{train_source.note}; {TEST_SPLIT} from the same folder"
    else:
        note = f"{train_source.note}; {test_source.note}"
    kind = "synthetic" if synthetic else train_source.kind
    return COCOData(splits[0], splits[1], DataSource(train_source.root, kind, note))


def coco_sampler(
    train_data: Dataset, profile: profiles.Profile | str | None = None
) -> ClassBalancedSampler:
    """The paper's sampling for training: a class uniformly at random, then an image holding it,
    then one of its regions there; ``len(train_data)`` draws per epoch, seeded by the profile.
    (Its ``description`` goes into the comparison's cache key.)"""
    profile = _profile(profile)
    sampler = ClassBalancedSampler.from_dataset(train_data, seed=profile.seed)
    sampler.description = (
        f"ClassBalancedSampler(num_samples={sampler.num_samples}, seed={sampler.seed})"
    )
    return sampler


def training_settings(profile: profiles.Profile | str | None = None) -> dict[str, Any]:
    """The keyword arguments of :func:`roiattn.train.fit` that ``compare`` uses for ``profile``,
    so a model trained by hand (chapter 4) is trained exactly as in the comparison."""
    profile = _profile(profile)
    return {
        "epochs": profile.epochs,
        "batch_size": profile.batch_size,
        "lr": profile.lr,
        "weight_decay": profile.weight_decay,
        "optimizer": profile.optimizer,
        "schedule": profile.schedule,
        "num_workers": profile.num_workers,
        "amp": None if profile.amp else False,
        "channels_last": None if profile.channels_last else False,
        "grad_clip": profile.grad_clip,
        "max_steps": profile.max_steps,
        "seed": profile.seed,
    }


def coco_comparison(
    profile: profiles.Profile | str | None = None,
    methods: Sequence[str] = COCO_METHODS,
    *,
    data: COCOData | None = None,
    results: str | Path | None = None,
    name: str | None = None,
    retrain: bool = False,
    progress: bool = True,
) -> Comparison:
    """Train and evaluate ``methods`` on the COCO experiment (:func:`coco_regions`) with
    :func:`~roiattn.experiments.compare`, class-balanced, the paper's size bins, the models kept.

    Saved as ``<results>/<name>.json`` (``results`` defaults to :func:`results_dir`, ``name``
    to :func:`comparison_name`, ``coco-<profile>``); a method already trained there with the
    same settings and data is loaded, not retrained, whatever the name, so a second call (or
    chapter 7) takes seconds. ``data`` saves finding the regions again.
    """
    profile = _profile(profile)
    data = data if data is not None else coco_regions(profile)
    return compare(
        list(methods),
        data.train,
        data.test,
        profile,
        results_dir=results_dir() if results is None else Path(results),
        seed=profile.seed,
        name=comparison_name(profile) if name is None else name,
        bins="paper",
        sampler=coco_sampler(data.train, profile),
        save_models=True,
        retrain=retrain,
        progress=progress,
    )


@dataclass(frozen=True)
class Gap:
    """Accuracy of method ``a`` minus method ``b`` on the same instances of one size bin, with a
    paired bootstrap interval (``low``, ``high``; NaN when the bin is empty)."""

    label: str
    count: int
    a: float
    b: float
    difference: float
    low: float
    high: float

    @property
    def sign(self) -> int:
        """+1 when the whole interval is above 0, -1 when below, 0 when it holds 0."""
        if math.isnan(self.difference):
            return 0
        return 1 if self.low > 0 else -1 if self.high < 0 else 0


def paired_gaps(
    a: Report,
    b: Report,
    scheme: str = "coco",
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> list[Gap]:
    """How much better ``a`` is than ``b``, per size bin of ``scheme`` and overall.

    Both reports must be on the same test instances (as in one comparison). The interval is a
    paired bootstrap: instances are resampled within the bin, and each resample's difference of
    accuracies is taken on the same instances for both methods, so what both get right or both
    get wrong does not add noise. ``level`` is its coverage (0.95: the 2.5th to 97.5th
    percentile of ``resamples`` differences).
    """
    if not (
        np.array_equal(a.labels, b.labels)
        and np.array_equal(a.areas, b.areas)
        and a.classes == b.classes
    ):
        raise ValueError(
            "the two reports are not on the same test instances: compare methods of one "
            "comparison (same test data, same order)"
        )
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if scheme not in a.schemes:
        raise ValueError(f"no size binning {scheme!r} in these reports: {list(a.schemes)}")
    bins = a.schemes[scheme]
    index = bins.assign(a.areas)
    groups = [(label, index == i) for i, label in enumerate(bins.labels)]
    groups.append(("overall", np.ones(a.count, dtype=bool)))
    rng = np.random.default_rng(seed)
    tail = (1 - level) / 2
    gaps = []
    for label, inside in groups:
        n = int(inside.sum())
        if n == 0:
            gaps.append(Gap(label, 0, math.nan, math.nan, math.nan, math.nan, math.nan))
            continue
        hits_a, hits_b = a.correct[inside], b.correct[inside]
        draws = rng.integers(n, size=(resamples, n))
        differences = hits_a[draws].mean(1) - hits_b[draws].mean(1)
        low, high = np.quantile(differences, [tail, 1 - tail])
        gaps.append(
            Gap(
                label,
                n,
                float(hits_a.mean()),
                float(hits_b.mean()),
                float(hits_a.mean() - hits_b.mean()),
                float(low),
                float(high),
            )
        )
    return gaps


def gaps_table(gaps: Mapping[str, Sequence[Gap]]) -> str:
    """Markdown: one row per comparison (``{"a − b": gaps}``), one column per bin, each cell the
    difference in points with its interval."""
    first = next(iter(gaps.values()))
    header = [g.label for g in first]
    lines = [
        f"| | {' | '.join(f'{h} (n={g.count})' for h, g in zip(header, first, strict=True))} |",
        "| --- |" + " ---: |" * len(header),
    ]
    for name, row in gaps.items():
        cells = [
            "–"
            if math.isnan(g.difference)
            else f"{100 * g.difference:+.1f} [{100 * g.low:+.1f}, {100 * g.high:+.1f}]"
            for g in row
        ]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)
