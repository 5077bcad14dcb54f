"""ContextShapes: a synthetic world in which context is what tells the class of a small region.

The paper's three findings are claims about *where information lives*: in the region itself,
in its surroundings, and at what resolution. This world is built so that each of them follows
from its rules, which makes it a controlled experiment that trains in minutes on a CPU.

The rules
---------
There are ``n_classes`` classes (6 by default, at most 8). Each class has a **body** (a shape
drawn in its own colour: a red disc, an orange square, a yellow triangle, ...) and a **home**
(a terrain: water, grass, sand, snow, ...). Every scene is ``S = image_size`` pixels square and
is drawn at that size (its native resolution); lengths are fixed fractions of ``S``.

1. **Terrain.** The background is a patchwork of terrains: a Voronoi tessellation of sites
   spread over the scene, each with its own terrain, so one scene holds many homes side by side.
2. **Small objects are specks that only their home identifies.** Each scene holds
   ``n_small`` small objects (3 by default, of distinct classes). Every one looks the same
   whatever its class: a dark square about ``S/12`` wide (5 pixels at 48 or 64) in a pale
   one-pixel outline. Each speck is itself a terrain site whose terrain is its class's home, so
   it sits in a patch of its home. The specks of a scene form one cluster, each ``S/5`` to
   ``S/4`` from another (10 to 12 pixels at 48): **different homes a few pixels apart**.
3. **Large objects are recognised by their own body.** Each scene also holds ``n_large`` large
   objects (2 by default, of distinct classes): the class's shape in the class's colour, radius
   ``S/8`` to ``S/5.5``, turned at random, on whatever terrain happens to be there. Their terrain
   says nothing about their class.
4. Objects never overlap or cover a speck's patch, so every region is whole and no mask is
   empty. A little colour jitter (per site and per object) and pixel noise keep colours from
   being exact keys.

Every object is one item: the scene, the object's mask (a speck's mask is the dark square, not
its outline), its class and its area in pixels.

Why the findings must follow
----------------------------
- **Several objects per scene**: a classifier that ignores the mask (``image``) sees five
  objects and cannot know which one is asked about.
- **Hard attention loses the context**: zeroing everything outside a speck leaves the same dark
  square for every class, so ``hard@input`` can only guess on small objects (1 in
  ``n_classes``), while on large objects the body inside the mask is all it needs: there it
  should match the attention map. The pale outline is there so that a tight crop (``crop``, the
  box plus a 10% margin) shows no terrain either: it lies within the outline.
- **Deep merges are too coarse**: a ResNet's layer3 has one cell per 16 pixels, and a speck's
  patch is a few pixels across. Resized bilinearly to layer3 (the paper's way), a speck's mask
  mostly vanishes (no sample point falls on it); resized with ``max``, it marks a cell that at
  ``S <= 64`` can hold several specks of the cluster on several homes. Either way
  ``attn-*@layer3`` cannot point at one speck and falls back towards ``image`` on small objects,
  while at conv1 (stride 2) the mask still marks the speck and its patch. (At larger ``S`` the
  specks are more than a layer3 cell apart, and only the bilinear vanishing remains.)

Sizes fall in two groups (a speck is at most ``(S/12 + 1)**2`` pixels, a large body several
times that), and :attr:`ContextShapes.size_bins` splits them there instead of the paper's
COCO-scale bins.

The world is deterministic: scene ``i`` depends only on ``(seed, i)`` and the world's parameters,
not on ``n_images``. Use different seeds for training and test sets.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from roiattn.data.bins import SizeBins
from roiattn.data.images import normalize
from roiattn.data.indexing import check_index
from roiattn.data.regions import RegionDataset


class WorldClass(NamedTuple):
    """One class of the world: its body's shape and colour, and its home terrain and colour."""

    shape: str
    colour: tuple[int, int, int]
    terrain: str
    terrain_colour: tuple[int, int, int]


WORLD_CLASSES: tuple[WorldClass, ...] = (
    WorldClass("disc", (215, 35, 35), "water", (50, 100, 200)),  # red
    WorldClass("square", (245, 130, 20), "grass", (70, 160, 60)),  # orange
    WorldClass("triangle", (245, 225, 30), "sand", (225, 200, 120)),  # yellow
    WorldClass("cross", (220, 50, 190), "snow", (240, 240, 245)),  # magenta
    WorldClass("ring", (0, 150, 140), "rock", (128, 128, 128)),  # teal
    WorldClass("diamond", (30, 30, 120), "soil", (130, 80, 40)),  # navy
    WorldClass("bar", (255, 160, 190), "heather", (150, 100, 170)),  # pink
    WorldClass("hexagon", (170, 230, 40), "ice", (150, 220, 230)),  # lime
)
CLASS_NAMES: tuple[str, ...] = tuple(c.shape for c in WORLD_CLASSES)
BODY_COLOURS = np.array([c.colour for c in WORLD_CLASSES])
TERRAIN_COLOURS = np.array([c.terrain_colour for c in WORLD_CLASSES])
SPECK_COLOUR: tuple[int, int, int] = (20, 20, 20)
RIM_COLOUR: tuple[int, int, int] = (190, 190, 190)  # every speck's pale outline
MAX_CLASSES = len(WORLD_CLASSES)
MIN_IMAGE_SIZE = 32
SCENE_CACHE_BYTES = 64 * 2**20  # drawn scenes kept per dataset (all 800 of the quick profile's)

# geometry, as fractions of the image size S
SPECK_HALF = 1 / 24  # half the side of a speck (a square, centred on a pixel)
RIM_WIDTH = 1 / 48  # width of the pale outline around every speck (at least one pixel)
SPECK_SPACING = (1 / 5, 1 / 4)  # distance from a speck to its nearest neighbour in the cluster
LARGE_RADIUS = (1 / 8, 1 / 5.5)
SITE_SPACING = 1 / 4  # other terrain sites keep this far from specks
LARGE_CLEARANCE = 1 / 8  # extra gap between a large body and a speck (keeps the patch clear)

COLOUR_JITTER = 10  # +- per channel, per terrain site and per object
PIXEL_NOISE = 6.0  # standard deviation of the Gaussian pixel noise, in 0..255 units

KIND_SMALL, KIND_LARGE = 0, 1
KIND_NAMES: tuple[str, ...] = ("small", "large")

_PLACEMENT_TRIES = 200
_SCENE_TRIES = 50


def _inside_shape(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Which points ``(u, v)`` (in units of the body's radius) lie inside class ``shape``'s body."""
    name = CLASS_NAMES[shape]
    if name == "disc":
        return u * u + v * v <= 1.0
    if name == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8
    if name == "triangle":  # equilateral, apothem 0.6, one vertex up
        inside = np.ones_like(u, dtype=bool)
        for angle in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6):
            inside &= u * math.cos(angle) + v * math.sin(angle) <= 0.6
        return inside
    if name == "cross":
        au, av = np.abs(u), np.abs(v)
        return ((au <= 0.3) & (av <= 1.0)) | ((av <= 0.3) & (au <= 1.0))
    if name == "ring":
        r2 = u * u + v * v
        return (r2 <= 1.0) & (r2 >= 0.55**2)
    if name == "diamond":
        return np.abs(u) + np.abs(v) <= 1.1
    if name == "bar":
        return (np.abs(u) <= 1.0) & (np.abs(v) <= 0.4)
    # hexagon: apothem 0.87
    inside = np.ones_like(u, dtype=bool)
    for angle in (0.0, math.pi / 3, 2 * math.pi / 3):
        inside &= np.abs(u * math.cos(angle) + v * math.sin(angle)) <= 0.87
    return inside


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


class ContextShapes(RegionDataset):
    """Synthetic scenes where a small object's class is told only by the terrain around it.

    See the module docstring for the world's rules and why they make the paper's findings
    appear. ``n_images`` scenes of ``n_small + n_large`` objects each; one item per object.

    Items are dicts: ``image`` (normalised float ``(3, S, S)``), ``mask`` (float ``(1, S, S)``,
    never empty), ``label`` (int), ``area`` (mask pixels; the scene is drawn at ``S``, so that is
    its native resolution), ``image_id`` (the scene's COCO id, scene index + 1), ``instance_id``
    (the object's COCO annotation id, item index + 1), ``box`` (``x, y, w, h`` in pixels) and
    ``small`` (whether it is a speck).

    The layout of every scene is drawn when the dataset is built (fast: a few thousand scenes a
    second); pixels are drawn when an item is read. ``labels``, ``areas`` and ``len()`` are
    plain arrays.
    """

    def __init__(
        self,
        n_images: int,
        image_size: int = 64,
        seed: int = 0,
        n_classes: int = 6,
        n_small: int = 3,
        n_large: int = 2,
        n_sites: int = 12,
    ) -> None:
        self.n_images = _check_int("n_images", n_images, 1)
        self.image_size = _check_int("image_size", image_size, MIN_IMAGE_SIZE)
        self.seed = _check_int("seed", seed, 0)
        self.n_classes = _check_int("n_classes", n_classes, 2, MAX_CLASSES)
        self.n_small = _check_int("n_small", n_small, 0, self.n_classes)
        self.n_large = _check_int("n_large", n_large, 0, self.n_classes)
        self.n_sites = _check_int("n_sites", n_sites, 1)
        if self.n_small + self.n_large == 0:
            raise ValueError("a scene needs at least one object: n_small + n_large must be >= 1")

        # speck and rim half-sides in whole pixels (a speck is (2 * half + 1) pixels square)
        self.speck_half = max(1, math.floor(SPECK_HALF * self.image_size))
        self.rim_half = max(
            self.speck_half + 1, math.floor((SPECK_HALF + RIM_WIDTH) * self.image_size)
        )
        self.classes: list[str] = list(CLASS_NAMES[: self.n_classes])
        self.terrains: list[str] = [c.terrain for c in WORLD_CLASSES[: self.n_classes]]
        self.description = self._describe()

        # one row per object: scene, kind, class, centre x, centre y, radius (a speck: half its
        # side in whole pixels), angle, colour (3)
        rows: list[np.ndarray] = []
        self._sites: list[np.ndarray] = []  # per scene: x, y, terrain, colour (3)
        for scene in range(self.n_images):
            objects, sites = self._layout(scene)
            objects[:, 0] = scene
            rows.append(objects)
            self._sites.append(sites)
        self._objects = np.concatenate(rows).astype(np.float32)
        self._scene_start = np.concatenate([[0], np.cumsum([len(r) for r in rows])])

        self.scene_of = self._objects[:, 0].astype(np.int64)  # scene index of every item
        self.small = self._objects[:, 1] == KIND_SMALL  # whether every item is a speck
        self.labels = self._objects[:, 2].astype(np.int64)
        self.image_ids = self.scene_of + 1  # as in the COCO export
        self._boxes = [self._object_pixels(i) for i in range(len(self._objects))]
        self.areas = np.array([int(m.sum()) for _, _, m in self._boxes], dtype=np.int64)
        if (self.areas == 0).any():  # the geometry guarantees this never happens
            raise RuntimeError("ContextShapes drew an empty object: please report this")

        # one edge at twice a speck's area: every speck is below it, every large body above
        edge = float(2 * (2 * self.speck_half + 1) ** 2)
        self.size_bins = SizeBins("shapes", (edge,), KIND_NAMES)
        # drawn scenes, up to SCENE_CACHE_BYTES: a scene's items (and every method trained on
        # the same dataset) draw it once
        self._scenes: dict[int, np.ndarray] = {}

    # ---------------------------------------------------------------- layout

    def _describe(self) -> str:
        text = f"ContextShapes(n_images={self.n_images}, image_size={self.image_size}, "
        text += f"seed={self.seed}"
        defaults = {"n_classes": 6, "n_small": 3, "n_large": 2, "n_sites": 12}
        for name, default in defaults.items():
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text + ")"

    def _layout(self, scene: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw scene ``scene``'s objects and terrain sites from its own random stream."""
        rng = np.random.default_rng([self.seed, scene, 0])
        for _ in range(_SCENE_TRIES):
            placed = self._try_layout(rng)
            if placed is not None:
                return placed
        raise ValueError(
            f"could not fit {self.n_small} small and {self.n_large} large objects into a "
            f"{self.image_size}px scene (scene {scene}): lower n_small or n_large"
        )

    def _try_layout(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
        s = float(self.image_size)
        k = self.n_classes
        speck_classes = rng.permutation(k)[: self.n_small]
        large_classes = rng.permutation(k)[: self.n_large]

        # specks: one cluster, each S/5..S/4 from a previous one and >= S/5 from all
        specks: list[tuple[float, float]] = []
        lo, hi = SPECK_SPACING[0] * s, SPECK_SPACING[1] * s
        margin = lo / 2
        for _ in range(self.n_small):
            for _ in range(_PLACEMENT_TRIES):
                if not specks:
                    x, y = rng.uniform(margin, s - margin, 2)
                else:
                    ax, ay = specks[rng.integers(len(specks))]
                    angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(lo, hi)
                    x, y = ax + dist * math.cos(angle), ay + dist * math.sin(angle)
                if not (margin <= x <= s - margin and margin <= y <= s - margin):
                    continue
                if all(math.hypot(x - px, y - py) >= lo for px, py in specks):
                    # centre on a pixel centre, so the centre pixel is always inside
                    specks.append((math.floor(x) + 0.5, math.floor(y) + 0.5))
                    break
            else:
                return None

        # large bodies: inside the scene, clear of each other and of every speck's patch
        large: list[tuple[float, float, float]] = []
        for _ in range(self.n_large):
            radius = rng.uniform(LARGE_RADIUS[0] * s, LARGE_RADIUS[1] * s)
            for _ in range(_PLACEMENT_TRIES):
                x, y = rng.uniform(radius + 1, s - radius - 1, 2)
                clear_of_specks = all(
                    math.hypot(x - px, y - py) >= radius + LARGE_CLEARANCE * s for px, py in specks
                )
                clear_of_large = all(
                    math.hypot(x - qx, y - qy) >= radius + r + RIM_WIDTH * s + 1
                    for qx, qy, r in large
                )
                if clear_of_specks and clear_of_large:
                    large.append((x, y, radius))
                    break
            else:
                return None

        # terrain sites: the specks (their class's home) plus n_sites others away from specks
        candidates = rng.uniform(0, s, (self.n_sites * 8, 2))
        if specks:
            d = np.hypot(
                candidates[:, None, 0] - np.array(specks)[None, :, 0],
                candidates[:, None, 1] - np.array(specks)[None, :, 1],
            )
            candidates = candidates[(d >= SITE_SPACING * s).all(axis=1)]
        others = candidates[: self.n_sites]
        if len(others) == 0 and not specks:
            return None
        site_xy = np.concatenate([np.array(specks).reshape(-1, 2), others])
        site_terrain = np.concatenate([speck_classes, rng.integers(0, k, len(others))])
        site_colour = TERRAIN_COLOURS[site_terrain] + rng.integers(
            -COLOUR_JITTER, COLOUR_JITTER + 1, (len(site_xy), 3)
        )
        sites = np.column_stack([site_xy, site_terrain, site_colour]).astype(np.float32)

        objects = []
        for (x, y), c in zip(specks, speck_classes, strict=True):
            colour = np.array(SPECK_COLOUR) + rng.integers(-COLOUR_JITTER, COLOUR_JITTER + 1, 3)
            objects.append([0, KIND_SMALL, c, x, y, self.speck_half, 0.0, *colour])
        for (x, y, radius), c in zip(large, large_classes, strict=True):
            colour = BODY_COLOURS[c] + rng.integers(-COLOUR_JITTER, COLOUR_JITTER + 1, 3)
            angle = rng.uniform(0, 2 * math.pi)
            objects.append([0, KIND_LARGE, c, x, y, radius, angle, *colour])
        objects_array = np.array(objects, dtype=np.float64).reshape(-1, 10)
        return objects_array, sites

    def _object_pixels(self, item: int) -> tuple[int, int, np.ndarray]:
        """Item ``item``'s pixels: ``(x0, y0, bool mask of its bounding square)``."""
        _, kind, cls, x, y, radius, angle = self._objects[item, :7].tolist()
        s = self.image_size
        x0, x1 = max(0, math.floor(x - radius)), min(s, math.ceil(x + radius) + 1)
        y0, y1 = max(0, math.floor(y - radius)), min(s, math.ceil(y + radius) + 1)
        px = np.arange(x0, x1, dtype=np.float64) + 0.5 - x
        py = np.arange(y0, y1, dtype=np.float64) + 0.5 - y
        dx, dy = np.meshgrid(px, py)
        if kind == KIND_SMALL:  # a square of whole pixels around the centre pixel
            return x0, y0, np.maximum(np.abs(dx), np.abs(dy)) <= radius
        cos, sin = math.cos(angle), math.sin(angle)
        u = (cos * dx + sin * dy) / radius
        v = (-sin * dx + cos * dy) / radius
        return x0, y0, _inside_shape(int(cls), u, v)

    # ---------------------------------------------------------------- drawing

    def scene_items(self, scene: int) -> range:
        """The item indices of scene ``scene``'s objects."""
        scene = self._check_scene(scene)
        return range(int(self._scene_start[scene]), int(self._scene_start[scene + 1]))

    def _check_scene(self, scene: int) -> int:
        return check_index(scene, self.n_images, "scene", "scenes")

    def _nearest_site(self, scene: int) -> np.ndarray:
        """For every pixel of scene ``scene``, the index of its terrain site (Voronoi cell)."""
        sites = self._sites[scene]
        grid = np.arange(self.image_size, dtype=np.float32) + 0.5
        d2 = (grid[None, None, :] - sites[:, 0, None, None]) ** 2 + (
            grid[None, :, None] - sites[:, 1, None, None]
        ) ** 2
        return d2.argmin(axis=0)

    def terrain_map(self, scene: int) -> np.ndarray:
        """Scene ``scene``'s terrain under the objects: int array ``(S, S)`` of terrain indices
        (terrain ``k`` is the home of class ``k``; names in :attr:`terrains`)."""
        scene = self._check_scene(scene)
        return self._sites[scene][:, 2].astype(np.int64)[self._nearest_site(scene)]

    def scene_image(self, scene: int) -> np.ndarray:
        """Scene ``scene`` as a uint8 RGB array ``(S, S, 3)`` (a copy: change it freely)."""
        scene = self._check_scene(scene)
        image = self._scenes.get(scene)
        if image is None:
            image = self._draw_scene(scene)
            if (len(self._scenes) + 1) * image.nbytes <= SCENE_CACHE_BYTES:
                self._scenes[scene] = image
        return image.copy()

    def _draw_scene(self, scene: int) -> np.ndarray:
        image = self._sites[scene][:, 3:6][self._nearest_site(scene)]  # (S, S, 3): the terrain
        s, rim = self.image_size, self.rim_half
        for item in self.scene_items(scene):
            if self.small[item]:  # the pale outline, drawn under the speck
                x, y = (int(v) for v in self._objects[item, 3:5])
                x0, x1, y0, y1 = (
                    max(0, x - rim),
                    min(s, x + rim + 1),
                    max(0, y - rim),
                    min(s, y + rim + 1),
                )
                image[y0:y1, x0:x1] = RIM_COLOUR
        for item in self.scene_items(scene):
            x0, y0, inside = self._boxes[item]
            h, w = inside.shape
            image[y0 : y0 + h, x0 : x0 + w][inside] = self._objects[item, 7:10]
        noise_rng = np.random.default_rng([self.seed, scene, 1])
        image += noise_rng.normal(0.0, PIXEL_NOISE, image.shape).astype(np.float32)
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)

    def object_mask(self, item: int) -> np.ndarray:
        """Item ``item``'s region as a bool array ``(S, S)``."""
        item = self._check_item(item)
        x0, y0, inside = self._boxes[item]
        mask = np.zeros((self.image_size, self.image_size), dtype=bool)
        h, w = inside.shape
        mask[y0 : y0 + h, x0 : x0 + w] = inside
        return mask

    def box(self, item: int) -> tuple[int, int, int, int]:
        """Item ``item``'s tight bounding box ``(x, y, w, h)`` in pixels, COCO style."""
        item = self._check_item(item)
        x0, y0, inside = self._boxes[item]
        rows, cols = np.nonzero(inside.any(axis=1))[0], np.nonzero(inside.any(axis=0))[0]
        return (x0 + int(cols[0]), y0 + int(rows[0]), int(cols[-1] - cols[0] + 1),
                int(rows[-1] - rows[0] + 1))  # fmt: skip

    # ---------------------------------------------------------------- dataset protocol

    def _check_item(self, item: int) -> int:
        return check_index(item, len(self))

    def __getitem__(self, item: int) -> dict[str, Any]:
        item = self._check_item(item)
        scene = int(self.scene_of[item])
        mask = torch.from_numpy(self.object_mask(item)).float()[None]
        return {
            "image": normalize(self.scene_image(scene)),
            "mask": mask,
            "label": int(self.labels[item]),
            "area": int(self.areas[item]),
            "image_id": scene + 1,
            "instance_id": item + 1,
            "box": torch.tensor(self.box(item)),
            "small": bool(self.small[item]),
        }

    def __repr__(self) -> str:
        return f"{self.description}: {len(self)} regions, classes {self.classes}"

    def __getstate__(self) -> dict[str, Any]:
        # DataLoader workers draw scenes for themselves: the drawn ones are not copied to each
        return {**self.__dict__, "_scenes": {}}

    # ---------------------------------------------------------------- COCO export

    def to_coco(
        self,
        path: str | os.PathLike,
        split: str = "train2017",
        image_format: str = "png",
        progress: bool = False,
    ) -> Path:
        """Write the scenes as a standard COCO folder that pycocotools (and ``COCORegions``) read.

        Writes ``<path>/annotations/instances_<split>.json`` (RLE segmentations, one category per
        class with ids from 1 in class order) and ``<path>/<split>/<image id>.<image_format>``.
        PNG (the default) keeps the pixels exact; ``jpg`` is smaller but lossy. Returns ``path``.
        """
        from pycocotools import mask as mask_utils

        if not isinstance(split, str) or not split or "/" in split or "\\" in split:
            raise ValueError(f"split must be a folder name such as 'train2017', got {split!r}")
        if image_format not in ("png", "jpg"):
            raise ValueError(f"image_format must be 'png' or 'jpg', got {image_format!r}")
        from PIL import Image

        root = Path(path)
        image_dir = root / split
        image_dir.mkdir(parents=True, exist_ok=True)
        (root / "annotations").mkdir(parents=True, exist_ok=True)

        images, annotations = [], []
        scenes: Any = range(self.n_images)
        if progress:
            from tqdm.auto import tqdm

            scenes = tqdm(scenes, desc=f"writing {split}", unit="scene")
        for scene in scenes:
            file_name = f"{scene + 1:012d}.{image_format}"
            pixels = Image.fromarray(self.scene_image(scene))
            save_options = {"quality": 95} if image_format == "jpg" else {}
            pixels.save(image_dir / file_name, **save_options)
            images.append(
                {
                    "id": scene + 1,
                    "file_name": file_name,
                    "width": self.image_size,
                    "height": self.image_size,
                }
            )
            for item in self.scene_items(scene):
                rle = mask_utils.encode(np.asfortranarray(self.object_mask(item).astype(np.uint8)))
                annotations.append(
                    {
                        "id": item + 1,
                        "image_id": scene + 1,
                        "category_id": int(self.labels[item]) + 1,
                        "segmentation": {
                            "size": [int(v) for v in rle["size"]],
                            "counts": rle["counts"].decode("ascii"),
                        },
                        "area": float(self.areas[item]),
                        "bbox": [float(v) for v in self.box(item)],
                        "iscrowd": 0,
                    }
                )
        categories = [
            {"id": c + 1, "name": name, "supercategory": self.terrains[c]}
            for c, name in enumerate(self.classes)
        ]
        document = {
            "info": {
                "description": self.description,
                "version": "1.0",
                "contributor": "roiattn (synthetic)",
            },
            "licenses": [],
            "images": images,
            "annotations": annotations,
            "categories": categories,
        }
        with open(root / "annotations" / f"instances_{split}.json", "w") as file:
            json.dump(document, file)
        return root
