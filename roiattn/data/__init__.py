"""Datasets of regions: every item is a dict with ``image``, ``mask``, ``label``, ``area``, and
every dataset is a :class:`RegionDataset` that knows its classes, labels and areas.

Each dataset module adds its names here (one import line each).
"""

from roiattn.data.bins import COCO_BINS, PAPER_BINS, SizeBins, size_bins
from roiattn.data.coco import COCORegions
from roiattn.data.context_shapes import ContextShapes
from roiattn.data.download import download_coco_subset
from roiattn.data.images import IMAGENET_MEAN, IMAGENET_STD, denormalize, normalize
from roiattn.data.regions import (
    RegionCache,
    RegionDataset,
    RegionSubset,
    collate_regions,
    require_regions,
)
from roiattn.data.samplers import ClassBalancedSampler
from roiattn.data.sources import DataSource, SyntheticSize, find_coco
from roiattn.data.windows import WindowedRegions, load_region

__all__ = [
    "COCO_BINS",
    "COCORegions",
    "ClassBalancedSampler",
    "ContextShapes",
    "DataSource",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PAPER_BINS",
    "RegionCache",
    "RegionDataset",
    "RegionSubset",
    "SizeBins",
    "SyntheticSize",
    "WindowedRegions",
    "collate_regions",
    "denormalize",
    "download_coco_subset",
    "find_coco",
    "load_region",
    "normalize",
    "require_regions",
    "size_bins",
]
