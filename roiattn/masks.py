"""ROI masks: checking them and resizing them to the size of a feature map.

The paper resizes the mask bilinearly to each merge point's spatial size. That makes a small
region fade, and at deep layers vanish: ``max`` and ``area`` are the two alternatives the book
compares with it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

ResizeMode = Literal["bilinear", "nearest", "area", "max"]
RESIZE_MODES: tuple[str, ...] = ("bilinear", "nearest", "area", "max")


def as_mask_batch(mask: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Check a mask and return it as float32 ``(B, 1, H, W)`` with values in [0, 1].

    Accepts ``(H, W)``, ``(B, H, W)`` or ``(B, 1, H, W)``; bool, integer (0 or 1) or float in
    [0, 1]. Anything else raises ``ValueError`` saying what was expected and what came.
    """
    if isinstance(mask, np.ndarray):
        mask = torch.from_numpy(mask)
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"mask must be a torch.Tensor or numpy array, got {type(mask).__name__}")
    if mask.is_complex():
        raise ValueError(f"mask must be bool, integer or float, got {mask.dtype}")
    if mask.dim() == 2:
        mask = mask[None, None]
    elif mask.dim() == 3:
        mask = mask[:, None]
    elif mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(
            f"mask must be shaped (H, W), (B, H, W) or (B, 1, H, W), got shape {tuple(mask.shape)}"
        )
    if mask.numel() == 0:
        raise ValueError(f"mask is empty (shape {tuple(mask.shape)})")
    if mask.dtype == torch.bool:
        return mask.float()
    mask = mask.float()
    if mask.is_cuda:
        # Reading the values back would make every GPU step wait; check them on the device.
        inside = torch.logical_and(mask >= 0, mask <= 1).all()
        torch._assert_async(inside, "mask values must lie in [0, 1] (and not be NaN)")
        return mask
    low, high = torch.aminmax(mask)
    low, high = float(low), float(high)
    if np.isnan(low) or np.isnan(high):
        raise ValueError("mask contains NaN: expected values in [0, 1]")
    if low < 0 or high > 1:
        hint = " (a 0/255 mask: divide it by 255)" if high == 255 else ""
        raise ValueError(f"mask values must lie in [0, 1], got min {low:g}, max {high:g}{hint}")
    return mask


def _check_size(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int | np.integer):
        size = (int(size), int(size))
    if (
        not isinstance(size, tuple | list | torch.Size)
        or len(size) != 2
        or not all(isinstance(s, int | np.integer) for s in size)
    ):
        raise ValueError(f"size must be an int or a pair of ints (h, w), got {size!r}")
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {(h, w)}")
    return h, w


def resize_mask(
    mask: torch.Tensor | np.ndarray,
    size: int | tuple[int, int],
    mode: ResizeMode = "bilinear",
) -> torch.Tensor:
    """Resize an ROI mask to ``size`` and return it as float ``(B, 1, h, w)``.

    Modes:
      - ``bilinear``: the paper's; identical to ``F.interpolate(..., mode="bilinear")``.
      - ``nearest``: picks one pixel per cell, so a small region can vanish.
      - ``area``: the fraction of each cell the region covers.
      - ``max``: 1 where any region pixel falls in the cell, so a tiny region never vanishes.
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode {mode!r}: choose one of {RESIZE_MODES}")
    h, w = _check_size(size)
    mask = as_mask_batch(mask)
    if mask.shape[-2:] == (h, w):
        return mask
    if mode == "bilinear":
        return F.interpolate(mask, size=(h, w), mode="bilinear", align_corners=False)
    if mode == "nearest":
        return F.interpolate(mask, size=(h, w), mode="nearest")
    if mode == "area":
        return F.adaptive_avg_pool2d(mask, (h, w))
    return F.adaptive_max_pool2d(mask, (h, w))
