"""Evaluation by segment size: :func:`evaluate` runs a model over a region dataset and returns
its :class:`Report` (overall, per class, per size bin); :mod:`roiattn.evaluate.statistics`
says how far a difference between two reports can be trusted (a paired bootstrap over images,
baselines)."""

from roiattn.data.bins import COCO_BINS, PAPER_BINS, SizeBins, size_bins
from roiattn.evaluate.evaluation import evaluate, predict_all, schemes_for
from roiattn.evaluate.report import BinRow, Report
from roiattn.evaluate.statistics import (
    Gap,
    chance_accuracy,
    gap_contrast,
    majority_report,
    paired_contrast,
    paired_gap,
    paired_gaps,
)

__all__ = [
    "BinRow",
    "COCO_BINS",
    "Gap",
    "PAPER_BINS",
    "Report",
    "SizeBins",
    "chance_accuracy",
    "evaluate",
    "gap_contrast",
    "majority_report",
    "paired_contrast",
    "paired_gap",
    "paired_gaps",
    "predict_all",
    "schemes_for",
    "size_bins",
]
