"""The torchvision ResNet every model is built on, and the walk through its stages.

A merge point is where a side branch meets the main branch: ``conv1`` is the conv1 output
*before* bn1 (the paper's "first layer"); ``layerK`` is the output of stage K.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torch import Tensor, nn
from torchvision.models import ResNet
from torchvision.models.resnet import BasicBlock

from roiattn.errors import WeightsUnavailableError

# ResNets torchvision does not ship, for training from random weights on a CPU: name ->
# (BasicBlocks per stage, channels per stage). resnet10_w32 has one block per stage at half
# ResNet-18's width: 1.2M parameters against 11.2M, 0.50 GFLOPs against 3.6 at 224 px.
SMALL_RESNETS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "resnet10_w32": ((1, 1, 1, 1), (32, 64, 128, 256)),
}
RESNET_ARCHS: tuple[str, ...] = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "wide_resnet50_2",
    "wide_resnet101_2",
    *SMALL_RESNETS,
)
MERGE_POINTS: tuple[str, ...] = ("conv1", "layer1", "layer2", "layer3", "layer4")

Transform = Callable[[Tensor], Tensor]


def _weights_entry(arch: str, weights: str | torchvision.models.WeightsEnum):
    if isinstance(weights, torchvision.models.WeightsEnum):
        return weights
    enum = torchvision.models.get_model_weights(arch)
    name = weights.rsplit(".", 1)[-1]  # accept "ResNet50_Weights.IMAGENET1K_V2" as well
    try:
        return enum[name]
    except KeyError:
        valid = ["DEFAULT", *enum.__members__]
        raise ValueError(
            f"unknown weights {weights!r} for {arch}: choose one of {sorted(set(valid))} or None"
        ) from None


def _load_state_dict(arch: str, entry) -> dict[str, Tensor]:
    filename = os.path.basename(urlparse(entry.url).path)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / filename
    try:
        return entry.get_state_dict(progress=True, check_hash=True)
    except OSError as error:  # URLError, connection refused, DNS failure, disk full
        raise WeightsUnavailableError(
            f"could not download the {entry} weights for {arch} from {entry.url} ({error}). "
            f"Without internet, download that file on a machine that has it and copy it to "
            f"{cached} (torch.hub's cache; set TORCH_HOME to move it), "
            "or build the model with weights=None."
        ) from error
    except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as error:
        raise WeightsUnavailableError(
            f"the cached weights file {cached} could not be read ({error}): "
            "delete it and run again to download it afresh."
        ) from error


class SmallResNet(ResNet):
    """torchvision's ResNet with BasicBlocks, ``layers`` blocks per stage and ``widths``
    channels per stage instead of ResNet-18's 64-128-256-512.

    It has the same parts (``conv1`` ... ``layer4``, ``fc``) and torchvision's initialisation,
    so every merge point and every method works on it unchanged. No pretrained weights exist.
    """

    def __init__(
        self, layers: tuple[int, ...], widths: tuple[int, ...], num_classes: int = 1000
    ) -> None:
        super().__init__(BasicBlock, list(layers), num_classes=num_classes)
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        for stage, (width, blocks) in enumerate(zip(widths, layers, strict=True), start=1):
            layer = self._make_layer(BasicBlock, width, blocks, stride=1 if stage == 1 else 2)
            setattr(self, f"layer{stage}", layer)
        self.fc = nn.Linear(widths[-1], num_classes)
        for module in self.modules():  # as torchvision's ResNet initialises its own layers
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)


def make_resnet(
    arch: str = "resnet50",
    num_classes: int = 80,
    weights: str | torchvision.models.WeightsEnum | None = None,
) -> ResNet:
    """A torchvision ResNet with a fresh ``fc`` for ``num_classes``.

    ``weights`` is a torchvision weights name (``"DEFAULT"``, ``"IMAGENET1K_V2"``, ...) or None.
    Pretrained weights come through torch.hub's cache, so an offline machine can use a copied file.
    """
    if arch not in RESNET_ARCHS:
        raise ValueError(f"unknown arch {arch!r}: choose one of {RESNET_ARCHS}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if arch in SMALL_RESNETS:
        if weights is not None:
            raise ValueError(
                f"{arch} has no pretrained weights: build it with weights=None, or choose a "
                f"torchvision arch ({', '.join(a for a in RESNET_ARCHS if a not in SMALL_RESNETS)})"
            )
        return SmallResNet(*SMALL_RESNETS[arch], num_classes=num_classes)
    if weights is None:
        return torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    entry = _weights_entry(arch, weights)
    model = torchvision.models.get_model(arch, weights=None)
    model.load_state_dict(_load_state_dict(arch, entry))
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def stage_channels(backbone: ResNet) -> dict[str, int]:
    """The number of channels at each merge point of ``backbone``."""
    channels = {"conv1": backbone.conv1.out_channels}
    for name in MERGE_POINTS[1:]:
        last_block = getattr(backbone, name)[-1]
        last_conv = getattr(last_block, "conv3", None) or last_block.conv2
        channels[name] = last_conv.out_channels
    return channels


def resnet_forward(backbone: ResNet, x: Tensor, at: Mapping[str, Transform]) -> Tensor:
    """Run ``backbone`` on ``x``, applying ``at[point]`` to the activations at each named point.

    Points: ``input`` (the image) and the merge points. With ``at`` empty this is exactly
    ``backbone(x)``.
    """
    if "input" in at:
        x = at["input"](x)
    x = backbone.conv1(x)
    if "conv1" in at:
        x = at["conv1"](x)
    x = backbone.maxpool(backbone.relu(backbone.bn1(x)))
    for name in MERGE_POINTS[1:]:
        x = getattr(backbone, name)(x)
        if name in at:
            x = at[name](x)
    x = torch.flatten(backbone.avgpool(x), 1)
    return backbone.fc(x)
