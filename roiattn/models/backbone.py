"""The one small interface every method reaches a backbone through.

A backbone is a classification network that declares its **merge points** in network order
(name, channels, stride: like timm's ``feature_info``) and has one ``walk(x, at)`` that runs
its parts in order and, at each named point, *replaces* the activation with ``at[name](x)``.
Methods know nothing else about it, so every method id works on every backbone.

The points carry the paper's ResNet names on every backbone, each at the same stride:
``conv1`` (alias ``stem``) is the first conv's output *before* its norm, the paper's
"first layer" (stride 2); ``layer1`` ... ``layer4`` are the ends of the stages at strides
4, 8, 16 and 32 (``layerK`` also answers to ``stageK``). ``input`` is the normalised image.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from torch import Tensor, nn

MERGE_POINTS: tuple[str, ...] = ("conv1", "layer1", "layer2", "layer3", "layer4")
POINT_ALIASES: dict[str, str] = {
    "stem": "conv1",
    **{f"stage{k}": f"layer{k}" for k in range(1, 5)},
}

Transform = Callable[[Tensor], Tensor]


def canonical_point(name: str) -> str:
    """A merge point's name as method ids write it (``stem`` -> ``conv1``, ``stage3`` ->
    ``layer3``)."""
    return POINT_ALIASES.get(name, name)


@dataclass(frozen=True)
class MergePoint:
    """A place in the backbone where a method may act on the activations."""

    name: str
    channels: int
    stride: int


class Backbone(nn.Module):
    """What a method may use of a backbone: its merge points, ``walk``, its classifier ``fc``,
    and a new conv with the geometry of its first one (for the mask as an input channel).

    Subclasses are plain ``nn.Module`` networks (a torchvision ``ResNet``, an EfficientNet-Lite)
    that add ``merge_points``, ``walk`` and ``stem_like``; ``forward(x)`` is ``walk(x, {})``.
    """

    merge_points: tuple[MergePoint, ...] = ()
    fc: nn.Linear

    def walk(self, x: Tensor, at: Mapping[str, Transform]) -> Tensor:
        raise NotImplementedError

    def stem_like(self, in_channels: int) -> nn.Conv2d:
        """A new conv with the first conv's kernel, stride and padding, reading
        ``in_channels`` channels, without a bias."""
        raise NotImplementedError

    def channels(self) -> dict[str, int]:
        """The number of channels at each merge point."""
        return {point.name: point.channels for point in self.merge_points}
