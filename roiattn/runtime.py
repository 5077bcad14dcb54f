"""What training, evaluation and the benchmarks share: the device, mixed precision, batches of
regions, and what a dataset says about itself (also through ``torch.utils.data.Subset``).

Kept in one place so that ``fit``, ``evaluate`` and ``bench train`` run the same way: a speed
measured by the benchmark is the speed ``fit`` gets.
"""

from __future__ import annotations

import contextlib
import hashlib
import platform
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

ITEM_KEYS: tuple[str, ...] = ("image", "mask", "label", "area")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` means CUDA when there is a GPU, else the CPU; anything else is checked."""
    if isinstance(device, torch.device):
        chosen = device
    elif device == "auto":
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            chosen = torch.device(device)
        except (RuntimeError, TypeError):
            raise ValueError(
                f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'"
            ) from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} asked for, but this machine has no CUDA GPU that torch can use: "
            "use device='auto' or 'cpu'"
        )
    if chosen.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported here: use 'auto', 'cpu' or 'cuda'")
    return chosen


def describe_device(device: torch.device) -> str:
    """A line for provenance: which GPU, or which CPU with how many threads."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    cpu = platform.processor() or platform.machine()
    return f"cpu ({torch.get_num_threads()} threads, {cpu})"


@dataclass(frozen=True)
class Precision:
    """How a forward pass runs: autocast on or off, in which dtype, and whether the loss needs
    scaling (fp16 only: its small range underflows gradients, bf16's does not)."""

    enabled: bool
    dtype: torch.dtype | None
    scale_loss: bool

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype)

    def __str__(self) -> str:
        if not self.enabled:
            return "fp32"
        name = str(self.dtype).removeprefix("torch.")
        return f"{name} autocast" + (" + loss scaling" if self.scale_loss else "")


def choose_precision(device: torch.device, amp: bool | None = None) -> Precision:
    """Mixed precision on CUDA (bf16 where the GPU supports it, else fp16 with loss scaling);
    full precision on the CPU. ``amp=None`` means "on where it helps"."""
    if amp is None:
        amp = device.type == "cuda"
    if not amp:
        return Precision(False, None, False)
    if device.type != "cuda":
        raise ValueError(
            "mixed precision (amp) needs a CUDA device; on the CPU use amp=False "
            "(or amp=None to choose automatically)"
        )
    if torch.cuda.is_bf16_supported():
        return Precision(True, torch.bfloat16, False)
    return Precision(True, torch.float16, True)


def use_channels_last(device: torch.device, channels_last: bool | None) -> bool:
    """``None`` means on for CUDA (tensor cores want NHWC), off on the CPU."""
    return device.type == "cuda" if channels_last is None else bool(channels_last)


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


def to_device(
    batch: dict[str, torch.Tensor], device: torch.device, channels_last: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(images, masks, labels)`` on ``device``, asynchronously from pinned memory on CUDA."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    images = batch["image"].to(device, non_blocking=True, memory_format=layout)
    masks = batch["mask"].to(device, non_blocking=True, memory_format=layout)
    labels = batch["label"].to(device, non_blocking=True)
    return images, masks, labels


def _chain(data: Dataset) -> Iterator[tuple[Dataset, np.ndarray | None]]:
    """``data`` and every dataset under it, each with the indices that map ``data``'s items
    into it (None for ``data`` itself)."""
    indices: np.ndarray | None = None
    while True:
        yield data, indices
        if not isinstance(data, Subset):
            return
        own = np.asarray(data.indices, dtype=np.int64)
        indices = own if indices is None else own[indices]
        data = data.dataset


def dataset_attribute(data: Dataset, name: str, default: Any = None) -> Any:
    """A dataset-wide attribute (``classes``, ``description``, ``size_bins``, ...), looked up
    through any ``Subset`` wrappers."""
    for dataset, _ in _chain(data):
        if hasattr(dataset, name):
            return getattr(dataset, name)
    return default


def item_values(data: Dataset, name: str) -> np.ndarray | None:
    """A per-item array (``labels``, ``areas``) for exactly ``data``'s items, through any
    ``Subset``, or None when no dataset in the chain has it."""
    for dataset, indices in _chain(data):
        values = getattr(dataset, name, None)
        if values is not None:
            values = np.asarray(values)
            return values if indices is None else values[indices]
    return None


def dataset_labels(data: Dataset) -> np.ndarray:
    """Every item's label, from the dataset's ``labels`` when it has one (cheap), else by reading
    each item (slow, but right)."""
    labels = item_values(data, "labels")
    if labels is None:
        labels = np.array([int(data[i]["label"]) for i in range(len(data))], dtype=np.int64)
    return labels.astype(np.int64)


def dataset_classes(data: Dataset) -> list[str]:
    """The class names of ``data`` in label order; a clear error when it has none."""
    classes = dataset_attribute(data, "classes")
    if classes is None:
        raise ValueError(
            f"{type(data).__name__} has no 'classes' attribute: a region dataset must list its "
            "class names in label order (see DESIGN.md, Data)"
        )
    return [str(c) for c in classes]


def dataset_image_size(data: Dataset) -> int:
    """The side of the square images ``data`` gives (its ``image_size``, else its first item's)."""
    size = dataset_attribute(data, "image_size")
    if size is None:
        size = data[0]["image"].shape[-1]
    return int(size)


def describe_data(data: Dataset) -> dict[str, Any]:
    """What a result was computed on: the dataset's own one-line description, its item count,
    and a fingerprint of its labels and areas (two different subsets never look the same)."""
    count = len(data)
    description = dataset_attribute(data, "description") or type(data).__name__
    chain = list(_chain(data))
    base, _ = chain[-1]
    if len(chain) > 1:
        description = f"{description} [a subset: {count} of {len(base)} items]"
    digest = hashlib.sha256(str(count).encode())
    digest.update(dataset_labels(data).tobytes())
    areas = item_values(data, "areas")
    if areas is not None:
        digest.update(np.asarray(areas, dtype=np.float64).tobytes())
    return {"description": str(description), "count": count, "fingerprint": digest.hexdigest()[:16]}
