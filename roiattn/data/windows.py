"""Reading a region from an image file: the window, the pixels and the mask, one routine for
every dataset built on image files (:class:`~roiattn.data.COCORegions`, and any other that
subclasses :class:`WindowedRegions`), and the base class they share.

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
3. **The mask.** Rasterised only over the window, at native resolution, then shrunk to
   ``S x S``: a cell is in the mask when the region covers at least half of it. When that
   leaves nothing (a region smaller than half a cell) every cell holding one of its pixels is
   set instead (a ``max`` resize), so a tiny region never vanishes. A region whose native mask
   is empty (a degenerate polygon) falls back to its box.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from roiattn.data.images import IMAGENET_MEAN, normalize
from roiattn.data.indexing import check_index
from roiattn.data.regions import RegionDataset
from roiattn.errors import DataFileError

VIEWS: tuple[str, ...] = ("context", "image")
MEAN_RGB = np.array([round(255 * m) for m in IMAGENET_MEAN], dtype=np.uint8)

# A window-sized native mask: called with the window's part inside the image (x0, y0, x1, y1).
MaskFn = Callable[[int, int, int, int], np.ndarray]


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
    win: Window,
    mask_fn: MaskFn,
    image_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One region as the models want it: normalised image ``(3, S, S)`` and a binary, never
    empty mask ``(1, S, S)``, showing the window ``win`` (from :func:`region_window`). The one
    resizing routine of every region dataset.

    ``native_size`` is the image's ``(width, height)``; ``box`` the region's native
    ``(x, y, w, h)``; ``mask_fn(x0, y0, x1, y1)`` returns the region's native mask over that
    rectangle (which always lies inside the image).
    """
    width, height = int(native_size[0]), int(native_size[1])
    s = int(image_size)
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


class WindowedRegions(RegionDataset):
    """Base of the region datasets read from image files: it checks the reading settings once
    and reads every item through :func:`load_region`.

    A subclass indexes its files in its constructor (setting ``classes``, ``labels``,
    ``areas``, ``image_ids``, ``boxes`` and ``description``) and says, per item, where its
    image is (:meth:`image_path`), how large that image is (:meth:`native_size`), what the
    region's native mask is over a rectangle (:meth:`native_mask`), and which extra fields the
    item carries (:meth:`item_fields`).

    A corrupt or missing image is an error naming the file when its item is read, unless
    ``skip_bad_files``: then a warning, the file in ``bad_files``, and the next good item
    returned in its place.
    """

    boxes: np.ndarray  # native (x, y, w, h) per item

    def __init__(
        self,
        image_size: int,
        view: str,
        min_area: float,
        skip_bad_files: bool,
        context: float,
        min_window: int,
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
        self.image_size, self.view, self.min_area = image_size, view, min_area
        self.skip_bad_files = bool(skip_bad_files)
        self.context, self.min_window = float(context), min_window
        self.bad_files: list[str] = []

    def describe(self, name: str, images: int, details: str) -> str:
        """The one line of ``description``: ``name``, what was indexed and how it is read."""
        return (
            f"{name}: {len(self)} regions of {len(self.classes)} classes in {images} images "
            f"(min_area={self.min_area}, {details}); view={self.view}, "
            f"image_size={self.image_size}"
        )

    def image_path(self, item: int) -> Path:
        """The image file of item ``item``."""
        raise NotImplementedError

    def native_size(self, item: int) -> tuple[int, int]:
        """``(width, height)`` of item ``item``'s image."""
        raise NotImplementedError

    def native_mask(self, item: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """Item ``item``'s native mask over ``[y0:y1, x0:x1]`` (uint8), drawn only there."""
        raise NotImplementedError

    def item_fields(self, item: int) -> dict[str, Any]:
        """Fields an item carries beside the shared ones (ids, ...)."""
        return {}

    def read(self, item: int) -> dict[str, Any]:
        """Item ``item``, read from its image file."""
        box = self.boxes[item]
        width, height = self.native_size(item)
        window = region_window(box, width, height, self.view, self.context, self.min_window)
        image, mask = load_region(
            self.image_path(item),
            (width, height),
            box,
            window,
            lambda x0, y0, x1, y1: self.native_mask(item, x0, y0, x1, y1),
            self.image_size,
        )
        return {
            "image": image,
            "mask": mask,
            "label": int(self.labels[item]),
            "area": float(self.areas[item]),
            "image_id": int(self.image_ids[item]),
            "box": torch.from_numpy(box.copy()),
            **self.item_fields(item),
        }

    def __getitem__(self, item: int) -> dict[str, Any]:
        n = len(self)
        item = check_index(item, n, unit="regions")
        if not self.skip_bad_files:
            return self.read(item)
        for step in range(n):  # a corrupt file: warn, remember, show the next good item
            candidate = (item + step) % n
            path = str(self.image_path(candidate))
            if path in self.bad_files:
                continue
            try:
                return self.read(candidate)
            except (DataFileError, FileNotFoundError) as error:
                self.bad_files.append(path)
                warnings.warn(f"skipping a bad file: {error}", stacklevel=2)
        raise DataFileError(f"every image of {self.description} is unreadable")
