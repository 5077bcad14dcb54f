"""Hard attention inside a transformer: the region restricts which tokens attention may read.

Beyond the paper. Segmentation transformers (Mask2Former's *masked attention*) let a query attend
only to the tokens of its region; here the query is the class token, which alone is classified:

- ``mask-attn``: the class token attends only to the patches the region covers (and itself);
  every other token attends to every token, so the context still flows into the region's
  tokens, and from them to the class token.
- ``drop-tokens``: no token attends to a patch outside the region, which is the same as dropping
  those patches: hard attention on tokens instead of pixels.

A patch belongs to the region when any pixel of the mask falls in it, so a speck never vanishes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from roiattn.masks import resize_mask
from roiattn.models.base import RegionClassifier
from roiattn.models.vit import ViTBackbone

TOKEN_METHODS: tuple[str, ...] = ("mask-attn", "drop-tokens")


def region_tokens(masks: Tensor, grid: tuple[int, int]) -> Tensor:
    """``(N, T)`` booleans: which of the ``T`` patches of ``grid`` the region touches."""
    return (resize_mask(masks, grid, "max") > 0).flatten(1)


def attention_rule(inside: Tensor, everyone: bool) -> Tensor:
    """``(N, 1 + T, 1 + T)``: True where the row's token may attend to the column's. The class
    token (0) may attend to itself and to the region's patches; with ``everyone`` so may every
    token, otherwise every other token attends to all."""
    n, t = inside.shape
    keys = torch.cat([inside.new_ones(n, 1), inside], dim=1)  # the class token is always visible
    rule = keys[:, None, :].expand(n, 1 + t, 1 + t).clone()
    if not everyone:
        rule[:, 1:, :] = True
    rule |= torch.eye(1 + t, dtype=torch.bool, device=inside.device)  # each token sees itself
    return rule


class TokenMaskNet(RegionClassifier):
    """A transformer whose attention the region restricts (module docstring): ``mask-attn``,
    or ``drop-tokens`` with ``drop=True``."""

    def __init__(
        self,
        arch: str,
        num_classes: int = 80,
        drop: bool = False,
        weights: str | None = None,
    ) -> None:
        super().__init__(arch, num_classes, weights)
        self.method = TOKEN_METHODS[int(drop)]
        if not isinstance(self.backbone, ViTBackbone):
            raise ValueError(
                f"{self.method} restricts a transformer's attention: {arch} has no tokens "
                "(use a transformer arch, such as vit4_w96_p8)"
            )
        self.drop = drop

    def classify(self, images: Tensor, masks: Tensor) -> Tensor:
        inside = region_tokens(masks, self.backbone.grid(images))
        return self.backbone.walk(images, {}, attend=attention_rule(inside, self.drop))
