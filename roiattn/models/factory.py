"""Build any model the book compares from its method id, e.g. ``attn-add@conv1``."""

from __future__ import annotations

from typing import Any

from roiattn.models.attention import MERGE_OPS, ROIAttentionNet
from roiattn.models.backbone import INPUT, MERGE_POINTS, POINT_ALIASES, PointError
from roiattn.models.base import RegionClassifier
from roiattn.models.baselines import (
    BlurNet,
    CropNet,
    HardAttentionNet,
    ImageOnlyNet,
    MaskChannelNet,
)
from roiattn.models.token_masks import TOKEN_METHODS, TokenMaskNet

METHODS: tuple[str, ...] = (
    "image",
    "crop",
    "blur@input",
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
        f"op in {MERGE_OPS} and the backbone's merge points (on the CNNs {MERGE_POINTS}, "
        f"aliases {POINT_ALIASES}), or 'hard@<point>' with {INPUT!r} or one of those points; "
        f"on a transformer also {TOKEN_METHODS}"
    )


# The options each family of methods takes beside arch, num_classes and weights.
OPTIONS: dict[str, tuple[str, ...]] = {
    "image": (),
    "mask-channel": (),
    "mask-attn": (),
    "drop-tokens": (),
    "crop": ("margin",),
    "blur@input": ("sigma",),
    "hard": ("mask_resize",),
    "attn": ("mask_resize", "kernel_size"),
}


def method_options(method: str) -> tuple[str, ...]:
    """The options ``method`` takes beside arch, num_classes and weights."""
    return OPTIONS[_family(method)]


def _family(method: str) -> str:
    if method in ("image", "crop", "blur@input", "mask-channel", *TOKEN_METHODS):
        return method
    if method.startswith("hard@"):
        return "hard"
    if method.startswith("attn-"):
        return "attn"
    raise _unknown(method, "not a known family")


def build_model(
    method: str,
    arch: str = "resnet50",
    num_classes: int = 80,
    weights: str | None = None,
    **options: Any,
) -> RegionClassifier:
    """The model for ``method`` over the backbone ``arch`` (any of
    :data:`~roiattn.models.ARCHS`). ``options`` go to its class: ``mask_resize`` and
    ``kernel_size`` for ``attn-*``, ``mask_resize`` for ``hard@*``, ``margin`` for ``crop``,
    ``sigma`` for ``blur@input``; any other is refused, naming the valid ones.

    Points may be written by their generic names too (``stem`` for ``conv1``, ``stageK`` for
    ``layerK``); the model's ``method`` uses the paper's names."""
    if not isinstance(method, str):
        raise _unknown(repr(method), "not a string")
    family = _family(method)
    unknown = sorted(set(options) - set(method_options(method)))
    if unknown:
        raise ValueError(
            f"{method} takes no option {unknown}: its options are {list(method_options(method))} "
            "(beside arch, num_classes and weights)"
        )
    common = {"arch": arch, "num_classes": num_classes, "weights": weights, **options}
    if family == "image":
        return ImageOnlyNet(**common)
    if family == "crop":
        return CropNet(**common)
    if family == "blur@input":
        return BlurNet(**common)
    if family == "mask-channel":
        return MaskChannelNet(**common)
    if family in TOKEN_METHODS:
        return TokenMaskNet(drop=family == "drop-tokens", **common)
    try:
        if family == "hard":
            return HardAttentionNet(at=method.removeprefix("hard@"), **common)
        op, _, points = method.removeprefix("attn-").partition("@")
        if op not in MERGE_OPS:
            raise _unknown(method, f"no merge op {op!r}")
        merge_at = points if points == "all" else tuple(points.split("+"))
        return ROIAttentionNet(merge_at=merge_at, op=op, **common)
    except PointError as error:  # the backbone knows its points: say which id it refused
        raise _unknown(method, str(error)) from None
