"""What every region dataset knows about itself, and the forms it takes when it is narrowed or
kept in memory.

A region dataset answers, without reading an image: the class names (``classes``), and per item
its label, its area in native pixels and the image it comes from (``labels``, ``areas``,
``image_ids``). Samplers, size bins, the evaluation and the provenance of results read these.
:meth:`RegionDataset.subset` and :meth:`RegionDataset.cached` return region datasets too, with
those arrays for exactly their items, so nothing downstream ever looks through a wrapper.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from roiattn.data.bins import SizeBins
from roiattn.data.indexing import check_index

ITEM_KEYS: tuple[str, ...] = ("image", "mask", "label", "area")


class RegionDataset(Dataset):
    """Base of every region dataset: items are dicts with ``image`` (normalised float
    ``(3, S, S)``), ``mask`` (float ``(1, S, S)``, never empty), ``label`` and ``area``.

    Subclasses set ``classes``, ``labels``, ``areas``, ``image_ids``, ``image_size`` and
    ``description``, and may set ``view`` and ``size_bins`` (their own bins, else the paper's).
    """

    classes: list[str]
    labels: np.ndarray
    areas: np.ndarray
    image_ids: np.ndarray
    image_size: int
    description: str
    view: str | None = None
    size_bins: SizeBins | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        raise NotImplementedError

    def subset(self, indices: Sequence[int] | np.ndarray) -> RegionSubset:
        """These items only, in the order given, still a region dataset."""
        return RegionSubset(self, indices)

    def sample(self, limit: int | None, seed: int) -> RegionDataset:
        """At most ``limit`` items: all of them, or a seeded random choice kept in order."""
        if limit is None or len(self) <= limit:
            return self
        chosen = np.random.default_rng(seed).choice(len(self), size=limit, replace=False)
        return self.subset(np.sort(chosen))

    def cached(self) -> RegionCache:
        """The same items, each read once and then kept in memory."""
        return RegionCache(self)

    def provenance(self) -> dict[str, Any]:
        """What a result was computed on: the description, the item count, and a fingerprint
        of the labels and areas (two different subsets never look the same)."""
        digest = hashlib.sha256(str(len(self)).encode())
        digest.update(np.asarray(self.labels, dtype=np.int64).tobytes())
        digest.update(np.asarray(self.areas, dtype=np.float64).tobytes())
        return {
            "description": self.description,
            "count": len(self),
            "fingerprint": digest.hexdigest()[:16],
        }

    def _share_metadata(self, dataset: RegionDataset) -> None:
        """Take ``dataset``'s dataset-wide attributes (for subsets and caches of it)."""
        self.classes, self.image_size = dataset.classes, dataset.image_size
        self.view, self.size_bins = dataset.view, dataset.size_bins

    def __repr__(self) -> str:
        return self.description


class RegionSubset(RegionDataset):
    """Some items of another region dataset, with its classes and their own per-item arrays.
    ``indices[i]`` is the index in ``dataset`` of item ``i``."""

    def __init__(self, dataset: RegionDataset, indices: Sequence[int] | np.ndarray) -> None:
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(dataset)):
            raise IndexError(
                f"subset indices run from {indices.min()} to {indices.max()}, outside the "
                f"{len(dataset)} items of {dataset.description}"
            )
        self.dataset = dataset
        self.indices = indices
        self._share_metadata(dataset)
        self.labels = np.asarray(dataset.labels)[indices]
        self.areas = np.asarray(dataset.areas)[indices]
        self.image_ids = np.asarray(dataset.image_ids)[indices]
        self.description = f"{dataset.description} [{len(indices)} of {len(dataset)} regions]"

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = check_index(index, len(self), unit="regions")
        return self.dataset[int(self.indices[index])]


class RegionCache(RegionDataset):
    """The items of another region dataset, each read once and then kept in memory.

    Every roiattn dataset's item depends only on its index (no random augmentation), so a kept
    item is exactly the item read again: training ten methods on the same regions reads each
    JPEG once instead of ten times. Meant for ``num_workers=0``: each worker process would keep
    a copy of its own.
    """

    def __init__(self, dataset: RegionDataset) -> None:
        self.dataset = dataset
        self._share_metadata(dataset)
        self.labels, self.areas = dataset.labels, dataset.areas
        self.image_ids = dataset.image_ids
        self.description = dataset.description
        self._items: dict[int, dict[str, Any]] = {}

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = check_index(index, len(self), unit="regions")
        item = self._items.get(index)
        if item is None:
            item = self._items[index] = self.dataset[index]
        return item

    def __repr__(self) -> str:
        return f"RegionCache({self.description}; {len(self._items)} of {len(self)} items read)"


def require_regions(data: Any, what: str = "data") -> RegionDataset:
    """``data`` when it is a region dataset, else an error saying how to make it one."""
    if isinstance(data, RegionDataset):
        return data
    hint = ""
    if isinstance(data, torch.utils.data.Subset):
        hint = " (for a subset, use dataset.subset(indices), which keeps classes and labels)"
    raise ValueError(
        f"the {what} must be a roiattn region dataset (COCORegions, ContextShapes, or a "
        f"subclass of roiattn.data.RegionDataset), got "
        f"{type(data).__name__}{hint}"
    )


def collate_regions(items: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack the four fields every region item has; extras (ids, boxes, ...) are left out, so
    datasets may carry anything without breaking batching."""
    if not items:
        raise ValueError("cannot make a batch of no items")
    first = items[0]
    if not isinstance(first, dict):
        raise ValueError(
            f"dataset items must be dicts with keys {ITEM_KEYS}, got {type(first).__name__}"
        )
    missing = [key for key in ITEM_KEYS if key not in first]
    if missing:
        raise ValueError(
            f"dataset items lack {missing}: every item needs {ITEM_KEYS} (it has {sorted(first)})"
        )
    return {
        "image": torch.stack([item["image"] for item in items]),
        "mask": torch.stack([torch.as_tensor(item["mask"]).float() for item in items]),
        "label": torch.as_tensor([int(item["label"]) for item in items], dtype=torch.long),
        "area": torch.as_tensor([float(item["area"]) for item in items], dtype=torch.float64),
    }
