"""Each experiment the book runs, as one value: :class:`Experiment`.

An experiment is everything a comparison depends on: where its regions come from and how many
(``data``), the backbone, the training settings, the methods, the sampler, the size bins and the
training seeds. Chapters, ``python -m roiattn compare --experiment ...`` and ``tools/`` all take
it from :func:`get`, so the same command gives the same table as the chapter.

- **coco** (chapters 4, 6, 7): COCO regions of ``train2017`` to train and ``val2017`` to test,
  context views, class-balanced draws (the paper's), the paper's size bins. In the quick profile
  four frequent categories and a small ResNet from random weights; in the GPU profiles all 80
  categories and an ImageNet-pretrained ResNet-50 (the paper's setting).
- **coco-pretrained** (chapters 6, 7): the COCO experiment's data and methods on an
  ImageNet-pretrained EfficientNet-Lite0 (weights from the package, no download), the paper's
  pretrained start on any machine; ``replace(weights=None)`` is the same network from random
  weights.
- **shapes** (chapter 5): ContextShapes, the synthetic world in which context decides the class
  of small regions; plain shuffling, the world's own size bins (specks and bodies).
- **shapes-vit** (chapter 9): the same scenes, steps and seed over a small vision transformer
  from random weights, with the region prompts a transformer allows.

:meth:`Experiment.replace` makes a variant (more epochs, another branch learning rate, fewer
training regions, ``mask_resize="max"``), which is saved under a name of its own.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch.utils.data import Sampler

from roiattn import profiles
from roiattn.data import (
    ClassBalancedSampler,
    COCORegions,
    ContextShapes,
    DataSource,
    RegionDataset,
    SyntheticSize,
    find_coco,
)
from roiattn.data.paths import default_data_dir, display_path
from roiattn.models import METHODS, RegionClassifier, build_model, method_options
from roiattn.models.factory import OPTIONS
from roiattn.train import TrainSettings

# What chapter 6 compares: no mask, no context, a blurred background, hard attention at three
# depths, the attention map at the first layer (add, mul), before the last block and at all
# five points, and the mask as a fourth input channel. (attn-mul@layer3 and attn-mul@all are
# left out for time.)
COCO_METHODS: tuple[str, ...] = tuple(
    m for m in METHODS if m not in ("attn-mul@layer3", "attn-mul@all")
)
# The methods the paper's findings compare: trained with every seed.
FINDING_METHODS: tuple[str, ...] = (
    "hard@input",
    "hard@conv1",
    "attn-add@conv1",
    "attn-add@layer3",
    "attn-add@all",
)
# What chapter 5 compares on ContextShapes.
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

# What chapter 9 compares over the small vision transformer: no mask, the crop, hard attention on
# the pixels, the paper's branch on the patch embedding, the mask as a channel of the patch
# embedding (Alpha-CLIP's prompt), and attention restricted to the region's tokens, two ways.
VIT_METHODS: tuple[str, ...] = (
    "image",
    "crop",
    "hard@input",
    "attn-add@stem",
    "mask-channel",
    "mask-attn",
    "drop-tokens",
)
VIT_ARCH = "vit4_w96_p8"


class Regions(NamedTuple):
    """An experiment's training and test regions, and where they came from."""

    train: RegionDataset
    test: RegionDataset
    source: DataSource


@dataclass(frozen=True)
class COCOData:
    """COCO regions: ``context`` views of ``image_size`` pixels of the chosen ``categories``
    (None: all), at most ``max_train`` / ``max_test`` of them (a seeded choice)."""

    image_size: int
    categories: tuple[str, ...] | None
    max_train: int | None
    max_test: int | None
    download_images: int | str
    synthetic: SyntheticSize
    train_split: str = "train2017"
    test_split: str = "val2017"
    view: str = "context"
    subset_seed: int = 0
    root: Path | None = None  # a COCO folder to read, instead of finding one

    def load(self, download: bool = True) -> Regions:
        """The regions, from ``root`` when given, else from :func:`~roiattn.data.find_coco`
        (``$ROIATTN_COCO_ROOT``, an earlier download, a download, or synthetic scenes: then
        every category is used)."""
        found = {
            split: self._source(split, download) for split in (self.train_split, self.test_split)
        }
        synthetic = any(source.kind == "synthetic" for source in found.values())
        splits = []
        for split, limit, seed in (
            (self.train_split, self.max_train, self.subset_seed),
            (self.test_split, self.max_test, self.subset_seed + 1),
        ):
            regions = COCORegions(
                found[split].root,
                split,
                image_size=self.image_size,
                view=self.view,
                categories=None if synthetic else self.categories,
            )
            splits.append(regions.sample(limit, seed))
        train, test = found[self.train_split], found[self.test_split]
        if train.root == test.root and train.kind == test.kind:
            note = f"{train.note}; {self.test_split} from the same folder"
        else:
            note = f"{train.note}; {test.note}"
        kind = "synthetic" if synthetic else train.kind
        return Regions(splits[0], splits[1], DataSource(train.root, kind, note))

    def _source(self, split: str, download: bool) -> DataSource:
        if self.root is not None:
            root = Path(self.root).expanduser()
            if not (root / "annotations" / f"instances_{split}.json").is_file():
                raise FileNotFoundError(
                    f"{root} has no annotations/instances_{split}.json: give a COCO folder "
                    f"holding {split}"
                )
            return DataSource(root, "given", f"COCO {split} from {display_path(root)}")
        return find_coco(split, download_images=self.download_images, seed=self.subset_seed,
                         synthetic=self.synthetic, download=download)  # fmt: skip


@dataclass(frozen=True)
class ShapesData:
    """ContextShapes scenes of ``image_size`` pixels; the test scenes are other scenes."""

    train_scenes: int
    test_scenes: int
    image_size: int
    train_seed: int = 100
    test_seed: int = 101

    def load(self, download: bool = True) -> Regions:
        train = ContextShapes(self.train_scenes, self.image_size, seed=self.train_seed)
        test = ContextShapes(self.test_scenes, self.image_size, seed=self.test_seed)
        note = f"ContextShapes: {train.description} to train, {test.description} to test"
        return Regions(train, test, DataSource(Path("."), "world", note))


DATA_FIELDS = {f.name for f in dataclasses.fields(COCOData)} | {
    f.name for f in dataclasses.fields(ShapesData)
}
# a run's seed comes from the experiment's seeds
TRAINING_FIELDS = {f.name for f in dataclasses.fields(TrainSettings)} - {"seed"}


@dataclass(frozen=True)
class Experiment:
    """What a comparison trains and how (module docstring). ``seeds[0]`` is the seed of a
    single run; a comparison trains :attr:`FINDING_METHODS` (those of them it has) with every
    seed and the others with the first (``all_seeds`` names them)."""

    name: str
    profile: str
    data: COCOData | ShapesData | None
    arch: str
    weights: str | None
    training: TrainSettings
    methods: tuple[str, ...]
    balanced: bool
    bins: str | None
    seeds: tuple[int, ...] = (0,)
    all_seeds: tuple[str, ...] = ()
    model_options: Mapping[str, Any] = field(default_factory=dict)
    variant: str = ""

    def regions(self, download: bool = True) -> Regions:
        """The training and test regions; kept in memory once read when the DataLoader reads
        in this process (``num_workers=0``), so ten methods read each image once."""
        if self.data is None:
            raise ValueError(
                f"experiment {self.name!r} names no data: pass its regions to run(regions=...)"
            )
        found = self.data.load(download)
        if self.training.num_workers == 0:
            return Regions(found.train.cached(), found.test.cached(), found.source)
        return found

    def sampler(self, train: RegionDataset, seed: int | None = None) -> Sampler | None:
        """The order of training items: the paper's class-balanced draws (a class, then an
        image holding it, then one of its regions), or None for a plain shuffle."""
        if not self.balanced:
            return None
        return ClassBalancedSampler.from_dataset(
            train, seed=self.seeds[0] if seed is None else seed
        )

    def settings(self, seed: int | None = None) -> TrainSettings:
        """The training settings of one run (the first seed by default)."""
        return self.training.replace(seed=self.seeds[0] if seed is None else seed)

    def seeds_of(self, method: str) -> tuple[int, ...]:
        """The seeds ``method`` is trained with in a comparison."""
        return self.seeds if method in self.all_seeds else self.seeds[:1]

    def model(self, method: str, num_classes: int, seed: int | None = None) -> RegionClassifier:
        """A fresh model of ``method``, built after seeding torch with the run's seed, so every
        method of a run starts from the same backbone."""
        torch.manual_seed(self.seeds[0] if seed is None else seed)
        return build_model(method, self.arch, num_classes, self.weights, **self.options_of(method))

    def options_of(self, method: str) -> dict[str, Any]:
        """The model options ``method`` takes (``mask_resize="max"`` changes the hard and
        attention methods; ``image``, ``crop`` and ``mask-channel`` are built without it)."""
        return {k: v for k, v in self.model_options.items() if k in method_options(method)}

    @property
    def file_name(self) -> str:
        """The name its comparison is saved under: ``<name>-<profile>[-<variant>]``."""
        slug = re.sub(r"[^A-Za-z0-9.]+", "-", self.variant).strip("-")
        return f"{self.name}-{self.profile}" + (f"-{slug}" if slug else "")

    def replace(self, **changes: Any) -> Experiment:
        """A variant: any field of the experiment, of its data or of its training settings
        (``epochs=8``, ``branch_lr_scale=10``, ``max_train=300``, ``mask_resize="max"``, ...),
        checked like the original. Its ``variant`` lists the changes, and names its results."""
        own = {f.name for f in dataclasses.fields(self)} - {"data", "training", "variant"}
        options = {option for family in OPTIONS.values() for option in family}
        unknown = sorted(set(changes) - own - DATA_FIELDS - TRAINING_FIELDS - options)
        if unknown:
            valid = sorted(own | DATA_FIELDS | TRAINING_FIELDS | options)
            raise ValueError(f"unknown experiment settings {unknown}: choose from {valid}")
        data_changes = {k: v for k, v in changes.items() if k in DATA_FIELDS}
        if data_changes and self.data is not None:
            known = {f.name for f in dataclasses.fields(self.data)}
            wrong = sorted(set(data_changes) - known)
            if wrong:
                raise ValueError(
                    f"{type(self.data).__name__} has no {wrong}: it has {sorted(known)}"
                )
        new = dataclasses.replace(
            self,
            data=dataclasses.replace(self.data, **data_changes) if data_changes else self.data,
            training=self.training.replace(
                **{k: v for k, v in changes.items() if k in TRAINING_FIELDS}
            ),
            model_options={
                **self.model_options,
                **{k: v for k, v in changes.items() if k in options},
            },
            **{k: v for k, v in changes.items() if k in own},
        )
        done = ", ".join(f"{k}={v}" for k, v in changes.items())
        variant = f"{self.variant}, {done}" if self.variant else done
        return dataclasses.replace(new, variant=variant)

    def summary(self) -> str:
        """One line: what a run of this experiment does."""
        if isinstance(self.data, COCOData):
            what = ", ".join(self.data.categories) if self.data.categories else "all categories"
            data = f"{self.data.image_size} px {self.data.view} views of {what}"
        elif isinstance(self.data, ShapesData):
            scenes = f"{self.data.train_scenes}/{self.data.test_scenes}"
            data = f"{scenes} scenes of {self.data.image_size} px"
        else:
            data = "regions given to run()"
        variant = f" [{self.variant}]" if self.variant else ""
        return (
            f"{self.name}/{self.profile}{variant}: {self.arch} ({self.weights or 'random init'}) "
            f"on {data}; {self.training.summary()}; "
            f"{'class-balanced' if self.balanced else 'shuffled'}; seeds {list(self.seeds)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON-able, for the provenance of results."""
        return {
            "name": self.name,
            "profile": self.profile,
            "variant": self.variant,
            "data": None if self.data is None else dataclasses.asdict(self.data),
            "arch": self.arch,
            "weights": self.weights,
            "training": self.training.to_dict(),
            "balanced": self.balanced,
            "bins": self.bins,
            "seeds": list(self.seeds),
            "model_options": dict(self.model_options),
        }

    def run(self, methods: Any = None, **options: Any) -> Any:
        """Train and evaluate ``methods`` (default: all of the experiment's) with
        :func:`~roiattn.experiments.compare`; see there for the options."""
        from roiattn.experiments.runner import compare

        return compare(self, methods, **options)


def _training(profile: profiles.Profile, epochs: int, lr: float) -> TrainSettings:
    """The one mapping from a profile to training settings."""
    return TrainSettings(
        epochs=epochs,
        batch_size=profile.batch_size,
        lr=lr,
        weight_decay=profile.weight_decay,
        optimizer=profile.optimizer,
        schedule=profile.schedule,
        grad_clip=profile.grad_clip,
        amp=profile.amp,
        channels_last=profile.channels_last,
        num_workers=profiles.workers(profile),
        eval_batch_size=profile.eval_batch_size,
    )


def coco(profile: profiles.Profile | str | None = None) -> Experiment:
    """The COCO experiment of chapters 4, 6 and 7 in ``profile`` (default: the active one)."""
    profile = _profile(profile)
    data = COCOData(
        image_size=profile.image_size,
        categories=profile.categories,
        max_train=profile.max_train_items,
        max_test=profile.max_test_items,
        download_images=profile.download_images,
        synthetic=SyntheticSize(*profile.synthetic_scenes, profile.shapes_image_size),
    )
    return Experiment(
        name="coco",
        profile=profile.name,
        data=data,
        arch=profile.arch,
        weights=profile.weights,
        training=_training(profile, profile.epochs, profile.lr),
        methods=COCO_METHODS,
        balanced=True,
        bins="paper",
        seeds=profile.seeds,
        all_seeds=FINDING_METHODS,
    )


def coco_pretrained(profile: profiles.Profile | str | None = None) -> Experiment:
    """The COCO experiment on an ImageNet-pretrained EfficientNet-Lite0 in ``profile``: the
    same categories, subsets, sampler, methods and bins as :func:`coco`, the profile's
    ``pretrained_*`` image size, learning rate and seeds."""
    profile = _profile(profile)
    base = coco(profile)
    return dataclasses.replace(
        base,
        name="coco-pretrained",
        data=dataclasses.replace(base.data, image_size=profile.pretrained_image_size),
        arch="efficientnet_lite0",
        weights="DEFAULT",
        training=base.training.replace(lr=profile.pretrained_lr),
        seeds=profile.pretrained_seeds,
    )


def shapes(profile: profiles.Profile | str | None = None) -> Experiment:
    """The ContextShapes experiment of chapter 5 in ``profile`` (default: the active one)."""
    profile = _profile(profile)
    return Experiment(
        name="shapes",
        profile=profile.name,
        data=ShapesData(profile.shapes_train, profile.shapes_test, profile.shapes_image_size),
        arch=profile.shapes_arch,
        weights=profile.shapes_weights,
        training=_training(profile, profile.shapes_epochs, profile.shapes_lr),
        methods=SHAPES_METHODS,
        balanced=False,
        bins=None,
        seeds=profile.seeds[:1],
    )


def shapes_vit(profile: profiles.Profile | str | None = None) -> Experiment:
    """Chapter 5's ContextShapes experiment in ``profile`` (the same scenes, epochs, batches and
    seed) over :data:`VIT_ARCH` from random weights, comparing :data:`VIT_METHODS`; the learning
    rate is the one the quick profile trains its CNN from random weights with."""
    base = shapes(profile)
    return dataclasses.replace(
        base,
        name="shapes-vit",
        arch=VIT_ARCH,
        weights=None,
        training=base.training.replace(lr=profiles.PROFILES["quick"].shapes_lr),
        methods=VIT_METHODS,
    )


# The data regime (chapter 7): ContextShapes training scenes from about a hundred to several
# thousand, each at the experiment's epochs and, below the largest, again at about the largest
# point's number of optimiser steps, so that more scenes and more steps can be told apart.
CURVE_SCENES: tuple[int, ...] = (100, 300, 1000, 3000)
CURVE_METHODS: tuple[str, ...] = ("attn-add@conv1", "hard@input")


def shapes_curve(profile: profiles.Profile | str | None = None) -> dict[str, Experiment]:
    """The learning curve's experiments in ``profile``, by name: ``<n>-scenes`` (the shapes
    experiment with ``n`` training scenes, every seed of the profile) and
    ``<n>-scenes-same-steps`` (``n`` scenes for as many epochs as give about the steps of the
    largest point)."""
    profile = _profile(profile)
    # every seed of the profile: one run per point would not tell a crossover from the luck
    # of one initialisation and batch order
    base = shapes(profile).replace(seeds=profile.seeds, all_seeds=CURVE_METHODS)
    largest = max(CURVE_SCENES)
    curve = {}
    for n in CURVE_SCENES:
        curve[f"{n}-scenes"] = base.replace(train_scenes=n)
        if n < largest:
            epochs = round(base.training.epochs * largest / n)
            curve[f"{n}-scenes-same-steps"] = base.replace(train_scenes=n, epochs=epochs)
    return curve


EXPERIMENTS = {
    "coco": coco,
    "coco-pretrained": coco_pretrained,
    "shapes": shapes,
    "shapes-vit": shapes_vit,
}


def get(name: str, profile: profiles.Profile | str | None = None) -> Experiment:
    """The experiment ``name`` (``coco``, ``coco-pretrained``, ``shapes``, ``shapes-vit``) of
    ``profile`` (default: the active one)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}: choose one of {sorted(EXPERIMENTS)}")
    return EXPERIMENTS[name](profile)


def results_dir() -> Path:
    """Where comparisons and their runs are kept: ``$ROIATTN_DATA/results`` (default
    ``~/.cache/roiattn/results``), beside the downloads, outside the repository."""
    return default_data_dir() / "results"


def _profile(profile: profiles.Profile | str | None) -> profiles.Profile:
    if profile is None:
        return profiles.current()
    return profiles.get(profile) if isinstance(profile, str) else profile
