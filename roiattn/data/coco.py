"""COCORegions: one item per COCO instance, read fast from a standard COCO folder.

A COCO folder is ``<root>/annotations/instances_<split>.json`` plus ``<root>/<split>/*.jpg``.
Everything slow is done once, when the dataset is built: the JSON is parsed, checked and turned
into flat numpy arrays (boxes, labels, areas, polygon coordinates), so an item costs one JPEG
decode and one mask rasterisation (pycocotools, from polygons or RLE, only over the item's
window; see :mod:`roiattn.data.windows`) and nothing else, and the dataset pickles cheaply into
``DataLoader`` workers.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from roiattn.data.paths import display_path
from roiattn.data.windows import WindowedRegions
from roiattn.errors import DataFileError

# ---------------------------------------------------------------------------- reading COCO


def read_annotation_file(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a COCO annotation file, with an error naming the file when it is missing, not
    JSON, or not a COCO instances file."""
    path = Path(path)
    try:
        with open(path, "rb") as file:
            document = json.load(file)
    except FileNotFoundError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataFileError(
            f"annotation file {path} is not valid JSON ({error}): it is truncated or corrupt; "
            "download it again"
        ) from None
    except OSError as error:
        raise DataFileError(f"cannot read annotation file {path}: {error}") from None
    if not isinstance(document, dict):
        raise DataFileError(
            f"annotation file {path} holds a JSON {type(document).__name__}, not a COCO "
            "instances document (an object with 'images', 'annotations', 'categories')"
        )
    missing = [key for key in ("images", "annotations", "categories") if key not in document]
    if missing:
        raise DataFileError(
            f"annotation file {path} is not a COCO instances file: it lacks {missing} "
            f"(it has {sorted(document)[:10]})"
        )
    for key in ("images", "annotations", "categories"):
        if not isinstance(document[key], list):
            raise DataFileError(
                f"annotation file {path}: '{key}' must be a list, got "
                f"{type(document[key]).__name__}"
            )
    return document


def select_categories(
    categories: list[dict[str, Any]], wanted: Iterable[int | str] | None, source: Path
) -> list[dict[str, Any]]:
    """The chosen categories in COCO order (ascending id). ``wanted`` holds names or ids."""
    try:
        ordered = sorted(categories, key=lambda c: int(c["id"]))
        by_name = {str(c["name"]): c for c in ordered}
    except (KeyError, TypeError, ValueError):
        raise DataFileError(
            f"annotation file {source}: every category needs an integer 'id' and a 'name'"
        ) from None
    if wanted is None:
        return ordered
    if isinstance(wanted, str | int):
        wanted = [wanted]
    by_id = {int(c["id"]): c for c in ordered}
    chosen: set[int] = set()
    for item in wanted:
        if isinstance(item, str) and item in by_name:
            chosen.add(int(by_name[item]["id"]))
        elif isinstance(item, int | np.integer) and not isinstance(item, bool) and item in by_id:
            chosen.add(int(item))
        else:
            import difflib

            close = difflib.get_close_matches(str(item), list(by_name), n=3)
            hint = f" (did you mean {close}?)" if close else ""
            raise ValueError(
                f"unknown category {item!r} in {source.name}{hint}: categories are given by "
                f"name or id, e.g. {list(by_name)[:5]}"
            )
    if not chosen:
        raise ValueError("categories is empty: pass None for all, or some names or ids")
    return [c for c in ordered if int(c["id"]) in chosen]


def parse_segmentation(
    segmentation: Any, width: int, height: int
) -> list[np.ndarray] | dict[str, Any] | str:
    """A COCO segmentation as the index keeps it: a list of polygons (float arrays of at least
    three points; a trailing odd coordinate dropped, degenerate ones left out) or a compressed
    RLE; a string saying what is wrong when it is malformed."""
    if isinstance(segmentation, list):
        polygons = []
        for polygon in segmentation:
            try:
                coords = np.asarray(polygon, dtype=np.float64).ravel()
            except (TypeError, ValueError):
                return "has a polygon that is not a list of numbers"
            coords = coords[: len(coords) - len(coords) % 2]
            if len(coords) >= 6 and np.isfinite(coords).all():
                polygons.append(coords)
        return polygons
    if not isinstance(segmentation, dict) or "counts" not in segmentation:
        return "has no polygon or RLE segmentation"
    try:
        size = [int(v) for v in segmentation["size"]]
        counts = segmentation["counts"]
        if size != [height, width]:
            return f"has an RLE of size {size}, but its image is {height}x{width}"
        if isinstance(counts, list):  # uncompressed RLE, as crowd regions have
            return mask_utils.frPyObjects(segmentation, height, width)
        if isinstance(counts, str):
            counts = counts.encode("ascii")
        if not isinstance(counts, bytes):
            return "has an RLE whose counts are neither a list nor a string"
        return {"size": size, "counts": counts}
    except (KeyError, TypeError, ValueError, UnicodeError):
        return "has a malformed RLE segmentation"


class COCORegions(WindowedRegions):
    """One item per COCO instance: the instance's window of the image and its mask.

    Items are dicts: ``image`` (normalised float ``(3, S, S)``), ``mask`` (float ``(1, S, S)``,
    binary, never empty), ``label`` (int, contiguous over the chosen categories in COCO order),
    ``area`` (the annotation's area, native pixels), ``image_id``, ``instance_id`` (the
    annotation id), ``category_id`` and ``box`` (native ``x, y, w, h``).

    Kept: instances of the chosen ``categories`` (names or ids; None = all, in COCO order) with
    ``area > min_area`` (as pycocotools' ``getAnnIds(areaRng=[min_area, inf])``), crowd regions
    only with ``include_crowd``. Items are ordered by image id, then annotation id.

    Per-item arrays for samplers and size bins, without reading any image: ``labels``,
    ``areas``, ``image_ids``, ``category_ids``, ``boxes``. ``classes`` are the names in label
    order, ``description`` one line for provenance.

    A missing image is reported when the dataset is built, a corrupt one when its item is read;
    either is an error naming the file, unless ``skip_bad_files``: then a warning, the file in
    ``bad_files``, and (missing) its regions left out or (corrupt) the next good item returned
    in its place. Broken annotations are errors naming them, or skipped and counted in
    ``skipped_annotations`` with ``skip_bad_files``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "val2017",
        image_size: int = 224,
        view: str = "context",
        min_area: float = 0,
        categories: Iterable[int | str] | None = None,
        include_crowd: bool = False,
        skip_bad_files: bool = False,
        context: float = 3.0,
        min_window: int = 96,
    ) -> None:
        super().__init__(image_size, view, min_area, skip_bad_files, context, min_window)
        if not isinstance(split, str) or not split or "/" in split or "\\" in split:
            raise ValueError(f"split must be a folder name such as 'val2017', got {split!r}")
        self.root = Path(root)
        self.split = split
        self.include_crowd = bool(include_crowd)
        self.skipped_annotations: int = 0

        annotation_file = self.root / "annotations" / f"instances_{split}.json"
        self.annotation_file = annotation_file
        self.image_dir = self.root / split
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"COCO folder {self.root} does not exist: pass the folder that holds "
                "annotations/ and the image folders (or use roiattn.data.find_coco)"
            )
        if not annotation_file.is_file():
            found = sorted(p.name for p in (self.root / "annotations").glob("instances_*.json"))
            raise FileNotFoundError(
                f"annotation file {annotation_file} not found (annotation files there: "
                f"{found or 'none'}): check root and split"
            )
        document = read_annotation_file(annotation_file)
        chosen = select_categories(document["categories"], categories, annotation_file)
        self.classes: list[str] = [str(c["name"]) for c in chosen]
        self.class_ids: list[int] = [int(c["id"]) for c in chosen]
        label_of = {cid: label for label, cid in enumerate(self.class_ids)}
        self._build_index(document, label_of)
        self.description = self.describe(
            f"COCORegions {split} at {display_path(self.root)}",
            len(np.unique(self.image_ids)),
            f"crowd {'in' if self.include_crowd else 'out'}",
        )

    # ------------------------------------------------------------------ index

    def _broken(self, message: str) -> None:
        if not self.skip_bad_files:
            raise DataFileError(
                f"{message} in {self.annotation_file}: fix or re-download the file, or pass "
                "skip_bad_files=True to leave such annotations out"
            )
        self.skipped_annotations += 1

    def _build_index(self, document: dict[str, Any], label_of: dict[int, int]) -> None:
        """Every kept annotation's fields as flat arrays; polygons concatenated; RLEs compressed."""
        images = self._image_records(document)
        rows, segmentations = self._kept_annotations(document, label_of, images)
        rows, segmentations = self._drop_missing_images(rows, segmentations, images)
        order = sorted(range(len(rows)), key=lambda k: (rows[k][0], rows[k][1]))
        rows = [rows[k] for k in order]
        self._store_rows(rows, images, label_of)
        self._store_segmentations([segmentations[k] for k in order])

    def _image_records(self, document: dict[str, Any]) -> dict[int, tuple[str, int, int]]:
        """``{image id: (file name, width, height)}``, checked."""
        images: dict[int, tuple[str, int, int]] = {}
        for record in document["images"]:
            try:
                images[int(record["id"])] = (
                    str(record["file_name"]),
                    int(record["width"]),
                    int(record["height"]),
                )
            except (KeyError, TypeError, ValueError):
                raise DataFileError(
                    f"image record {str(record)[:120]} in {self.annotation_file} needs 'id', "
                    "'file_name', 'width' and 'height'"
                ) from None
        return images

    def _kept_annotations(
        self,
        document: dict[str, Any],
        label_of: dict[int, int],
        images: dict[int, tuple[str, int, int]],
    ) -> tuple[list[tuple], list[Any]]:
        """The annotations this dataset keeps, as ``(image id, annotation id, category, area,
        crowd, box)`` rows and parsed segmentations; broken ones raise or are counted."""
        rows: list[tuple[int, int, int, float, int, tuple[float, ...]]] = []
        segmentations: list[list[np.ndarray] | dict[str, Any]] = []
        for ann in document["annotations"]:
            if not isinstance(ann, dict):
                self._broken(f"annotation {str(ann)[:60]!r} is not an object")
                continue
            ann_id = ann.get("id")
            try:
                category = int(ann["category_id"])
                crowd = int(ann.get("iscrowd", 0))
                area = float(ann["area"])
                image_id = int(ann["image_id"])
                number = int(ann_id) if ann_id is not None else -1
            except (KeyError, TypeError, ValueError):
                self._broken(
                    f"annotation {ann_id} lacks a numeric id, category_id, image_id, area or "
                    "iscrowd"
                )
                continue
            if category not in label_of or (crowd and not self.include_crowd):
                continue
            if not area > self.min_area:
                continue
            if image_id not in images:
                self._broken(f"annotation {ann_id} refers to image {image_id}, which is not listed")
                continue
            _, width, height = images[image_id]
            try:
                box = tuple(float(v) for v in ann["bbox"])
            except (KeyError, TypeError, ValueError):
                box = ()
            if len(box) != 4 or not all(map(math.isfinite, box)) or box[2] < 0 or box[3] < 0:
                self._broken(f"annotation {ann_id} has no valid bbox [x, y, w, h]")
                continue
            parsed = parse_segmentation(ann.get("segmentation"), width, height)
            if isinstance(parsed, str):
                self._broken(f"annotation {ann_id} {parsed}")
                continue
            rows.append((image_id, number, category, area, crowd, box))
            segmentations.append(parsed)
        if self.skipped_annotations:
            warnings.warn(
                f"{self.annotation_file}: left out {self.skipped_annotations} broken annotations",
                stacklevel=4,
            )
        return rows, segmentations

    def _drop_missing_images(
        self, rows: list[tuple], segmentations: list[Any], images: dict[int, tuple[str, int, int]]
    ) -> tuple[list[tuple], list[Any]]:
        """Missing image files: an error now, rather than halfway through an epoch (or, with
        ``skip_bad_files``, their regions left out)."""
        used = sorted({row[0] for row in rows})
        missing = [i for i in used if not (self.image_dir / images[i][0]).is_file()]
        if not missing:
            return rows, segmentations
        names = [str(self.image_dir / images[i][0]) for i in missing]
        if not self.skip_bad_files:
            raise FileNotFoundError(
                f"{len(missing)} of {len(used)} image files are missing, e.g. {names[:3]}: "
                "download them again (download_coco_subset resumes), or pass "
                "skip_bad_files=True to leave their regions out"
            )
        warnings.warn(
            f"{len(missing)} image files missing under {self.image_dir}, their regions left "
            f"out: {names[:3]}",
            stacklevel=4,
        )
        self.bad_files.extend(names)
        gone = set(missing)
        keep = [k for k, row in enumerate(rows) if row[0] not in gone]
        return [rows[k] for k in keep], [segmentations[k] for k in keep]

    def _store_rows(
        self, rows: list[tuple], images: dict[int, tuple[str, int, int]], label_of: dict[int, int]
    ) -> None:
        """The per-item arrays, and the file and size of every image used."""
        image_list = sorted({row[0] for row in rows})
        position = {image_id: k for k, image_id in enumerate(image_list)}
        self._files = [images[i][0] for i in image_list]
        self._sizes = np.array([images[i][1:] for i in image_list], dtype=np.int64).reshape(-1, 2)
        self._image_of = np.array([position[row[0]] for row in rows], dtype=np.int64)
        self.image_ids = np.array([row[0] for row in rows], dtype=np.int64)
        self.instance_ids = np.array([row[1] for row in rows], dtype=np.int64)
        self.category_ids = np.array([row[2] for row in rows], dtype=np.int64)
        self.labels = np.array([label_of[row[2]] for row in rows], dtype=np.int64)
        self.areas = np.array([row[3] for row in rows], dtype=np.float64)
        self.iscrowd = np.array([row[4] for row in rows], dtype=bool)
        self.boxes = np.array([row[5] for row in rows], dtype=np.float64).reshape(-1, 4)

    def _store_segmentations(self, segmentations: list[Any]) -> None:
        """Polygons flat: item k owns polygons ``_item_polys[k]:_item_polys[k+1]``, polygon p
        owns coordinates ``_poly_bounds[p]:_poly_bounds[p+1]``; RLE items keep their RLE."""
        self._rles: dict[int, dict[str, Any]] = {}
        coords: list[np.ndarray] = []
        item_polys = [0]
        for k, seg in enumerate(segmentations):
            if isinstance(seg, dict):
                self._rles[k] = seg
            else:
                coords.extend(seg)
            item_polys.append(len(coords))
        self._item_polys = np.array(item_polys, dtype=np.int64)
        lengths = [len(c) for c in coords]
        self._poly_bounds = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        self._coords = np.concatenate(coords) if coords else np.zeros(0, dtype=np.float64)
        no_polygon = np.diff(self._item_polys) == 0
        no_polygon[list(self._rles)] = False
        self.degenerate = int(no_polygon.sum())  # items shown by their box: no usable polygon

    # ------------------------------------------------------------------ items

    def native_mask(self, item: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """Item ``item``'s native mask over ``[y0:y1, x0:x1]``, rasterised only there."""
        rle = self._rles.get(item)
        if rle is not None:
            return mask_utils.decode(rle)[y0:y1, x0:x1]
        first, last = self._item_polys[item], self._item_polys[item + 1]
        if first == last:
            return np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        shift = np.array([x0, y0], dtype=np.float64)
        polygons = [
            (self._coords[a:b].reshape(-1, 2) - shift).ravel()
            for a, b in zip(
                self._poly_bounds[first:last], self._poly_bounds[first + 1 : last + 1], strict=True
            )
        ]
        rles = mask_utils.frPyObjects(polygons, y1 - y0, x1 - x0)
        return mask_utils.decode(rles[0] if len(rles) == 1 else mask_utils.merge(rles))

    def image_path(self, item: int) -> Path:
        """The image file of item ``item``."""
        return self.image_dir / self._files[self._image_of[item]]

    def native_size(self, item: int) -> tuple[int, int]:
        width, height = self._sizes[self._image_of[item]]
        return int(width), int(height)

    def item_fields(self, item: int) -> dict[str, Any]:
        return {
            "instance_id": int(self.instance_ids[item]),
            "category_id": int(self.category_ids[item]),
        }
