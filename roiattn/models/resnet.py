"""torchvision's ResNets as backbones: the paper's network and its small CPU-sized cousin.

``ResNetBackbone`` *is* a torchvision ``ResNet`` (same parts, same state-dict keys, same
initialisation, same weights) that also declares its merge points and walks its stages.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torch import Tensor, nn
from torchvision.models import ResNet
from torchvision.models.resnet import BasicBlock, Bottleneck

from roiattn.errors import WeightsUnavailableError
from roiattn.models.backbone import Backbone, MergePoint, Transform

# torchvision's ResNet variants: name -> (block, blocks per stage, constructor options),
# as torchvision's own builders (resnet18, resnext50_32x4d, ...) make them.
TORCHVISION_RESNETS: dict[str, tuple[type[nn.Module], tuple[int, ...], dict[str, int]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2), {}),
    "resnet34": (BasicBlock, (3, 4, 6, 3), {}),
    "resnet50": (Bottleneck, (3, 4, 6, 3), {}),
    "resnet101": (Bottleneck, (3, 4, 23, 3), {}),
    "resnet152": (Bottleneck, (3, 8, 36, 3), {}),
    "resnext50_32x4d": (Bottleneck, (3, 4, 6, 3), {"groups": 32, "width_per_group": 4}),
    "resnext101_32x8d": (Bottleneck, (3, 4, 23, 3), {"groups": 32, "width_per_group": 8}),
    "resnext101_64x4d": (Bottleneck, (3, 4, 23, 3), {"groups": 64, "width_per_group": 4}),
    "wide_resnet50_2": (Bottleneck, (3, 4, 6, 3), {"width_per_group": 128}),
    "wide_resnet101_2": (Bottleneck, (3, 4, 23, 3), {"width_per_group": 128}),
}
# ResNets torchvision does not ship, for training from random weights on a CPU: name ->
# (BasicBlocks per stage, channels per stage). resnet10_w32 has one block per stage at half
# ResNet-18's width: 1.2M parameters against 11.2M, 0.50 GFLOPs against 3.6 at 224 px.
SMALL_RESNETS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "resnet10_w32": ((1, 1, 1, 1), (32, 64, 128, 256)),
}
RESNET_ARCHS: tuple[str, ...] = (*TORCHVISION_RESNETS, *SMALL_RESNETS)


class ResNetBackbone(ResNet, Backbone):
    """A torchvision ResNet that names its merge points: ``conv1`` (before ``bn1``) and the
    outputs of ``layer1`` ... ``layer4``."""

    @property
    def merge_points(self) -> tuple[MergePoint, ...]:
        points = [MergePoint("conv1", self.conv1.out_channels, 2)]
        for k in range(1, 5):
            last_block = getattr(self, f"layer{k}")[-1]
            last_conv = getattr(last_block, "conv3", None) or last_block.conv2
            points.append(MergePoint(f"layer{k}", last_conv.out_channels, 2 ** (k + 1)))
        return tuple(points)

    def walk(self, x: Tensor, at: Mapping[str, Transform]) -> Tensor:
        """torchvision's ``ResNet.forward``, with ``at[point]`` applied at each named point."""
        if "input" in at:
            x = at["input"](x)
        x = self.conv1(x)
        if "conv1" in at:
            x = at["conv1"](x)
        x = self.maxpool(self.relu(self.bn1(x)))
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
            if name in at:
                x = at[name](x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)

    def stem_like(self, in_channels: int) -> nn.Conv2d:
        conv1 = self.conv1
        return nn.Conv2d(
            in_channels,
            conv1.out_channels,
            conv1.kernel_size,
            stride=conv1.stride,
            padding=conv1.padding,
            bias=False,
        )


class SmallResNet(ResNetBackbone):
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


def make_resnet(
    arch: str = "resnet50",
    num_classes: int = 80,
    weights: str | torchvision.models.WeightsEnum | None = None,
) -> ResNetBackbone:
    """A torchvision ResNet with a fresh ``fc`` for ``num_classes``.

    ``weights`` is a torchvision weights name (``"DEFAULT"``, ``"IMAGENET1K_V2"``, ...) or None.
    Pretrained weights come through torch.hub's cache, so an offline machine can use a copied file;
    with them and 1000 classes the ImageNet classifier is kept.
    """
    if arch not in RESNET_ARCHS:
        raise ValueError(f"unknown arch {arch!r}: choose one of {RESNET_ARCHS}")
    if arch in SMALL_RESNETS:
        if weights is not None:
            raise ValueError(
                f"{arch} has no pretrained weights: build it with weights=None, or choose a "
                f"pretrained arch ({', '.join(TORCHVISION_RESNETS)}, efficientnet_lite0)"
            )
        return SmallResNet(*SMALL_RESNETS[arch], num_classes=num_classes)
    block, layers, options = TORCHVISION_RESNETS[arch]
    if weights is None:
        return ResNetBackbone(block, list(layers), num_classes=num_classes, **options)
    entry = _weights_entry(arch, weights)
    model = ResNetBackbone(block, list(layers), **options)
    model.load_state_dict(_load_state_dict(arch, entry))
    if num_classes != 1000:
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
