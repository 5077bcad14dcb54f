"""Image normalisation shared by every dataset: torchvision's ImageNet mean and std."""

from __future__ import annotations

import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(3, 1, 1)


def normalize(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``(H, W, 3)`` RGB -> normalised float ``(3, H, W)``, as every model expects."""
    pixels = torch.as_tensor(np.ascontiguousarray(image))
    if pixels.dtype != torch.uint8 or pixels.dim() != 3 or pixels.shape[-1] != 3:
        raise ValueError(
            f"expected a uint8 RGB image shaped (H, W, 3), got {pixels.dtype} {tuple(pixels.shape)}"
        )
    return (pixels.permute(2, 0, 1).float().div_(255) - _MEAN) / _STD


def denormalize(image: torch.Tensor) -> np.ndarray:
    """Normalised float ``(3, H, W)`` -> float ``(H, W, 3)`` in [0, 1], for plotting."""
    pixels = image.detach().cpu().float() * _STD + _MEAN
    return pixels.clamp(0, 1).permute(1, 2, 0).numpy()
