"""A small vision transformer as a backbone: torchvision's ``VisionTransformer``, configured for a
CPU, that declares merge points and walks its blocks like the CNNs.

Its points: ``stem``, the patch embedding (``conv_proj``'s output, where Alpha-CLIP adds its
mask), and ``block1`` ... ``blockL``, the outputs of the encoder blocks. All are at the patch
stride. A transform at a point receives the patch tokens as an ``(N, D, H/p, W/p)`` grid and
returns one; the class token is left alone (as timm's ``forward_intermediates(output_fmt="NCHW")``
hands them out). ``walk`` also takes ``attend``: which token may attend to which, for methods
that restrict attention to a region.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import VisionTransformer
from torchvision.models.vision_transformer import EncoderBlock

from roiattn.models.backbone import INPUT, Backbone, MergePoint, Transform

# name -> torchvision VisionTransformer options. vit4_w96_p8: four blocks of width 96 on 8-pixel
# patches (36 tokens at 48 px), 0.3M parameters, sized for chapter 9 on a 2-core CPU.
VIT_ARCHS: dict[str, dict[str, int]] = {
    "vit4_w96_p8": dict(patch_size=8, num_layers=4, num_heads=4, hidden_dim=96, mlp_dim=192),
}
BUILT_FOR = 64  # the image side the position embeddings are made for; others interpolate them


class ViTBackbone(VisionTransformer, Backbone):
    """torchvision's ``VisionTransformer`` (same parts and initialisation) with a classifier
    ``fc`` on the class token in place of ``heads``. ``fc`` gets ``nn.Linear``'s own
    initialisation: torchvision zeroes its head, which would make every output equal at the
    start and a check that a branch starts as a no-op vacuous."""

    aliases = {"conv1": "stem"}  # the CNNs' name of the first layer

    def __init__(self, num_classes: int = 80, **options: int) -> None:
        super().__init__(image_size=BUILT_FOR, num_classes=num_classes, **options)
        del self.heads
        self.fc = nn.Linear(self.hidden_dim, num_classes)

    @property
    def merge_points(self) -> tuple[MergePoint, ...]:
        names = ["stem"] + [f"block{k}" for k in range(1, len(self.encoder.layers) + 1)]
        return tuple(MergePoint(name, self.hidden_dim, self.patch_size) for name in names)

    def forward(self, x: Tensor) -> Tensor:
        return self.walk(x, {})

    def grid(self, images: Tensor) -> tuple[int, int]:
        """The patch grid ``(rows, columns)`` of a batch of images."""
        h, w = images.shape[-2:]
        p = self.patch_size
        if h % p or w % p:
            raise ValueError(f"image sides must be multiples of the patch size {p}, got {h}x{w}")
        return h // p, w // p

    def walk(self, x: Tensor, at: Mapping[str, Transform], attend: Tensor | None = None) -> Tensor:
        """The transformer on ``x`` with ``at[point]`` applied at each named point.

        ``attend``: optional ``(N, 1 + T, 1 + T)`` booleans, True where the token of the row
        may attend to the token of the column (token 0 is the class token, then the ``T``
        patches row by row); every block uses it.
        """
        if INPUT in at:
            x = at[INPUT](x)
        rows, columns = self.grid(x)
        x = self.conv_proj(x)
        if "stem" in at:
            x = at["stem"](x)
        n = x.shape[0]
        tokens = torch.cat([self.class_token.expand(n, -1, -1), _tokens(x)], dim=1)
        x = self.encoder.dropout(tokens + self.positions(rows, columns))
        blocked = None  # the attention mask MultiheadAttention takes: one per batch item and head
        if attend is not None:
            blocked = (~attend).repeat_interleave(self.encoder.layers[0].num_heads, dim=0)
        for k, block in enumerate(self.encoder.layers, start=1):
            x = _block(block, x, blocked)
            if f"block{k}" in at:
                grid = at[f"block{k}"](x[:, 1:].transpose(1, 2).reshape(n, -1, rows, columns))
                x = torch.cat([x[:, :1], _tokens(grid)], dim=1)
        return self.fc(self.encoder.ln(x)[:, 0])

    def positions(self, rows: int, columns: int) -> Tensor:
        """The position embeddings for a ``rows`` x ``columns`` grid (bicubic, as timm does)."""
        embedding = self.encoder.pos_embedding
        side = BUILT_FOR // self.patch_size
        if (rows, columns) == (side, side):
            return embedding
        grid = embedding[:, 1:].transpose(1, 2).reshape(1, -1, side, side)
        grid = F.interpolate(grid, size=(rows, columns), mode="bicubic", align_corners=False)
        return torch.cat([embedding[:, :1], _tokens(grid)], dim=1)

    def stem_like(self, in_channels: int) -> nn.Conv2d:
        conv = self.conv_proj
        return nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, conv.stride, bias=False)


def _tokens(grid: Tensor) -> Tensor:
    """``(N, D, H, W)`` -> ``(N, H * W, D)``, row by row."""
    return grid.flatten(2).transpose(1, 2)


def _block(block: EncoderBlock, x: Tensor, blocked: Tensor | None) -> Tensor:
    """torchvision's ``EncoderBlock.forward``, with the attention ``blocked`` where True."""
    if blocked is None:
        return block(x)
    y = block.ln_1(x)
    y, _ = block.self_attention(y, y, y, attn_mask=blocked, need_weights=False)
    x = x + block.dropout(y)
    return x + block.mlp(block.ln_2(x))


def make_vit(arch: str, num_classes: int = 80, weights: str | None = None) -> ViTBackbone:
    """The small transformer ``arch`` (one of :data:`VIT_ARCHS`), from random weights."""
    if weights is not None:
        raise ValueError(f"{arch} has no pretrained weights: build it with weights=None")
    return ViTBackbone(num_classes, **VIT_ARCHS[arch])
