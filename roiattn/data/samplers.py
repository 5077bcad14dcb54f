"""ClassBalancedSampler: the paper's sampling, a random class, then an image, then an instance.

COCO is skewed (in coco-mini "person" has 603 instances, seven classes fewer than five), so a
plain shuffle trains mostly on people. The author's code drew a class uniformly, then an image
holding that class, then one of that class's instances in it: every class is seen equally often,
and a crowded image does not count more than a sparse one. For plain shuffling use
``torch.utils.data.RandomSampler`` (or ``DataLoader(shuffle=True)``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from roiattn.data.regions import RegionDataset, require_regions


def _as_int_array(values: Sequence[int] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D sequence of ints, got shape {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and np.array_equal(array, np.round(array)):
            return array.astype(np.int64)
        raise ValueError(f"{name} must hold ints, got {array.dtype}")
    return array.astype(np.int64)


class ClassBalancedSampler(Sampler[int]):
    """Yields ``num_samples`` dataset indices: for each, a class uniformly at random (among the
    classes present), then an image holding that class, then one of its instances of that class.

    ``labels`` and ``image_ids`` give every item's class and image (a dataset's ``labels`` and
    ``image_ids`` arrays: no image is read). Draws with replacement. Deterministic: iteration
    ``k`` of a sampler uses the stream ``(seed, k)``, so every epoch differs and a rerun repeats
    them all; :meth:`set_epoch` picks ``k`` explicitly (as ``DistributedSampler`` does).
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray,
        image_ids: Sequence[int] | np.ndarray,
        num_samples: int | None = None,
        seed: int = 0,
    ) -> None:
        labels = _as_int_array(labels, "labels")
        image_ids = _as_int_array(image_ids, "image_ids")
        if len(labels) != len(image_ids):
            raise ValueError(
                f"labels and image_ids must have one entry per item, got {len(labels)} labels "
                f"and {len(image_ids)} image_ids"
            )
        if num_samples is None:
            num_samples = len(labels)
        if isinstance(num_samples, bool) or not isinstance(num_samples, int | np.integer):
            raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
        if num_samples < 1:
            raise ValueError(f"num_samples must be a positive int, got {num_samples}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.epoch = 0

        # items sorted by (class, image): class c owns pairs _class_pairs[c]:_class_pairs[c+1],
        # pair p (one image of that class) owns sorted items _pair_items[p]:_pair_items[p+1]
        self._order = np.lexsort((image_ids, labels))
        sorted_labels, sorted_images = labels[self._order], image_ids[self._order]
        new_pair = np.ones(len(labels), dtype=bool)
        new_pair[1:] = (sorted_labels[1:] != sorted_labels[:-1]) | (
            sorted_images[1:] != sorted_images[:-1]
        )
        pair_starts = np.flatnonzero(new_pair)
        self._pair_items = np.append(pair_starts, len(labels))
        pair_labels = sorted_labels[pair_starts]
        self.classes_present = np.unique(pair_labels)
        class_starts = np.searchsorted(pair_labels, self.classes_present)
        self._class_pairs = np.append(class_starts, len(pair_starts))

    @classmethod
    def from_dataset(
        cls, dataset: RegionDataset, num_samples: int | None = None, seed: int = 0
    ) -> ClassBalancedSampler:
        """A sampler over a region dataset's items, from its ``labels`` and ``image_ids``
        (no image is read)."""
        dataset = require_regions(dataset)
        return cls(dataset.labels, dataset.image_ids, num_samples, seed)

    def set_epoch(self, epoch: int) -> None:
        """Draw epoch ``epoch``'s stream on the next iteration."""
        self.epoch = int(epoch)

    def sample(self, epoch: int) -> np.ndarray:
        """The indices of epoch ``epoch``, as an array."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        n = self.num_samples
        chosen = rng.integers(len(self.classes_present), size=n)
        first, count = self._class_pairs[chosen], np.diff(self._class_pairs)[chosen]
        pair = first + rng.integers(count)
        first, count = self._pair_items[pair], np.diff(self._pair_items)[pair]
        return self._order[first + rng.integers(count)]

    def __iter__(self) -> Iterator[int]:
        indices = self.sample(self.epoch)
        self.epoch += 1
        return iter(indices.tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return f"ClassBalancedSampler(num_samples={self.num_samples}, seed={self.seed})"
