"""What every region classifier shares: a backbone, a method id, and checked inputs."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from roiattn.masks import as_mask_batch
from roiattn.models.archs import make_backbone


def check_inputs(images: Tensor, masks: Tensor | np.ndarray) -> Tensor:
    """Validate a batch and return its masks as float ``(B, 1, H, W)`` on the images' device."""
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if not images.is_floating_point():
        raise ValueError(
            f"images must be normalised floats, got {images.dtype}: convert with "
            "torchvision.transforms.v2 (ToDtype(torch.float32, scale=True), then Normalize)"
        )
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be shaped (B, 3, H, W), got {tuple(images.shape)}")
    masks = as_mask_batch(masks).to(images.device)
    if masks.shape[0] != images.shape[0] or masks.shape[-2:] != images.shape[-2:]:
        raise ValueError(
            f"masks {tuple(masks.shape)} do not match images {tuple(images.shape)}: give one "
            "mask per image at the image's height and width"
        )
    return masks


class RegionClassifier(nn.Module):
    """Base class: ``model(images, masks) -> logits`` over a ``backbone`` (any arch of
    :data:`roiattn.models.ARCHS`, reached only through its merge points and ``walk``).

    Subclasses implement ``classify(images, masks)`` with masks already checked, and say in
    ``options()`` the settings that rebuild them (beside method, arch and classes).
    """

    method: str = ""

    def __init__(self, arch: str, num_classes: int, weights: str | None) -> None:
        super().__init__()
        self.arch = arch
        self.num_classes = num_classes
        self.backbone = make_backbone(arch, num_classes, weights)

    def forward(self, images: Tensor, masks: Tensor) -> Tensor:
        return self.classify(images, check_inputs(images, masks))

    def classify(self, images: Tensor, masks: Tensor) -> Tensor:
        raise NotImplementedError

    def options(self) -> dict[str, object]:
        """The options :func:`~roiattn.models.build_model` takes to make this model again."""
        return {}

    def mask_parameters(self) -> list[nn.Parameter]:
        """The parameters that read the mask (a side branch, a mask filter), which training may
        give a learning rate of their own; none for a model whose mask path has no weights."""
        return []

    def extra_repr(self) -> str:
        return f"method={self.method!r}, arch={self.arch!r}, num_classes={self.num_classes}"
