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
OPTIMIZERS: tuple[str, ...] = ("adamw", "adam", "sgd")
SCHEDULES: tuple[str, ...] = ("cosine", "constant")


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
    # ContextShapes trains its own backbone at its own rate (see for_shapes)
    shapes_arch: str
    shapes_lr: float
    seed: int = 0
    # How fit trains (see roiattn.train.fit); the paper's own recipe was Adam, lr 1e-5, wd 1e-5.
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    max_steps: int | None = None  # stop after this many optimizer steps (None: all epochs)
    grad_clip: float | None = None  # max gradient norm (None: no clipping)
    amp: bool = False  # mixed precision (bf16 where supported, else fp16); CUDA only
    channels_last: bool = False  # NHWC memory layout, faster convolutions on tensor cores
    eval_batch_size: int = 64

    def __post_init__(self) -> None:
        positive = ("image_size", "batch_size", "epochs", "eval_batch_size", "shapes_image_size")
        for field in positive:
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"profile {self.name!r}: {field} must be a positive int, got {value!r}"
                )
        if self.num_workers < 0:
            raise ValueError(
                f"profile {self.name!r}: num_workers must be >= 0, got {self.num_workers}"
            )
        if self.lr <= 0 or self.shapes_lr <= 0 or self.weight_decay < 0:
            raise ValueError(
                f"profile {self.name!r}: lr and shapes_lr must be > 0 and weight_decay >= 0, "
                f"got lr={self.lr}, shapes_lr={self.shapes_lr}, weight_decay={self.weight_decay}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"profile {self.name!r}: unknown optimizer {self.optimizer!r}, choose one of "
                f"{OPTIMIZERS}"
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"profile {self.name!r}: unknown schedule {self.schedule!r}, choose one of "
                f"{SCHEDULES}"
            )
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"profile {self.name!r}: max_steps must be >= 1 or None")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"profile {self.name!r}: grad_clip must be > 0 or None")

    def replace(self, **changes: object) -> Profile:
        """A copy with some settings changed (checked like the original), e.g. from the command
        line; the name gets a ``+`` so printed output shows it is not the stock profile."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown profile settings {unknown}: choose from {sorted(known)}")
        changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not changed:
            return self
        name = changes.get("name", self.name if self.name.endswith("+") else self.name + "+")
        return dataclasses.replace(self, **{**changed, "name": name})

    def for_shapes(self) -> Profile:
        """These settings as ContextShapes trains with them: ``shapes_arch`` and ``shapes_lr``
        in place of ``arch`` and ``lr``, under the same name.

        On a CPU, eight ResNet-18s take a quarter of an hour to learn the world; the quick
        profile's ContextShapes runs use ``resnet10_w32``, a seventh of ResNet-18's compute,
        which learns it at least as well at a higher rate (chapter 5, exercise 6). The full
        profile trains the same ResNet-50 on both.
        """
        return self.replace(name=self.name, arch=self.shapes_arch, lr=self.shapes_lr)

    def to_dict(self) -> dict[str, object]:
        """Every setting, JSON-able, for the provenance of saved results."""
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """One line per setting, for printing at the top of a notebook or a run."""
        rows = [f"profile: {self.name}"]
        rows += [f"  {f.name}: {getattr(self, f.name)}" for f in dataclasses.fields(self)[1:]]
        return "\n".join(rows)

    def summary(self) -> str:
        """One line: what a training run of this profile does."""
        steps = f", at most {self.max_steps} steps" if self.max_steps else ""
        return (
            f"profile {self.name}: {self.arch} ({self.weights or 'random init'}), "
            f"{self.image_size}px, batch {self.batch_size}, {self.epochs} epochs{steps}, "
            f"{self.optimizer} lr {self.lr:g} wd {self.weight_decay:g} {self.schedule}, "
            f"seed {self.seed}"
        )

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
        shapes_train=800,  # 5 regions a scene: 4000 training regions, 250 steps in 2 epochs
        shapes_test=300,
        shapes_image_size=48,  # specks of a cluster closer than a layer3 cell (16 px)
        shapes_arch="resnet10_w32",  # 8 methods in about 3 minutes on 2 cores
        shapes_lr=3e-3,
        weight_decay=1e-4,
        amp=False,
        channels_last=False,
        eval_batch_size=64,
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
        shapes_image_size=64,  # up to 64 px the specks of a cluster share layer3 cells
        shapes_arch="resnet50",
        shapes_lr=1e-4,
        weight_decay=1e-4,
        amp=True,
        channels_last=True,
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
