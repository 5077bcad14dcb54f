"""Classify one region of one image: what a reader does with a trained model.

``load_model(path)`` rebuilds a model from its checkpoint alone (method, arch, classes and
weights are all in it); ``predict(model, image, mask)`` gives the top classes with their
probabilities.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from roiattn.checkpoints import load_checkpoint, model_from_checkpoint
from roiattn.data.images import normalize
from roiattn.masks import resize_mask
from roiattn.runtime import resolve_device


def load_model(checkpoint: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """The model saved in ``checkpoint`` (a file, or a training run's folder), in eval mode,
    with ``.classes`` (names) and ``.meta`` (image size, view) from the checkpoint."""
    return model_from_checkpoint(load_checkpoint(checkpoint), resolve_device(device))


def _image_tensor(image: Image.Image | np.ndarray | torch.Tensor) -> torch.Tensor:
    """A normalised float ``(3, H, W)`` from a PIL image, a uint8 array (RGB, RGBA or gray),
    or an already normalised tensor."""
    if isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] != 3 or not image.is_floating_point():
            raise ValueError(
                "a tensor image must be normalised float (3, H, W) (see roiattn.data.normalize), "
                f"got {image.dtype} {tuple(image.shape)}"
            )
        return image
    if isinstance(image, Image.Image):
        image = np.array(image.convert("RGB"))  # writable, so torch takes it as is
    if not isinstance(image, np.ndarray):
        raise ValueError(
            "image must be a PIL image, a uint8 numpy array or a tensor, "
            f"got {type(image).__name__}"
        )
    if not image.flags.writeable:  # e.g. np.asarray(pil_image): torch wants its own copy
        image = image.copy()
    if image.dtype != np.uint8:
        raise ValueError(f"a numpy image must be uint8 (0-255), got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    elif image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"a numpy image must be (H, W), (H, W, 3) or (H, W, 4), got {image.shape}")
    return normalize(image)


def _mask_tensor(mask: Image.Image | np.ndarray | torch.Tensor) -> torch.Tensor:
    """A float ``(H, W)`` mask; a PIL mask counts every non-zero pixel as the region."""
    if isinstance(mask, Image.Image):
        mask = np.asarray(mask.convert("L")) > 0
    if isinstance(mask, np.ndarray):
        mask = torch.from_numpy(np.ascontiguousarray(mask))
    if not isinstance(mask, torch.Tensor):
        raise ValueError(
            f"mask must be a PIL image, numpy array or tensor, got {type(mask).__name__}"
        )
    mask = mask.squeeze()
    if mask.dim() != 2:
        raise ValueError(f"mask must be one (H, W) region, got shape {tuple(mask.shape)}")
    return resize_mask(mask, tuple(mask.shape))[0, 0]  # checks values, makes float


@torch.inference_mode()
def predict(
    model: nn.Module,
    image: Image.Image | np.ndarray | torch.Tensor,
    mask: Image.Image | np.ndarray | torch.Tensor,
    top_k: int = 5,
    classes: Sequence[str] | None = None,
    image_size: int | None = None,
) -> list[tuple[str, float]]:
    """The ``top_k`` most probable classes of the region ``mask`` marks in ``image``, as
    ``(class name, probability)``, most probable first.

    ``image_size``: resize image and mask to this square first (default: the size the model
    was trained at, from its checkpoint, else the image as it is). The mask is resized so that
    a small region never vanishes. Class names come from ``classes``, else the checkpoint.
    """
    pixels = _image_tensor(image)
    region = _mask_tensor(mask)
    if region.shape != pixels.shape[-2:]:
        raise ValueError(
            f"mask {tuple(region.shape)} and image {tuple(pixels.shape[-2:])} differ in size: "
            "give a mask of the image's height and width"
        )
    if not (region > 0).any():
        raise ValueError("the mask marks no pixel: give a mask with at least one region pixel")
    num_classes = getattr(model, "num_classes", None)
    names = list(classes) if classes is not None else getattr(model, "classes", None)
    if names is None:
        names = [f"class {i}" for i in range(num_classes or 0)]
    if num_classes is not None and len(names) != num_classes:
        raise ValueError(f"{len(names)} class names for a model with {num_classes} outputs")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive int, got {top_k!r}")
    size = image_size or (getattr(model, "meta", None) or {}).get("image_size")
    images, masks = pixels[None], region[None, None]
    if size:
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True)
        masks = resize_mask(masks, size, "max")
    parameter = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        logits = model(images.to(parameter.device), masks.to(parameter.device))
    finally:
        model.train(was_training)
    probabilities = logits.float().softmax(1)[0].cpu()
    values, indices = probabilities.topk(min(top_k, len(probabilities)))
    return [(names[i], float(p)) for p, i in zip(values.tolist(), indices.tolist(), strict=True)]
