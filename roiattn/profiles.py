"""The two run profiles: ``quick`` (CPU, minutes) and ``full`` (GPU, the real run).

A profile is the table of sizes the book's experiments are built from
(:mod:`roiattn.experiments` turns it into one :class:`~roiattn.experiments.Experiment` per
experiment). Only ``ROIATTN_PROFILE`` switches it; unset means ``full`` when CUDA is available,
else ``quick``. Every chapter prints :func:`summary` at its top, so every output says how it was
made.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch

ENV_VAR = "ROIATTN_PROFILE"


@dataclass(frozen=True)
class Profile:
    """Every size the book's experiments depend on (see :mod:`roiattn.experiments`)."""

    name: str
    device: str  # what the profile is meant for
    # the COCO experiment (chapters 4, 6, 7); its backbone is also the one chapters 1-3 show
    arch: str
    weights: str | None  # torchvision weights name, or None for random init
    image_size: int
    categories: tuple[str, ...] | None  # None: all 80
    max_train_items: int | None  # cap on COCO regions (None: all)
    max_test_items: int | None
    download_images: int  # COCO images per split to fetch when no COCO folder is at hand
    synthetic_scenes: tuple[int, int]  # ContextShapes scenes standing in for COCO (train, test)
    epochs: int
    lr: float
    seeds: tuple[int, ...]  # training seeds of a comparison: its spread and its verdicts
    # the ContextShapes experiment (chapter 5)
    shapes_train: int  # scenes (five regions each)
    shapes_test: int
    shapes_image_size: int
    shapes_arch: str
    shapes_weights: str | None
    shapes_epochs: int
    shapes_lr: float
    # the COCO experiment on an ImageNet-pretrained EfficientNet-Lite0 (chapter 7), whose weights
    # install with the package: the paper's pretrained start, in every profile
    pretrained_image_size: int
    pretrained_lr: float
    pretrained_seeds: tuple[int, ...]
    # how both train (see roiattn.train.TrainSettings)
    batch_size: int = 32
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    grad_clip: float | None = None
    amp: bool | None = None
    channels_last: bool | None = None
    num_workers: int = 0
    eval_batch_size: int = 64

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        device="cpu",
        arch="resnet10_w32",  # a small ResNet from random weights: see chapter 4
        weights=None,
        image_size=48,
        # four of COCO's most frequent categories, so that training from scratch for a few
        # hundred steps learns something measurable (chapter 4 shows the counts)
        categories=("person", "car", "chair", "cup"),
        max_train_items=1200,
        max_test_items=600,
        download_images=64,
        synthetic_scenes=(40, 30),  # 200 training and 150 test regions, to run, not to measure
        epochs=3,
        lr=3e-3,
        seeds=(0, 1, 2),
        shapes_train=800,  # 4000 training regions, 250 steps in 2 epochs
        shapes_test=300,
        shapes_image_size=48,  # specks of a cluster closer than a layer3 cell (16 px)
        shapes_arch="resnet10_w32",
        shapes_weights=None,
        shapes_epochs=2,
        shapes_lr=3e-3,
        # 64 px: two runs side by side take 36 s on the 2-core machine (96 px: 63 s); AdamW at
        # 1e-3 as a fine-tune, not the from-scratch 3e-3; one seed for time
        pretrained_image_size=64,
        pretrained_lr=1e-3,
        pretrained_seeds=(0,),
        amp=False,
        # channels-last memory: faster per step for resnet10_w32 at 48 px on a 2-core CPU too
        # (0.071 against 0.086 s for a training step on a batch of 32, mean of three runs each)
        channels_last=True,
    ),
    "full": Profile(
        name="full",
        device="cuda",
        arch="resnet50",
        weights="DEFAULT",
        image_size=224,
        categories=None,
        max_train_items=None,
        max_test_items=None,
        download_images=6000,
        synthetic_scenes=(4000, 1000),
        epochs=8,
        lr=1e-4,
        seeds=(0, 1, 2),
        shapes_train=20000,
        shapes_test=4000,
        shapes_image_size=64,  # up to 64 px the specks of a cluster share layer3 cells
        shapes_arch="resnet50",
        shapes_weights="DEFAULT",
        shapes_epochs=2,
        shapes_lr=1e-4,
        pretrained_image_size=224,
        pretrained_lr=1e-4,
        pretrained_seeds=(0, 1, 2),
        batch_size=64,
        num_workers=8,
        amp=None,
        channels_last=None,
        grad_clip=5.0,
        eval_batch_size=256,
    ),
}


def get(name: str) -> Profile:
    """The profile called ``name`` (``quick`` or ``full``)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown profile {name!r}: choose one of {sorted(PROFILES)} "
            f"(set {ENV_VAR}=quick or {ENV_VAR}=full)"
        ) from None


def current() -> Profile:
    """The active profile: ``$ROIATTN_PROFILE`` if set, else ``full`` with CUDA, else ``quick``."""
    name = os.environ.get(ENV_VAR, "").strip()
    if not name:
        name = "full" if torch.cuda.is_available() else "quick"
    return get(name)


def why() -> str:
    """How :func:`current` chose: the environment variable, or whether there is a GPU."""
    if os.environ.get(ENV_VAR, "").strip():
        return f"${ENV_VAR}"
    if torch.cuda.is_available():
        return f"a CUDA GPU is here; set {ENV_VAR}=quick for the CPU-sized run"
    return f"no CUDA GPU; set {ENV_VAR}=full on a GPU machine for the real run"


def summary(profile: Profile | None = None) -> str:
    """The one line a chapter prints at its top: the profile, why, and its main sizes."""
    profile = profile or current()
    chosen = f" ({why()})" if profile is current() else ""
    return (
        f"profile {profile.name}{chosen}: COCO {profile.arch} "
        f"({profile.weights or 'random init'}) at {profile.image_size} px; ContextShapes "
        f"{profile.shapes_arch} at {profile.shapes_image_size} px"
    )
