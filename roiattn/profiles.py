"""The run profiles, named for where they are meant to run:

- ``quick``: a laptop CPU, minutes per chapter (a small ResNet from random weights);
- ``colab``: one free Colab session (a T4 GPU, 2 CPU cores, about 12 GB of memory): the paper's
  setting in kind (an ImageNet-pretrained ResNet-50 fine-tuned on a downloaded COCO subset of
  all 80 categories), sized so that each training chapter takes about half an hour at most;
- ``paper``: the paper's scale, for the command line and long sessions (hours on a T4; every run
  resumes from its checkpoints).

A profile is the table of sizes the book's experiments are built from
(:mod:`roiattn.experiments` turns it into one :class:`~roiattn.experiments.Experiment` per
experiment). Only ``ROIATTN_PROFILE`` switches it; unset means ``colab`` when CUDA is available,
else ``quick``. Every chapter prints :func:`summary` at its top, so every output says how it was
made. ``book/running.md`` gives each profile's cost model (runs, steps, images and the expected
time per chapter on a T4).
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
    # COCO images per split to fetch when no COCO folder is at hand, or "book": the images the
    # book's published outputs were made on (roiattn.data.sources.BOOK_IMAGES)
    download_images: int | str
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
    # DataLoader worker processes; None: one per CPU this process may use (cpu_count())
    num_workers: int | None = 0
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
        download_images="book",  # the pages' own 288 images, so a reader gets the pages' data
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
    # One free Colab session: a T4 (fp16 autocast with loss scaling, no bf16), 2 CPU cores and
    # about 12 GB of memory. Every region is read once and kept in memory (num_workers=0: 16
    # bytes a pixel, about 2.6 GB for COCO's 10,000 regions at 128 px), so the GPU never waits on
    # JPEG decoding after the first epoch. Sizes from the cost model in book/running.md.
    "colab": Profile(
        name="colab",
        device="cuda",
        arch="resnet50",
        weights="DEFAULT",
        image_size=128,
        categories=None,
        max_train_items=8000,
        max_test_items=2000,
        download_images=1500,
        synthetic_scenes=(1600, 400),
        epochs=4,
        lr=1e-4,
        seeds=(0, 1, 2),
        shapes_train=4000,
        shapes_test=1000,
        shapes_image_size=64,  # up to 64 px the specks of a cluster share layer3 cells
        shapes_arch="resnet50",
        shapes_weights="DEFAULT",
        shapes_epochs=3,
        shapes_lr=1e-4,
        pretrained_image_size=128,
        pretrained_lr=1e-4,
        pretrained_seeds=(0,),
        batch_size=64,
        num_workers=0,
        amp=None,
        channels_last=None,
        grad_clip=5.0,
        eval_batch_size=256,
    ),
    # The paper's scale: all COCO regions of a 6,000-image download per split at 224 px, for
    # the command line (`python -m roiattn compare --profile paper`) and long sessions. Too
    # many regions to keep in memory: worker processes decode them every epoch.
    "paper": Profile(
        name="paper",
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
        shapes_image_size=64,
        shapes_arch="resnet50",
        shapes_weights="DEFAULT",
        shapes_epochs=2,
        shapes_lr=1e-4,
        pretrained_image_size=224,
        pretrained_lr=1e-4,
        pretrained_seeds=(0, 1, 2),
        batch_size=64,
        num_workers=None,
        amp=None,
        channels_last=None,
        grad_clip=5.0,
        eval_batch_size=256,
    ),
}


def get(name: str) -> Profile:
    """The profile called ``name`` (``quick``, ``colab`` or ``paper``)."""
    try:
        return PROFILES[name]
    except KeyError:
        renamed = " (the GPU profile 'full' is now 'colab', or 'paper' at the paper's scale)"
        raise ValueError(
            f"unknown profile {name!r}: choose one of {sorted(PROFILES)}"
            f"{renamed if name == 'full' else ''} (set {ENV_VAR}=quick, colab or paper)"
        ) from None


def current() -> Profile:
    """The active profile: ``$ROIATTN_PROFILE`` if set, else ``colab`` with CUDA, else
    ``quick``."""
    name = os.environ.get(ENV_VAR, "").strip()
    if not name:
        name = "colab" if torch.cuda.is_available() else "quick"
    return get(name)


def why() -> str:
    """How :func:`current` chose: the environment variable, or whether there is a GPU."""
    if os.environ.get(ENV_VAR, "").strip():
        return f"${ENV_VAR}"
    if torch.cuda.is_available():
        return (
            f"a CUDA GPU is here; {ENV_VAR}=quick for the CPU-sized run, "
            f"{ENV_VAR}=paper for the paper's scale"
        )
    return f"no CUDA GPU; {ENV_VAR}=colab on a GPU for the paper's setting"


def cpu_count() -> int:
    """The CPUs this process may use (its affinity, where the system tells it): 2 in Colab."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def workers(profile: Profile) -> int:
    """The profile's DataLoader workers: its own number, or one per CPU present when None."""
    return cpu_count() if profile.num_workers is None else profile.num_workers


def summary(profile: Profile | None = None) -> str:
    """The one line a chapter prints at its top: the profile, why, and its main sizes."""
    profile = profile or current()
    chosen = f" ({why()})" if profile is current() else ""
    return (
        f"profile {profile.name}{chosen}: COCO {profile.arch} "
        f"({profile.weights or 'random init'}) at {profile.image_size} px; ContextShapes "
        f"{profile.shapes_arch} at {profile.shapes_image_size} px"
    )
