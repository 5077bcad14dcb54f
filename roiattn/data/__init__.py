"""Datasets of regions: every item is a dict with ``image``, ``mask``, ``label``, ``area``.

Each dataset module adds its names here (one import line each).
"""

from roiattn.data.images import IMAGENET_MEAN, IMAGENET_STD, denormalize, normalize

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "denormalize", "normalize"]
