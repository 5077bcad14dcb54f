"""Build any model the book compares from its method id, e.g. ``attn-add@conv1``."""

from __future__ import annotations

from typing import Any

from roiattn.models.attention import MERGE_OPS, ROIAttentionNet
from roiattn.models.backbone import MERGE_POINTS
from roiattn.models.base import RegionClassifier
from roiattn.models.baselines import (
    HARD_POINTS,
    CropNet,
    HardAttentionNet,
    ImageOnlyNet,
    MaskChannelNet,
)

METHODS: tuple[str, ...] = (
    "image",
    "crop",
    "hard@input",
    "hard@conv1",
    "hard@layer3",
    "attn-add@conv1",
    "attn-mul@conv1",
    "attn-add@layer3",
    "attn-mul@layer3",
    "attn-add@all",
    "attn-mul@all",
    "mask-channel",
)


def _unknown(method: str, why: str) -> ValueError:
    return ValueError(
        f"unknown method {method!r} ({why}): use one of {METHODS}, or 'attn-<op>@<a>+<b>' with "
        f"op in {MERGE_OPS} and points from {MERGE_POINTS}, or 'hard@<point>' with a point "
        f"from {HARD_POINTS}"
    )


def build_model(
    method: str,
    arch: str = "resnet50",
    num_classes: int = 80,
    weights: str | None = None,
    **options: Any,
) -> RegionClassifier:
    """The model for ``method`` over a torchvision ``arch``; ``options`` go to its class
    (``mask_resize``, ``kernel_size``, ``margin``)."""
    if not isinstance(method, str):
        raise _unknown(repr(method), "not a string")
    common = {"arch": arch, "num_classes": num_classes, "weights": weights, **options}
    if method == "image":
        return ImageOnlyNet(arch, num_classes, weights)
    if method == "crop":
        return CropNet(**common)
    if method == "mask-channel":
        return MaskChannelNet(arch, num_classes, weights)
    if method.startswith("hard@"):
        point = method.removeprefix("hard@")
        if point not in HARD_POINTS:
            raise _unknown(method, f"no hard-attention point {point!r}")
        return HardAttentionNet(at=point, **common)
    if method.startswith("attn-"):
        op, _, points = method.removeprefix("attn-").partition("@")
        if op not in MERGE_OPS:
            raise _unknown(method, f"no merge op {op!r}")
        merge_at = MERGE_POINTS if points == "all" else tuple(points.split("+"))
        bad = [p for p in merge_at if p not in MERGE_POINTS]
        if bad or len(set(merge_at)) != len(merge_at):
            raise _unknown(method, f"merge points must be distinct, from {MERGE_POINTS}")
        return ROIAttentionNet(merge_at=merge_at, op=op, **common)
    raise _unknown(method, "not a known family")
