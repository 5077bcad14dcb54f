"""A tiny region dataset that follows the roiattn item contract, for fast tests of training,
evaluation and the command line: a noisy image with one square region whose brightness is its
class. Every item depends only on its index, so runs over it are reproducible."""

from __future__ import annotations

import numpy as np
import torch

from roiattn.data import RegionDataset, SizeBins


class TinyRegions(RegionDataset):
    """``n`` items of ``size`` x ``size`` images, ``num_classes`` classes (region brightness);
    ``images`` items share each image id (for tests of the image bootstrap)."""

    def __init__(
        self,
        n: int = 24,
        size: int = 32,
        num_classes: int = 3,
        seed: int = 0,
        size_bins: list[float] | None = None,
        per_image: int = 1,
    ) -> None:
        self.n, self.seed = n, seed
        self.classes = [f"shade{c}" for c in range(num_classes)]
        self.image_size = size
        self.view = "image"
        self.description = f"TinyRegions(n={n}, size={size}, seed={seed})"
        generator = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, num_classes, (n,), generator=generator).numpy()
        self.sides = torch.randint(2, size // 2, (n,), generator=generator).tolist()
        # native areas spread over the paper's bins (as if the source images were large)
        self.areas = np.array([float(side * side * 997) for side in self.sides])
        self.image_ids = np.arange(n) // per_image
        if size_bins is not None:
            self.size_bins = SizeBins.from_edges("custom", size_bins)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.n:
            raise IndexError(index)
        generator = torch.Generator().manual_seed(self.seed * 100_003 + index)
        image = torch.randn(3, self.image_size, self.image_size, generator=generator) * 0.5
        side = self.sides[index]
        y, x = torch.randint(0, self.image_size - side, (2,), generator=generator).tolist()
        mask = torch.zeros(1, self.image_size, self.image_size)
        mask[:, y : y + side, x : x + side] = 1
        shade = -1.5 + 1.5 * int(self.labels[index])
        image[:, y : y + side, x : x + side] = shade
        return {
            "image": image,
            "mask": mask,
            "label": int(self.labels[index]),
            "area": float(self.areas[index]),
            "image_id": int(self.image_ids[index]),
        }
