"""The two run profiles: ``quick`` (CPU, minutes) and ``full`` (GPU, the real run).

Every notebook and command reads its sizes from :func:`current`, and prints the profile, so every
output says how it was made. Only ``ROIATTN_PROFILE`` switches it; unset means ``full`` when CUDA
is available, else ``quick``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch

ENV_VAR = "ROIATTN_PROFILE"


@dataclass(frozen=True)
class Profile:
    """All the sizes a run depends on."""

    name: str
    device: str
    arch: str
    weights: str | None  # torchvision weights name for the backbone, or None for random init
    image_size: int
    batch_size: int
    num_workers: int
    epochs: int
    lr: float
    max_train_items: int | None  # cap on COCO training regions (None: all)
    max_test_items: int | None
    download_images: int  # COCO images to fetch when no local COCO folder is found
    shapes_train: int  # ContextShapes scenes for training
    shapes_test: int
    shapes_image_size: int
    seed: int = 0

    def describe(self) -> str:
        """One line per setting, for printing at the top of a notebook or a run."""
        rows = [f"profile: {self.name}"]
        rows += [f"  {f.name}: {getattr(self, f.name)}" for f in dataclasses.fields(self)[1:]]
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.describe()


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        device="cpu",
        arch="resnet18",
        weights=None,
        image_size=96,
        batch_size=32,
        num_workers=0,
        epochs=2,
        lr=1e-3,
        max_train_items=1200,
        max_test_items=600,
        download_images=64,
        shapes_train=1500,
        shapes_test=500,
        shapes_image_size=64,
    ),
    "full": Profile(
        name="full",
        device="cuda",
        arch="resnet50",
        weights="DEFAULT",
        image_size=224,
        batch_size=64,
        num_workers=8,
        epochs=8,
        lr=1e-4,
        max_train_items=None,
        max_test_items=None,
        download_images=6000,
        shapes_train=20000,
        shapes_test=4000,
        shapes_image_size=128,
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
