"""LabelMapRegions: regions from label-map PNGs (pixel value = class id, 0 = none), one item per
connected component: OpenSurfaces-style material data, or any semantic segmentation.

The components are found once, when the dataset is built (``scipy.ndimage.label``), and kept
as runs (row, first column, end column) rather than as masks, so the index stays small and an
item's mask is drawn only over its window. Items are read by the same routine as
:class:`~roiattn.data.COCORegions` (:class:`~roiattn.data.windows.WindowedRegions`), so both
look alike to a model.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage
from tqdm.auto import tqdm

from roiattn.data.paths import display_path
from roiattn.data.windows import WindowedRegions
from roiattn.errors import DataFileError

IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
LABEL_MODES: tuple[str, ...] = ("1", "L", "P", "I", "I;16")


class Components(NamedTuple):
    """The connected components of one label map, in raster order of their first pixel.

    ``value``, ``area`` and ``box`` (``x, y, w, h``) have one row per component; component
    ``k`` owns the runs ``run_bounds[k]:run_bounds[k + 1]`` of ``row``, ``start``, ``end``
    (columns ``start`` to ``end - 1`` of ``row``).
    """

    value: np.ndarray
    area: np.ndarray
    box: np.ndarray
    run_bounds: np.ndarray
    row: np.ndarray
    start: np.ndarray
    end: np.ndarray


def find_components(labels: np.ndarray, connectivity: int = 4) -> Components:
    """Connected components of equal non-zero values in a 2-D integer array, in raster order of
    their first pixel.

    ``scipy.ndimage.label`` labels the components of each value; the labelled map is then cut
    into runs (maximal horizontal stretches of one component), which is all the dataset keeps.
    """
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.size == 0:
        raise ValueError(f"a label map must be a non-empty 2-D array, got shape {labels.shape}")
    h, w = labels.shape
    structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    ids = np.zeros(labels.shape, dtype=np.int64)  # component + 1, 0 outside every component
    for value in np.unique(labels[labels != 0]):
        found, count = ndimage.label(labels == value, structure)
        ids[found > 0] = found[found > 0] + ids.max()
    # renumber in raster order of each component's first pixel
    first_ids, first_pixels = np.unique(ids.ravel(), return_index=True)
    first_ids, first_pixels = first_ids[first_ids > 0], first_pixels[first_ids > 0]
    renumber = np.zeros(len(first_ids) + 1, dtype=np.int64)
    renumber[first_ids[np.argsort(first_pixels)]] = np.arange(1, len(first_ids) + 1)
    flat = renumber[ids.ravel()]

    # runs: a new one wherever the component changes or a row begins
    change = np.ones(flat.size, dtype=bool)
    change[1:] = flat[1:] != flat[:-1]
    change[::w] = True
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], flat.size)
    inside = flat[starts] > 0
    starts, ends, component = starts[inside], ends[inside], flat[starts[inside]] - 1
    order = np.argsort(component, kind="stable")
    starts, ends, component = starts[order], ends[order], component[order]
    row, start, end = starts // w, starts % w, ends - (starts // w) * w

    n = len(first_ids)
    # boxes from the runs (a component's runs are contiguous, top row first, bottom row last)
    run_bounds = np.concatenate([[0], np.cumsum(np.bincount(component, minlength=n))])
    first_run, last_run = run_bounds[:-1], run_bounds[1:] - 1
    box = np.zeros((n, 4), dtype=np.int64)
    if n:
        box[:, 0] = np.minimum.reduceat(start, first_run)
        box[:, 1] = row[first_run]
        box[:, 2] = np.maximum.reduceat(end, first_run) - box[:, 0]
        box[:, 3] = row[last_run] + 1 - box[:, 1]
    return Components(
        value=labels.ravel()[starts[np.searchsorted(component, np.arange(n))]].astype(np.int64),
        area=np.bincount(component, weights=end - start, minlength=n).astype(np.int64),
        box=box,
        run_bounds=run_bounds,
        row=row.astype(np.int32),
        start=start.astype(np.int32),
        end=end.astype(np.int32),
    )


def label_components(labels: np.ndarray, connectivity: int = 4) -> np.ndarray:
    """An int32 map of the connected components: 0 where the label is 0, else ``k + 1`` for
    component ``k`` of :func:`find_components`. For inspection and plots."""
    found = find_components(labels, connectivity)
    out = np.zeros(np.asarray(labels).shape, dtype=np.int32)
    for k in range(len(found.value)):
        a, b = found.run_bounds[k], found.run_bounds[k + 1]
        for r, s, e in zip(found.row[a:b], found.start[a:b], found.end[a:b], strict=True):
            out[r, s:e] = k + 1
    return out


def _class_table(classes: Sequence[str] | Mapping[int, str]) -> tuple[list[str], dict[int, int]]:
    """``(names in label order, pixel value -> label)``. A sequence names values 1, 2, ...; a
    mapping gives ``{pixel value: name}`` and labels follow ascending values."""
    if isinstance(classes, Mapping):
        items = sorted(classes.items())
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v, _ in items):
            raise ValueError(
                "classes as a mapping must map pixel values (ints >= 1; 0 means no region) to "
                f"names, got keys {[v for v, _ in items][:10]}"
            )
        names = [str(name) for _, name in items]
        return names, {int(v): label for label, (v, _) in enumerate(items)}
    if isinstance(classes, str) or not isinstance(classes, Sequence) or len(classes) == 0:
        raise ValueError(
            "classes must be a non-empty list of names (for pixel values 1, 2, ...) or a "
            f"mapping {{pixel value: name}}, got {classes!r}"
        )
    names = [str(name) for name in classes]
    return names, {value: value - 1 for value in range(1, len(names) + 1)}


class LabelMapRegions(WindowedRegions):
    """One item per connected region of one class in label-map PNGs.

    ``label_dir`` holds PNGs whose pixel values are class ids (0 = no region); each pairs with
    the image of the same stem in ``image_dir`` (jpg, png, ...). ``classes`` names the values
    (a list for 1, 2, ..., or a mapping ``{value: name}``). Components are ``connectivity``-
    connected (4 or 8); those with ``area > min_area`` pixels are kept (as in COCORegions).

    Items and attributes as in :class:`~roiattn.data.COCORegions`: ``image``, ``mask``,
    ``label``, ``area``, ``image_id`` (index into ``image_files``), ``instance_id``, ``box``;
    ``classes``, ``labels``, ``areas``, ``image_ids``, ``boxes``, ``description``.
    """

    def __init__(
        self,
        image_dir: str | os.PathLike,
        label_dir: str | os.PathLike,
        classes: Sequence[str] | Mapping[int, str],
        min_area: float = 0,
        image_size: int = 224,
        view: str = "context",
        connectivity: int = 4,
        skip_bad_files: bool = False,
        context: float = 3.0,
        min_window: int = 96,
    ) -> None:
        super().__init__(image_size, view, min_area, skip_bad_files, context, min_window)
        if connectivity not in (4, 8):
            raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
        self.image_dir, self.label_dir = Path(image_dir), Path(label_dir)
        for name, folder in (("image_dir", self.image_dir), ("label_dir", self.label_dir)):
            if not folder.is_dir():
                raise FileNotFoundError(f"{name} {folder} does not exist or is not a folder")
        self.classes, self._label_of = _class_table(classes)
        self.connectivity = connectivity
        self._build_index()
        self.description = self.describe(
            f"LabelMapRegions {display_path(self.label_dir)} (images "
            f"{display_path(self.image_dir)})",
            len(self.image_files),
            f"{connectivity}-connected",
        )

    def _bad(self, error: Exception) -> None:
        if not self.skip_bad_files:
            raise error
        warnings.warn(f"skipping a bad file: {error}", stacklevel=3)
        self.bad_files.append(str(error))

    def _read_label_map(self, path: Path) -> np.ndarray:
        try:
            with Image.open(path) as image:
                mode = image.mode
                if mode not in LABEL_MODES:
                    raise DataFileError(
                        f"label map {path} has mode {mode}: expected a single-channel PNG whose "
                        "pixel values are class ids (mode L, P, I or I;16), not colours"
                    )
                labels = np.asarray(image).astype(np.int64)
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
            if isinstance(error, DataFileError | FileNotFoundError):
                raise
            raise DataFileError(f"cannot decode label map {path}: {error}") from None
        unknown = sorted(set(np.unique(labels).tolist()) - set(self._label_of) - {0})
        if unknown:
            raise DataFileError(
                f"label map {path} holds pixel values {unknown[:10]} that classes does not name "
                f"(it names {len(self._label_of)} values from {min(self._label_of)} to "
                f"{max(self._label_of)}): "
                "pass the full class list"
            )
        return labels

    def _build_index(self) -> None:
        label_files = sorted(self.label_dir.glob("*.png"))
        if not label_files:
            raise FileNotFoundError(f"no label-map PNGs in {self.label_dir}")
        images = {
            p.stem: p
            for p in sorted(self.image_dir.iterdir())
            if p.suffix.lower() in IMAGE_SUFFIXES
        }
        files: list[Path] = []
        sizes: list[tuple[int, int]] = []
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("image", "label", "area", "box")}
        runs: dict[str, list[np.ndarray]] = {"row": [], "start": [], "end": [], "count": []}
        progress = tqdm(label_files, desc="label maps", unit="map", disable=len(label_files) < 50)
        for label_file in progress:
            image_file = images.get(label_file.stem)
            try:
                if image_file is None:
                    raise FileNotFoundError(
                        f"label map {label_file} has no image {label_file.stem}.* in "
                        f"{self.image_dir}"
                    )
                labels = self._read_label_map(label_file)
                try:
                    with Image.open(image_file) as image:
                        size = image.size
                except (OSError, UnidentifiedImageError, SyntaxError) as error:
                    raise DataFileError(f"cannot read image file {image_file}: {error}") from None
                if size != (labels.shape[1], labels.shape[0]):
                    raise DataFileError(
                        f"image {image_file} is {size[0]}x{size[1]} but its label map "
                        f"{label_file} is {labels.shape[1]}x{labels.shape[0]}: they must match"
                    )
            except (DataFileError, FileNotFoundError) as error:
                self._bad(error)
                continue
            found = find_components(labels, self.connectivity)
            keep = np.flatnonzero(found.area > self.min_area)
            index = len(files)
            files.append(image_file)
            sizes.append(size)
            parts["image"].append(np.full(len(keep), index, dtype=np.int64))
            parts["label"].append(np.array([self._label_of[int(v)] for v in found.value[keep]]))
            parts["area"].append(found.area[keep])
            parts["box"].append(found.box[keep])
            for k in keep:
                a, b = found.run_bounds[k], found.run_bounds[k + 1]
                runs["row"].append(found.row[a:b])
                runs["start"].append(found.start[a:b])
                runs["end"].append(found.end[a:b])
                runs["count"].append(np.array([b - a]))

        def join(chunks: list[np.ndarray], dtype: Any, width: int = 0) -> np.ndarray:
            if not chunks:
                return np.zeros((0, width) if width else 0, dtype=dtype)
            return np.concatenate(chunks).astype(dtype)

        self.image_files = files
        self._sizes = np.array(sizes, dtype=np.int64).reshape(-1, 2)
        self.image_ids = join(parts["image"], np.int64)
        self.labels = join(parts["label"], np.int64)
        self.areas = join(parts["area"], np.float64)
        self.boxes = join(parts["box"], np.float64, 4)
        self._row = join(runs["row"], np.int32)
        self._start = join(runs["start"], np.int32)
        self._end = join(runs["end"], np.int32)
        self._run_bounds = np.concatenate([[0], np.cumsum(join(runs["count"], np.int64))])

    def native_mask(self, item: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """Item ``item``'s native mask over ``[y0:y1, x0:x1]`` (uint8), drawn from its runs."""
        a, b = self._run_bounds[item], self._run_bounds[item + 1]
        row = self._row[a:b].astype(np.int64)
        inside = (row >= y0) & (row < y1)
        row = row[inside] - y0
        start = np.clip(self._start[a:b][inside], x0, x1) - x0
        end = np.clip(self._end[a:b][inside], x0, x1) - x0
        row, start, end = row[start < end], start[start < end], end[start < end]
        edges = np.zeros((y1 - y0, x1 - x0 + 1), dtype=np.int16)
        edges[row, start] += 1  # runs of one component never share a start or an end
        edges[row, end] -= 1
        return (np.cumsum(edges[:, :-1], axis=1) > 0).astype(np.uint8)

    def image_path(self, item: int) -> Path:
        return self.image_files[int(self.image_ids[item])]

    def native_size(self, item: int) -> tuple[int, int]:
        width, height = self._sizes[int(self.image_ids[item])]
        return int(width), int(height)

    def item_fields(self, item: int) -> dict[str, Any]:
        return {"instance_id": item}
