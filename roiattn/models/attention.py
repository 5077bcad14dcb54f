"""The paper's method: the ROI mask becomes an attention map merged into the main branch."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from roiattn.masks import RESIZE_MODES, resize_mask
from roiattn.models.base import RegionClassifier, check_inputs

MERGE_OPS: tuple[str, ...] = ("add", "mul")


class AttentionBranch(nn.Module):
    """Resize the mask to the features' size, turn it into a map with one conv, merge it.

    Initialised so the merge does nothing: for ``add`` weights 0 and bias 0 (x + 0), for ``mul``
    weights 0 and bias 1 (x * 1). Its effect grows from zero as it trains.
    """

    def __init__(
        self, channels: int, op: str = "add", kernel_size: int = 3, mask_resize: str = "bilinear"
    ) -> None:
        super().__init__()
        if op not in MERGE_OPS:
            raise ValueError(f"unknown merge op {op!r}: choose one of {MERGE_OPS}")
        if mask_resize not in RESIZE_MODES:
            raise ValueError(f"unknown mask_resize {mask_resize!r}: choose one of {RESIZE_MODES}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size}")
        self.op = op
        self.mask_resize = mask_resize
        self.conv = nn.Conv2d(1, channels, kernel_size, stride=1, padding=kernel_size // 2)
        nn.init.zeros_(self.conv.weight)
        nn.init.constant_(self.conv.bias, 0.0 if op == "add" else 1.0)

    def attention_map(self, features: Tensor, masks: Tensor) -> Tensor:
        """The map this branch merges into ``features`` (same shape as the features)."""
        small = resize_mask(masks, features.shape[-2:], self.mask_resize)
        return self.conv(small.to(features.dtype))

    def forward(self, features: Tensor, masks: Tensor) -> Tensor:
        attention = self.attention_map(features, masks)
        return features + attention if self.op == "add" else features * attention


class ROIAttentionNet(RegionClassifier):
    """A backbone with an attention branch at each point in ``merge_at`` (paper Fig. 3b-3g).

    Points are the backbone's merge points (on the CNNs ``conv1``/``stem``, ``layer1`` ...
    ``layer4``), or ``"all"`` of them.
    """

    def __init__(
        self,
        arch: str = "resnet50",
        num_classes: int = 80,
        merge_at: str | Sequence[str] = ("stem",),
        op: str = "add",
        mask_resize: str = "bilinear",
        kernel_size: int = 3,
        weights: str | None = None,
    ) -> None:
        super().__init__(arch, num_classes, weights)
        self.merge_at = self.backbone.resolve(merge_at)  # the backbone's names, network order
        self.op = op
        self.mask_resize = mask_resize
        self.kernel_size = kernel_size
        every = self.merge_at == self.backbone.resolve("all")
        points = "all" if every else "+".join(self.merge_at)
        self.method = f"attn-{op}@{points}"
        channels = self.backbone.channels()
        self.branches = nn.ModuleDict(
            {p: AttentionBranch(channels[p], op, kernel_size, mask_resize) for p in self.merge_at}
        )

    def classify(self, images: Tensor, masks: Tensor) -> Tensor:
        at = {p: (lambda x, b=self.branches[p]: b(x, masks)) for p in self.merge_at}
        return self.backbone.walk(images, at)

    def options(self) -> dict[str, object]:
        return {"mask_resize": self.mask_resize, "kernel_size": self.kernel_size}

    def mask_parameters(self) -> list[nn.Parameter]:
        return list(self.branches.parameters())

    def attention_maps(self, images: Tensor, masks: Tensor) -> dict[str, Tensor]:
        """The attention map at each merge point for this batch (for figures)."""
        masks = check_inputs(images, masks)
        maps: dict[str, Tensor] = {}

        def record(point: str):
            def merge(x: Tensor) -> Tensor:
                maps[point] = self.branches[point].attention_map(x, masks)
                return self.branches[point](x, masks)

            return merge

        self.backbone.walk(images, {p: record(p) for p in self.merge_at})
        return maps
