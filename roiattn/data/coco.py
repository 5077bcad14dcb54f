"""COCORegions: one item per COCO instance, read fast from a standard COCO folder.

A COCO folder is ``<root>/annotations/instances_<split>.json`` plus ``<root>/<split>/*.jpg``.
Everything slow is done once, when the dataset is built: the JSON is parsed, checked and turned
into flat numpy arrays (boxes, labels, areas, polygon coordinates), so an item costs one JPEG
decode and one mask rasterisation and nothing else, and the dataset pickles cheaply into
``DataLoader`` workers.

Reading an item (:func:`load_region`, shared with :class:`~roiattn.data.LabelMapRegions`):

1. **The window.** ``view="image"``: the whole image, stretched to ``S x S``.
   ``view="context"``: a square around the region, ``context`` times its box's longer side
   (at least ``min_window`` native pixels), moved to lie inside the image where it fits. Only
   when the square is larger than the image along an axis does it reach past the image; that
   part is padded with the ImageNet mean colour (zero after normalisation, as hard attention's
   background), so the region is never distorted and never cut.
2. **The pixels.** JPEGs are decoded at a reduced size where the window still gets at least
   ``S`` pixels (PIL's ``draft``: libjpeg scales by 1/2, 1/4 or 1/8 while decoding, which saves
   the inverse DCT, colour conversion and resizing of most pixels, though not the entropy
   decoding); then only the window is resized, straight to ``S x S``.
3. **The mask.** Rasterised (pycocotools, from polygons or RLE) only over the window, at native
   resolution, then shrunk to ``S x S``: a cell is in the mask when the region covers at least
   half of it. When that leaves nothing (a region smaller than half a cell) every cell holding
   one of its pixels is set instead (a ``max`` resize), so a tiny region never vanishes. A region
   whose polygons are degenerate (fewer than three points, zero area) falls back to its box.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from pycocotools import mask as mask_utils
from torch.utils.data import Dataset

from roiattn.data.images import IMAGENET_MEAN, normalize
from roiattn.data.indexing import check_index

VIEWS: tuple[str, ...] = ("context", "image")
MEAN_RGB = np.array([round(255 * m) for m in IMAGENET_MEAN], dtype=np.uint8)

# A window-sized native mask: called with the window's part inside the image (x0, y0, x1, y1).
MaskFn = Callable[[int, int, int, int], np.ndarray]


class DataFileError(ValueError):
    """A data file (image, annotation file, label map) that cannot be read; the message names
    the file and says what to do."""


# ---------------------------------------------------------------------------- windows


class Window(NamedTuple):
    """A rectangle in native pixels: left, top, width, height. May reach past the image."""

    x: int
    y: int
    width: int
    height: int


def region_window(
    box: Sequence[float],
    image_width: int,
    image_height: int,
    view: str = "context",
    context: float = 3.0,
    min_window: int = 96,
) -> Window:
    """The native-pixel window an item shows (see the module docstring).

    ``box`` is the region's ``(x, y, w, h)``. ``view="image"`` is the whole image;
    ``view="context"`` a square of side ``max(context * max(w, h), min_window)``, capped at the
    image's longer side, centred on the box and moved inside the image along every axis where
    it fits (otherwise centred on the image, to be padded).
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}: choose one of {VIEWS}")
    if view == "image":
        return Window(0, 0, int(image_width), int(image_height))
    bx, by, bw, bh = (float(v) for v in box)
    side = max(context * max(bw, bh, 1.0), float(min_window))
    side = int(math.ceil(min(side, max(image_width, image_height))))

    def place(centre: float, extent: int) -> int:
        if side >= extent:
            return (extent - side) // 2
        return int(min(max(round(centre - side / 2), 0), extent - side))

    return Window(place(bx + bw / 2, image_width), place(by + bh / 2, image_height), side, side)


def _open_rgb(path: Path, native_size: tuple[int, int], want: tuple[int, int]) -> tuple:
    """Open ``path``, check its size, decode it reduced (JPEG ``draft``) to no less than
    ``want`` (the full image's size that keeps the window at output size), convert to RGB.
    Returns ``(image, scale)``: drafted pixel = native pixel / scale."""
    try:
        with Image.open(path) as image:
            if image.size != tuple(native_size):
                raise DataFileError(
                    f"image file {path} is {image.size[0]}x{image.size[1]} pixels but its "
                    f"annotation says {native_size[0]}x{native_size[1]}: the file or the "
                    "annotation is from another version; re-download it"
                )
            scale = 1.0
            drafted = image.draft("RGB", want) if image.format == "JPEG" else None
            if drafted is not None:
                scale = native_size[0] / drafted[1][2]
            if image.mode in ("P", "PA") and "transparency" in image.info:
                image = image.convert("RGBA")
            if image.mode != "RGB":
                image = image.convert("RGB")
            else:
                image.load()  # decoded now: the pixels outlive the file, closed on leaving
            return image, scale
    except FileNotFoundError:
        raise FileNotFoundError(
            f"image file {path} is missing: download it again, or pass skip_bad_files=True "
            "to leave its regions out"
        ) from None
    except DataFileError:
        raise
    except (
        OSError,
        UnidentifiedImageError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as error:
        raise DataFileError(
            f"cannot decode image file {path} ({type(error).__name__}: {error}): it is corrupt "
            "or not an image; download it again, or pass skip_bad_files=True to leave its "
            "regions out"
        ) from None


def _shrink_mask(native: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """Binary native mask -> binary ``(out_h, out_w)``: the cells at least half covered (PIL's
    box filter: the share of the native pixels centred in the cell); where there is none, the
    cells holding a region pixel's centre (a ``max`` resize), so a region never vanishes.

    Only the output cells around the region are computed: the rest of the window is empty, and
    for a small region in a large window that is most of the work saved.
    """
    native = np.asarray(native, dtype=np.uint8)
    h, w = native.shape
    if (h, w) == (out_h, out_w):
        return native.astype(bool)
    rows = np.flatnonzero(native.any(axis=1))
    cols = np.flatnonzero(native.any(axis=0))
    sx, sy = out_w / w, out_h / h
    ox0, ox1 = math.floor(cols[0] * sx), min(math.ceil((cols[-1] + 1) * sx), out_w)
    oy0, oy1 = math.floor(rows[0] * sy), min(math.ceil((rows[-1] + 1) * sy), out_h)
    nx0, nx1, ny0, ny1 = ox0 / sx, min(ox1 / sx, w), oy0 / sy, min(oy1 / sy, h)
    ix0, iy0 = math.floor(nx0), math.floor(ny0)
    ix1, iy1 = min(math.ceil(nx1), w), min(math.ceil(ny1), h)
    part = Image.fromarray(native[iy0:iy1, ix0:ix1] * np.uint8(255)).resize(
        (ox1 - ox0, oy1 - oy0),
        Image.Resampling.BOX,
        box=(nx0 - ix0, ny0 - iy0, nx1 - ix0, ny1 - iy0),
    )
    small = np.zeros((out_h, out_w), dtype=bool)
    small[oy0:oy1, ox0:ox1] = np.asarray(part) >= 128
    if not small.any():  # smaller than half a cell: the cells its pixels' centres fall in
        ys, xs = np.nonzero(native)
        small[((ys + 0.5) * sy).astype(np.int64), ((xs + 0.5) * sx).astype(np.int64)] = True
    return small


def load_region(
    path: str | os.PathLike,
    native_size: tuple[int, int],
    box: Sequence[float],
    mask_fn: MaskFn,
    image_size: int,
    view: str = "context",
    context: float = 3.0,
    min_window: int = 96,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One region as the models want it: normalised image ``(3, S, S)`` and a binary, never
    empty mask ``(1, S, S)``. The one windowing and resizing routine of every region dataset.

    ``native_size`` is the image's ``(width, height)``; ``box`` the region's native
    ``(x, y, w, h)``; ``mask_fn(x0, y0, x1, y1)`` returns the region's native mask over that
    rectangle (which always lies inside the image).
    """
    width, height = int(native_size[0]), int(native_size[1])
    s = int(image_size)
    win = region_window(box, width, height, view, context, min_window)
    vx0, vy0 = max(win.x, 0), max(win.y, 0)
    vx1, vy1 = min(win.x + win.width, width), min(win.y + win.height, height)
    sx, sy = s / win.width, s / win.height
    ox0, oy0 = round((vx0 - win.x) * sx), round((vy0 - win.y) * sy)
    ox1 = max(round((vx1 - win.x) * sx), ox0 + 1)
    oy1 = max(round((vy1 - win.y) * sy), oy0 + 1)
    out_w, out_h = ox1 - ox0, oy1 - oy0

    # pixels: decode as small as the window allows, resize only the window
    want = (
        max(1, math.ceil(width * out_w / (vx1 - vx0))),
        max(1, math.ceil(height * out_h / (vy1 - vy0))),
    )
    image, scale = _open_rgb(Path(path), (width, height), want)
    with image:
        window = (vx0 / scale, vy0 / scale, vx1 / scale, vy1 / scale)
        pixels = np.array(image.resize((out_w, out_h), Image.Resampling.BILINEAR, box=window))

    # mask: native over the window, never empty, then shrunk
    native = np.asarray(mask_fn(vx0, vy0, vx1, vy1))
    if native.shape != (vy1 - vy0, vx1 - vx0):
        raise RuntimeError(
            f"mask_fn returned shape {native.shape}, expected {(vy1 - vy0, vx1 - vx0)}"
        )
    if not native.any():  # degenerate polygon: fall back to the box, at least one pixel
        native = np.zeros(native.shape, dtype=np.uint8)
        bx, by, bw, bh = (float(v) for v in box)
        x0 = min(max(math.floor(bx), vx0), vx1 - 1)
        y0 = min(max(math.floor(by), vy0), vy1 - 1)
        x1 = min(max(math.ceil(bx + bw), x0 + 1), vx1)
        y1 = min(max(math.ceil(by + bh), y0 + 1), vy1)
        native[y0 - vy0 : y1 - vy0, x0 - vx0 : x1 - vx0] = 1
    small = _shrink_mask(native, out_w, out_h)

    if (out_w, out_h) == (s, s):
        canvas, mask = pixels, small
    else:  # the window reaches past the image: pad with the mean colour
        canvas = np.empty((s, s, 3), dtype=np.uint8)
        canvas[:] = MEAN_RGB
        canvas[oy0:oy1, ox0:ox1] = pixels
        mask = np.zeros((s, s), dtype=bool)
        mask[oy0:oy1, ox0:ox1] = small
    return normalize(canvas), torch.from_numpy(mask).float()[None]


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


class COCORegions(Dataset):
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
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}: choose one of {VIEWS}")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"image_size must be a positive int, got {image_size!r}")
        if not isinstance(min_area, int | float) or not min_area >= 0:
            raise ValueError(f"min_area must be a number >= 0, got {min_area!r}")
        if not context >= 1:
            raise ValueError(
                f"context must be >= 1 (the window's side over the box's), got {context!r}"
            )
        if isinstance(min_window, bool) or not isinstance(min_window, int) or min_window < 1:
            raise ValueError(
                f"min_window must be a positive int (native pixels), got {min_window!r}"
            )
        if not isinstance(split, str) or not split or "/" in split or "\\" in split:
            raise ValueError(f"split must be a folder name such as 'val2017', got {split!r}")

        self.root = Path(root)
        self.split = split
        self.image_size = image_size
        self.view = view
        self.min_area = min_area
        self.include_crowd = bool(include_crowd)
        self.skip_bad_files = bool(skip_bad_files)
        self.context = float(context)
        self.min_window = min_window
        self.bad_files: list[str] = []
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
        self.description = (
            f"COCORegions {split} at {self.root}: {len(self)} regions of {len(self.classes)} "
            f"classes in {len(np.unique(self.image_ids))} images (min_area={min_area}, "
            f"crowd {'in' if self.include_crowd else 'out'}); view={view}, "
            f"image_size={image_size}"
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
        source = self.annotation_file
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
                    f"image record {str(record)[:120]} in {source} needs 'id', 'file_name', "
                    "'width' and 'height'"
                ) from None

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
                f"{source}: left out {self.skipped_annotations} broken annotations",
                stacklevel=3,
            )

        # missing image files: an error now, rather than halfway through an epoch
        used = sorted({row[0] for row in rows})
        missing = [i for i in used if not (self.image_dir / images[i][0]).is_file()]
        if missing:
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
                stacklevel=3,
            )
            self.bad_files.extend(names)
            gone = set(missing)
            keep = [k for k, row in enumerate(rows) if row[0] not in gone]
            rows = [rows[k] for k in keep]
            segmentations = [segmentations[k] for k in keep]

        order = sorted(range(len(rows)), key=lambda k: (rows[k][0], rows[k][1]))
        rows = [rows[k] for k in order]
        segmentations = [segmentations[k] for k in order]

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

        # polygons flat: item k owns polygons _item_polys[k]:_item_polys[k+1], polygon p owns
        # coordinates _poly_bounds[p]:_poly_bounds[p+1]; RLE items keep their compressed RLE
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

    def __len__(self) -> int:
        return len(self.labels)

    def _window_mask(self, item: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
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

    def _read(self, item: int) -> dict[str, Any]:
        image_index = int(self._image_of[item])
        width, height = (int(v) for v in self._sizes[image_index])
        box = self.boxes[item]
        image, mask = load_region(
            self.image_dir / self._files[image_index],
            (width, height),
            box,
            lambda x0, y0, x1, y1: self._window_mask(item, x0, y0, x1, y1),
            self.image_size,
            self.view,
            self.context,
            self.min_window,
        )
        return {
            "image": image,
            "mask": mask,
            "label": int(self.labels[item]),
            "area": float(self.areas[item]),
            "image_id": int(self.image_ids[item]),
            "instance_id": int(self.instance_ids[item]),
            "category_id": int(self.category_ids[item]),
            "box": torch.from_numpy(box.copy()),
        }

    def __getitem__(self, item: int) -> dict[str, Any]:
        n = len(self)
        item = check_index(item, n, unit="regions")
        if not self.skip_bad_files:
            return self._read(item)
        for step in range(n):  # a corrupt file: warn, remember, show the next good item
            candidate = (item + step) % n
            path = str(self.image_path(candidate))
            if path in self.bad_files:
                continue
            try:
                return self._read(candidate)
            except (DataFileError, FileNotFoundError) as error:
                self.bad_files.append(path)
                warnings.warn(f"skipping a bad file: {error}", stacklevel=2)
        raise DataFileError(f"every image of {self.description} is unreadable")

    def __repr__(self) -> str:
        return self.description
