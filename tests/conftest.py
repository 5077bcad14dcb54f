"""Shared fixtures: where the real COCO data is, and a small synthetic COCO folder.

``coco_root`` is coco-mini (288 real COCO 2017 images) when it can be found, through
``$ROIATTN_COCO_ROOT`` (CI sets it) or beside the repository at ``../shared/data/coco-mini``;
otherwise the synthetic folder, so every test runs anywhere. ``synthetic_coco`` is always the
synthetic folder: it holds the awkward cases real data may lack (grayscale, CMYK and palette
images, crowd RLE, a tiny region, degenerate polygons), drawn with PIL and written as real
JPEGs and PNGs with polygon and RLE annotations.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

REPO = Path(__file__).resolve().parents[1]
COCO_MINI = REPO.parent / "shared" / "data" / "coco-mini"

# COCO-like: ids with gaps, listed out of id order in the file
SYNTHETIC_CATEGORIES = [
    {"id": 12, "name": "bar", "supercategory": "shape"},
    {"id": 1, "name": "disc", "supercategory": "shape"},
    {"id": 7, "name": "triangle", "supercategory": "shape"},
    {"id": 3, "name": "square", "supercategory": "shape"},
]
# image index -> how it is stored (everything else: RGB JPEG)
SYNTHETIC_MODES = {1: ("L", "jpg"), 2: ("CMYK", "jpg"), 3: ("P", "png")}


@pytest.fixture(autouse=True)
def _torch_threads_are_left_as_found():
    """Fail a test that changes torch's thread count for the rest of the session: every later
    test would run on fewer threads (the findings test's time budget among them)."""
    before = torch.get_num_threads()
    yield
    after = torch.get_num_threads()
    if after != before:
        torch.set_num_threads(before)
        pytest.fail(f"the test left torch at {after} thread(s), it found {before}")


def real_coco_root() -> Path | None:
    """coco-mini (or whatever ``$ROIATTN_COCO_ROOT`` names), or None when absent."""
    for candidate in (os.environ.get("ROIATTN_COCO_ROOT", "").strip(), COCO_MINI):
        if candidate and (Path(candidate) / "annotations" / "instances_val2017.json").is_file():
            return Path(candidate)
    return None


def _polygon_area(points: list[float], height: int, width: int) -> float:
    rle = mask_utils.frPyObjects([points], height, width)
    return float(mask_utils.area(mask_utils.merge(rle)))


def make_synthetic_coco(
    root: str | os.PathLike, split: str = "val2017", n_images: int = 14, seed: int = 0
) -> Path:
    """Write a small standard COCO folder at ``root`` and return it.

    Every image holds a few filled shapes (polygon annotations, area as pycocotools measures
    it). Image 0 also holds a crowd region (uncompressed RLE), a compressed-RLE region, a
    region of about two pixels, a two-point polygon and a collinear polygon (both with a
    non-zero recorded area, so they are kept) and a zero-area annotation (dropped by
    ``min_area=0``). Images 1, 2, 3 are grayscale JPEG, CMYK JPEG and palette PNG.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / split).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    ann_id = 100

    def add(image_id: int, category: int, segmentation, area: float, bbox, crowd: int = 0):
        nonlocal ann_id
        ann_id += 1
        annotations.append(
            {
                "id": ann_id,
                "image_id": image_id,
                "category_id": category,
                "segmentation": segmentation,
                "area": area,
                "bbox": [float(v) for v in bbox],
                "iscrowd": crowd,
            }
        )

    for index in range(n_images):
        width, height = int(rng.integers(260, 420)), int(rng.integers(200, 320))
        image_id = 1000 + 7 * index
        mode, suffix = SYNTHETIC_MODES.get(index, ("RGB", "jpg"))
        file_name = f"{image_id:012d}.{suffix}"
        background = tuple(int(v) for v in rng.integers(40, 200, 3))
        canvas = Image.new("RGB", (width, height), background)
        draw = ImageDraw.Draw(canvas)
        for category in (1, 3, 7, 12)[: 2 + index % 3]:
            size = float(rng.uniform(8, min(width, height) / 4))
            cx = float(rng.uniform(size, width - size))
            cy = float(rng.uniform(size, height - size))
            if category == 1:  # disc as a 16-gon
                angles = np.linspace(0, 2 * math.pi, 16, endpoint=False)
                points = np.stack([cx + size * np.cos(angles), cy + size * np.sin(angles)], 1)
            elif category == 3:
                points = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * size + [cx, cy]
            elif category == 7:
                points = np.array([[0, -1], [1, 1], [-1, 1]]) * size + [cx, cy]
            else:
                points = np.array([[-1, -0.25], [1, -0.25], [1, 0.25], [-1, 0.25]]) * size
                points = points + [cx, cy]
            colour = tuple(int(v) for v in rng.integers(0, 256, 3))
            draw.polygon([tuple(p) for p in points.tolist()], fill=colour)
            flat = [round(float(v), 2) for v in points.ravel()]
            x0, y0 = points.min(0)
            x1, y1 = points.max(0)
            add(image_id, category, [flat], _polygon_area(flat, height, width),
                [x0, y0, x1 - x0, y1 - y0])  # fmt: skip
        if index == 0:
            # a crowd region, as uncompressed RLE (column-major run lengths)
            crowd = np.zeros((height, width), dtype=np.uint8)
            crowd[5:25, 5:45] = 1
            draw.rectangle([5, 5, 44, 24], fill=(250, 250, 250))
            runs, value, count = [], 0, 0
            for pixel in crowd.ravel(order="F"):
                if pixel == value:
                    count += 1
                else:
                    runs.append(count)
                    value, count = pixel, 1
            runs.append(count)
            add(image_id, 3, {"size": [height, width], "counts": runs}, 800.0, [5, 5, 40, 20], 1)
            # a compressed-RLE region (as ContextShapes writes them)
            block = np.zeros((height, width), dtype=np.uint8)
            block[height - 30 : height - 10, width - 50 : width - 20] = 1
            draw.rectangle([width - 50, height - 30, width - 21, height - 11], fill=(10, 200, 10))
            rle = mask_utils.encode(np.asfortranarray(block))
            add(image_id, 12, {"size": [height, width], "counts": rle["counts"].decode()},
                600.0, [width - 50, height - 30, 30, 20])  # fmt: skip
            # a tiny region: about two pixels
            tiny = [60.0, 60.0, 61.6, 60.0, 61.6, 61.4, 60.0, 61.4]
            draw.rectangle([60, 60, 61, 61], fill=(255, 0, 0))
            add(image_id, 7, [tiny], _polygon_area(tiny, height, width), [60, 60, 1.6, 1.4])
            # degenerate polygons with a recorded area: kept, shown by their box
            add(image_id, 1, [[30.0, 80.0, 34.0, 84.0]], 4.0, [30, 80, 4, 4])
            add(image_id, 1, [[10.0, 100.0, 20.0, 100.0, 30.0, 100.0]], 5.0, [10, 100, 20, 0])
            # zero area: dropped by min_area=0, as by pycocotools' areaRng=[0, inf]
            add(image_id, 12, [[5.0, 5.0, 6.0, 5.0, 7.0, 5.0]], 0.0, [5, 5, 2, 0])
        path = root / split / file_name
        if mode == "P":
            canvas.convert("P", palette=Image.Palette.ADAPTIVE, colors=32).save(path)
        else:
            canvas.convert(mode).save(path, quality=92)
        images.append(
            {
                "id": image_id,
                "file_name": file_name,
                "width": width,
                "height": height,
                "coco_url": f"http://images.cocodataset.org/{split}/{file_name}",
            }
        )
    document = {
        "info": {"description": "roiattn synthetic test COCO"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": SYNTHETIC_CATEGORIES,
    }
    (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(document))
    return root


@pytest.fixture(scope="session")
def synthetic_coco(tmp_path_factory) -> Path:
    """The synthetic COCO folder (val2017), made once per session: treat it as read-only."""
    return make_synthetic_coco(tmp_path_factory.mktemp("synthetic-coco"))


@pytest.fixture(scope="session")
def coco_root(synthetic_coco) -> Path:
    """coco-mini when present, else the synthetic folder (both have val2017)."""
    return real_coco_root() or synthetic_coco
