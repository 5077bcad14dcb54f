"""The one small interface every method reaches a backbone through.

A backbone is a classification network that declares its **merge points** in network order
(name, channels, stride: like timm's ``feature_info``) and has one ``walk(x, at)`` that runs
its parts in order and, at each named point, *replaces* the activation with ``at[name](x)``.
A transform receives and returns an ``(N, C, H, W)`` activation. The backbone owns its points:
their names, their other names (``aliases``), and what ``all`` means on it, and
:meth:`Backbone.resolve` checks a method's points against them once. Methods know nothing else
about it, so every method id works on every backbone.

The book's CNNs (the ResNets, EfficientNet-Lite0) carry the paper's ResNet names,
:data:`MERGE_POINTS`, each at the same stride: ``conv1`` (alias ``stem``) is the first conv's
output *before* its norm, the paper's "first layer" (stride 2); ``layer1`` ... ``layer4`` are
the ends of the stages at strides 4, 8, 16 and 32 (``layerK`` also answers to ``stageK``).
``input``, the normalised image, is a point of every backbone for hard attention.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from torch import Tensor, nn

# the merge points of the book's CNNs, and their other names
MERGE_POINTS: tuple[str, ...] = ("conv1", "layer1", "layer2", "layer3", "layer4")
POINT_ALIASES: dict[str, str] = {
    "stem": "conv1",
    **{f"stage{k}": f"layer{k}" for k in range(1, 5)},
}
INPUT = "input"  # the normalised image, before the first layer: a point of every backbone

Transform = Callable[[Tensor], Tensor]


class PointError(ValueError):
    """A method names a point its backbone does not have."""


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
    aliases: Mapping[str, str] = POINT_ALIASES
    fc: nn.Linear

    def walk(self, x: Tensor, at: Mapping[str, Transform]) -> Tensor:
        """The network on ``x``, with each activation at a point named in ``at`` (``(N, C, H,
        W)``) replaced by ``at[name]`` of it."""
        raise NotImplementedError

    def resolve(self, points: str | Sequence[str], with_input: bool = False) -> tuple[str, ...]:
        """``points`` as this backbone names them, in network order: ``"all"`` is every merge
        point, an alias its point (``stem`` -> ``conv1``), ``input`` the image when
        ``with_input``. An unknown or repeated point is refused, naming the valid ones."""
        names = tuple(point.name for point in self.merge_points)
        if points == "all":
            return names
        points = (points,) if isinstance(points, str) else tuple(points)
        valid = ((INPUT,) if with_input else ()) + names
        chosen = tuple(self.aliases.get(p, p) for p in points)
        unknown = [p for p in chosen if p not in valid]
        if unknown or not chosen or len(set(chosen)) != len(chosen):
            raise PointError(
                f"points must be distinct, from {valid} (or 'all'; aliases "
                f"{dict(self.aliases)}) on {type(self).__name__}, got {points!r}"
            )
        return tuple(p for p in valid if p in chosen)

    def stem_like(self, in_channels: int) -> nn.Conv2d:
        """A new conv with the first conv's kernel, stride and padding, reading
        ``in_channels`` channels, without a bias."""
        raise NotImplementedError

    def channels(self) -> dict[str, int]:
        """The number of channels at each merge point."""
        return {point.name: point.channels for point in self.merge_points}
