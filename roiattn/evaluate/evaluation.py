"""Running a model over a region dataset: its predictions, and the :class:`Report` of them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from roiattn.data.bins import COCO_BINS, PAPER_BINS, SizeBins, size_bins
from roiattn.data.regions import RegionDataset, collate_regions, require_regions
from roiattn.evaluate.report import Report
from roiattn.progress import progress_bar
from roiattn.runtime import choose_precision, resolve_device, to_device, use_channels_last


def predict_all(
    model: nn.Module,
    data: RegionDataset,
    *,
    batch_size: int = 64,
    device: str | torch.device = "auto",
    num_workers: int = 0,
    amp: bool | None = None,
    channels_last: bool | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Labels, top-1 predictions, top-5 hits and areas of every item, in batches, without
    gradients, in mixed precision on a GPU. The model is left on ``device`` in its own mode."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = resolve_device(device)
    precision = choose_precision(device, amp)
    nhwc = use_channels_last(device, channels_last)
    was_training = model.training
    model.to(device, memory_format=torch.channels_last if nhwc else torch.contiguous_format)
    model.eval()
    loader = DataLoader(
        data,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_regions,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(0),  # never draws from the global RNG
    )
    labels, predictions, top5, areas = [], [], [], []
    try:
        # the model was moved above, outside inference mode: its weights stay trainable
        for batch in progress_bar(loader, desc="evaluate", unit="batch", disable=not progress):
            images, masks, target = to_device(batch, device, nhwc)
            with torch.inference_mode(), precision.autocast(device):
                logits = model(images, masks)
            k = min(5, logits.shape[1])
            best = logits.float().topk(k, dim=1).indices
            labels.append(batch["label"])
            predictions.append(best[:, 0].cpu())
            top5.append((best == target[:, None]).any(1).cpu())
            areas.append(batch["area"])
    finally:
        model.train(was_training)
    if not labels:
        raise ValueError("the dataset to evaluate on is empty")
    return {
        "labels": torch.cat(labels).numpy(),
        "predictions": torch.cat(predictions).numpy(),
        "top5_correct": torch.cat(top5).numpy(),
        "areas": torch.cat(areas).numpy(),
    }


def schemes_for(data: RegionDataset, bins: str | Sequence[float] | SizeBins | None) -> list:
    """The binnings of a report on ``data``: the one asked for (else the dataset's own, else the
    paper's), then COCO's small / medium / large."""
    primary = size_bins(bins) if bins is not None else (data.size_bins or PAPER_BINS)
    return [primary] if primary.name == "coco" else [primary, COCO_BINS]


def evaluate(
    model: nn.Module,
    data: RegionDataset,
    *,
    batch_size: int = 64,
    device: str | torch.device = "auto",
    bins: str | Sequence[float] | SizeBins | None = None,
    num_workers: int = 0,
    amp: bool | None = None,
    channels_last: bool | None = None,
    progress: bool = True,
) -> Report:
    """Evaluate ``model`` on every item of ``data`` and report accuracy overall, per class and
    per size bin.

    ``bins``: ``None`` for the dataset's own ``size_bins`` if it has them, else the paper's;
    or ``"paper"``, ``"coco"``, a :class:`SizeBins`, or a list of upper edges. COCO's
    small/medium/large are always reported beside them.
    """
    data = require_regions(data, "evaluation data")
    classes = list(getattr(model, "classes", None) or data.classes)
    if classes != list(data.classes):
        raise ValueError(
            f"the model was trained on the classes {classes[:6]}... but the data has "
            f"{list(data.classes)[:6]}...: evaluate on data of the classes it was trained on"
        )
    num_classes = getattr(model, "num_classes", None)
    if num_classes is not None and num_classes != len(classes):
        raise ValueError(
            f"the model has {num_classes} outputs but the data has {len(classes)} classes: "
            "evaluate on the classes it was trained on"
        )
    out = predict_all(
        model,
        data,
        batch_size=batch_size,
        device=device,
        num_workers=num_workers,
        amp=amp,
        channels_last=channels_last,
        progress=progress,
    )
    return Report(
        out["labels"],
        out["predictions"],
        out["areas"],
        classes,
        schemes_for(data, bins),
        image_ids=data.image_ids,
        top5_correct=out["top5_correct"] if len(classes) > 5 else None,
        method=getattr(model, "method", ""),
        data=data.provenance(),
    )
