"""Datasets of regions: every item is a dict with ``image``, ``mask``, ``label``, ``area``.

Each dataset module adds its names here (one import line each).
"""

from roiattn.data.coco import COCORegions, DataFileError, load_region
from roiattn.data.context_shapes import ContextShapes
from roiattn.data.download import DownloadError, download_coco_subset
from roiattn.data.images import IMAGENET_MEAN, IMAGENET_STD, denormalize, normalize
from roiattn.data.label_maps import LabelMapRegions
from roiattn.data.samplers import ClassBalancedSampler
from roiattn.data.sources import DataSource, find_coco

__all__ = [
    "COCORegions",
    "ClassBalancedSampler",
    "DataFileError",
    "DataSource",
    "DownloadError",
    "LabelMapRegions",
    "download_coco_subset",
    "find_coco",
    "load_region",
    "ContextShapes",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "denormalize",
    "normalize",
]
