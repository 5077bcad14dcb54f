"""What the paper's method is compared with: hard attention, cropping, a blurred background,
the mask as a channel, and the whole image with the mask ignored."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torchvision.ops import roi_align
from torchvision.transforms.v2.functional import gaussian_blur

from roiattn.masks import RESIZE_MODES, as_mask_batch, resize_mask
from roiattn.models.base import RegionClassifier, check_inputs


class ImageOnlyNet(RegionClassifier):
    """The whole image, mask ignored: the lower bound (it cannot know which object is meant)."""

    method = "image"

    def classify(self, images: Tensor, masks: Tensor) -> Tensor:
        return self.backbone(images)


class HardAttentionNet(RegionClassifier):
    """Everything outside the ROI is zeroed at one point: ``input``, or one of the backbone's
    merge points (on the CNNs ``conv1``/``stem``, ``layerK``).

    At ``input`` the images are normalised, so the background becomes the mean colour. Deeper,
    the mask is resized to the feature map with ``mask_resize`` (``max`` by default, so a small
    region keeps at least one cell) and every cell outside it is zeroed.
    """

    def __init__(
        self,
        arch: str = "resnet50",
        num_classes: int = 80,
        at: str = "input",
        mask_resize: str = "max",
        weights: str | None = None,
    ) -> None:
        if mask_resize not in RESIZE_MODES:
            raise ValueError(f"unknown mask_resize {mask_resize!r}: choose one of {RESIZE_MODES}")
        super().__init__(arch, num_classes, weights)
        (self.at,) = self.backbone.resolve(at, with_input=True)
        self.mask_resize = mask_resize
        self.method = f"hard@{self.at}"

    def classify(self, images: Tensor, masks: Tensor) -> Tensor:
        def keep_roi(x: Tensor) -> Tensor:
            inside = resize_mask(masks, x.shape[-2:], self.mask_resize) > 0
            return x * inside.to(x.dtype)

        return self.backbone.walk(images, {self.at: keep_roi})

    def options(self) -> dict[str, object]:
        return {"mask_resize": self.mask_resize}


def blur_background(images: Tensor, masks: Tensor, sigma: float = 0.05) -> Tensor:
    """Each image with everything outside its mask blurred by a Gaussian of standard deviation
    ``sigma`` times the image's side: what ``blur@input`` classifies. ``masks`` must already be
    a ``(B, 1, H, W)`` batch; a soft mask mixes the sharp and the blurred image."""
    std = sigma * max(images.shape[-2:])
    kernel = 2 * math.ceil(3 * std) + 1
    kernel = min(kernel, 2 * (min(images.shape[-2:]) // 2) - 1)  # reflection needs a margin
    blurred = gaussian_blur(images, [kernel, kernel], [std, std])
    masks = masks.to(images.dtype)
    return masks * images + (1 - masks) * blurred


class BlurNet(RegionClassifier):
    """The background blurred outside the mask, the region kept sharp (FGVP's best visual
    prompt, Yang et al. 2023): the context stays, at low resolution, and nothing is learned.

    Beyond the paper: a training-free way to say "this region" that keeps what hard attention
    throws away.
    """

    method = "blur@input"

    def __init__(
        self,
        arch: str = "resnet50",
        num_classes: int = 80,
        sigma: float = 0.05,
        weights: str | None = None,
    ) -> None:
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0 (a fraction of the image side), got {sigma}")
        super().__init__(arch, num_classes, weights)
        self.sigma = sigma

    def blur(self, images: Tensor, masks: Tensor) -> Tensor:
        """The images the backbone sees (for figures)."""
        return blur_background(images, check_inputs(images, masks), self.sigma)

    def classify(self, images: Tensor, masks: Tensor) -> Tensor:
        return self.backbone(blur_background(images, masks, self.sigma))

    def options(self) -> dict[str, object]:
        return {"sigma": self.sigma}


def mask_boxes(masks: Tensor, margin: float) -> Tensor:
    """Each mask's bounding box ``(x0, y0, x1, y1)`` in pixel edges, grown by ``margin`` times its
    size on every side and clipped to the image. An empty mask gives the whole image."""
    masks = as_mask_batch(masks)
    b, _, h, w = masks.shape
    inside = masks[:, 0] > 0
    rows, cols = inside.any(dim=2), inside.any(dim=1)
    ys = torch.arange(h, device=masks.device).expand(b, h)
    xs = torch.arange(w, device=masks.device).expand(b, w)
    y0 = torch.where(rows, ys, h).amin(1).float()
    y1 = torch.where(rows, ys, -1).amax(1).float() + 1
    x0 = torch.where(cols, xs, w).amin(1).float()
    x1 = torch.where(cols, xs, -1).amax(1).float() + 1
    empty = ~rows.any(1)
    y0, x0 = torch.where(empty, 0.0, y0), torch.where(empty, 0.0, x0)
    y1, x1 = torch.where(empty, float(h), y1), torch.where(empty, float(w), x1)
    grow_y, grow_x = margin * (y1 - y0), margin * (x1 - x0)
    return torch.stack(
        [
            (x0 - grow_x).clamp(min=0),
            (y0 - grow_y).clamp(min=0),
            (x1 + grow_x).clamp(max=w),
            (y1 + grow_y).clamp(max=h),
        ],
        dim=1,
    )


def crop_to_mask(images: Tensor, masks: Tensor, margin: float = 0.1) -> Tensor:
    """Each image cut to its mask's box (grown by ``margin``) and resized back to the images'
    size: what ``crop`` classifies. ``masks`` must already be a ``(B, 1, H, W)`` batch."""
    boxes = mask_boxes(masks, margin).to(images.dtype)
    indexed = torch.cat([torch.arange(len(boxes), device=boxes.device)[:, None], boxes], 1)
    return roi_align(images, indexed, images.shape[-2:], 1.0, sampling_ratio=2, aligned=True)


class CropNet(RegionClassifier):
    """The image cropped to the ROI's box (plus ``margin``) and resized to the input size.

    The crop is taken from the network's input, so a tiny region is upsampled from few pixels:
    a dataset that crops at native resolution would do better, at the price of its own pipeline.
    """

    method = "crop"

    def __init__(
        self,
        arch: str = "resnet50",
        num_classes: int = 80,
        margin: float = 0.1,
        weights: str | None = None,
    ) -> None:
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        super().__init__(arch, num_classes, weights)
        self.margin = margin

    def crop(self, images: Tensor, masks: Tensor) -> Tensor:
        """The crops the backbone sees, shaped like ``images`` (for figures)."""
        return crop_to_mask(images, check_inputs(images, masks), self.margin)

    def classify(self, images: Tensor, masks: Tensor) -> Tensor:
        return self.backbone(crop_to_mask(images, masks, self.margin))

    def options(self) -> dict[str, object]:
        return {"margin": self.margin}


class MaskChannelNet(RegionClassifier):
    """The mask as a fourth input channel of the first conv, its filter zero-initialised.

    Written as a separate conv of the mask (the first conv's kernel, stride and padding) added
    to the first conv's output: by linearity that is exactly a 4-channel first conv, and it
    leaves the pretrained 3-channel filter untouched. Compare with ``attn-add@conv1``, which
    adds a 3x3 conv of the *resized* mask at the same point.
    """

    method = "mask-channel"

    def __init__(
        self, arch: str = "resnet50", num_classes: int = 80, weights: str | None = None
    ) -> None:
        super().__init__(arch, num_classes, weights)
        self.mask_conv = self.backbone.stem_like(1)
        nn.init.zeros_(self.mask_conv.weight)

    def mask_parameters(self) -> list[nn.Parameter]:
        return list(self.mask_conv.parameters())

    def classify(self, images: Tensor, masks: Tensor) -> Tensor:
        def add_mask_channel(x: Tensor) -> Tensor:
            return x + self.mask_conv(masks.to(x.dtype))

        stem = self.backbone.merge_points[0].name  # the first conv's output
        return self.backbone.walk(images, {stem: add_mask_channel})
