"""find_coco: where the book's COCO data comes from, in the order DESIGN.md gives.

1. ``$ROIATTN_COCO_ROOT``, if set: a COCO folder (CI sets it to coco-mini).
2. A previous download under ``$ROIATTN_DATA`` (default ``~/.cache/roiattn``): ``coco-book/``
   (the book's own images) or ``coco/`` (a subset).
3. A download, when the network is there, from ``images.cocodataset.org`` or from the mirror
   ``$ROIATTN_COCO_MIRROR`` names: the book's own image list (:data:`BOOK_IMAGES`, the quick
   profile's: the 288 COCO 2017 images, 208 train and 80 val, that the published pages were
   made on, whose annotations ship with the package; about 46 MB and no annotation archive),
   or a class-balanced subset of a given size
   (:func:`~roiattn.data.download_coco_subset`, which reads the 241 MB annotation archive).
4. Otherwise a synthetic :class:`~roiattn.data.ContextShapes` folder written as COCO, with a
   visible note that the data is synthetic.

Every answer carries a one-line note for the provenance of results, with paths shown as
:func:`~roiattn.data.paths.display_path` shows them.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import NamedTuple

from roiattn.data.download import (
    COCO_ANNOTATIONS_URL,
    COCO_IMAGES_URL,
    download_coco_subset,
    download_listed_images,
    subset_settings,
)
from roiattn.data.paths import COCO_ROOT_ENV, default_data_dir, display_path
from roiattn.errors import DownloadError

MIRROR_ENV = "ROIATTN_COCO_MIRROR"
KINDS: tuple[str, ...] = ("env", "cache", "download", "synthetic")
ANNOTATIONS_MB = 241  # the official annotation archive, downloaded once
IMAGE_KB = 160  # a COCO image, on average
# the book's own image list: the COCO 2017 images its published outputs were made on (coco-mini,
# 208 train2017 and 80 val2017 images); their annotations (CC BY 4.0) ship in data/book/
BOOK_IMAGES = "book"
BOOK_FILES = Path(__file__).with_name("book")
BOOK_FOLDER = "coco-book"


class DataSource(NamedTuple):
    """A COCO folder, how it was found (one of ``KINDS``) and a line saying so."""

    root: Path
    kind: str
    note: str


class SyntheticSize(NamedTuple):
    """How many ContextShapes scenes stand in for each split when there is no COCO, and their
    side in pixels."""

    train: int = 800
    test: int = 300
    image_size: int = 48


SYNTHETIC = SyntheticSize()


def coco_urls() -> tuple[str, str]:
    """``(annotation archive URL, images base URL)``: COCO's own, or under the mirror
    ``$ROIATTN_COCO_MIRROR`` (``<mirror>/annotations/<archive>``, ``<mirror>/<split>/<file>``)."""
    mirror = os.environ.get(MIRROR_ENV, "").strip().rstrip("/")
    if not mirror:
        return COCO_ANNOTATIONS_URL, COCO_IMAGES_URL
    return f"{mirror}/annotations/{COCO_ANNOTATIONS_URL.rsplit('/', 1)[-1]}", mirror


def has_split(root: Path, split: str) -> bool:
    """Whether ``root`` is a COCO folder holding ``split``'s annotation file."""
    return (root / "annotations" / f"instances_{split}.json").is_file()


def online(url: str, timeout: float = 5.0) -> bool:
    """Whether ``url`` answers at all (a HEAD request)."""
    try:
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "roiattn"})
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except urllib.error.HTTPError as error:
        error.close()  # it holds the connection: release it now, not when collected
        return False
    except (OSError, ValueError):
        return False


def find_coco(
    split: str = "val2017",
    *,
    download_images: int | str = 64,
    seed: int = 0,
    synthetic: SyntheticSize = SYNTHETIC,
    download: bool = True,
    probe_timeout: float = 5.0,
) -> DataSource:
    """A COCO folder holding ``split``, from the first source that has one (module docstring).

    ``download_images`` is :data:`BOOK_IMAGES` (the book's own image list) or the size of a
    download (class-balanced, from ``seed``); an earlier download smaller than that is only used
    when ``download=False`` or the download fails. ``synthetic`` sizes the stand-in (training
    splits use ``seed``, others ``seed + 1``).
    """
    at_hand = coco_at_hand(split, download_images if download else None)
    if at_hand is not None:
        return at_hand
    cached = default_data_dir() / "coco"
    annotations_url, images_url = coco_urls()
    if download and download_images == BOOK_IMAGES:
        book = default_data_dir() / BOOK_FOLDER
        listed = BOOK_FILES / f"instances_{split}.json"
        if fetch_list(book, split, listed, "the book's images", probe_timeout):
            note = f"COCO {split}: the book's images, downloaded to {display_path(book)}"
            return DataSource(book, "download", note)
    elif download and online(annotations_url, probe_timeout):
        try:
            return _download(split, cached, download_images, seed, annotations_url, images_url)
        except DownloadError as error:
            warnings.warn(f"COCO download failed, falling back: {error}", stacklevel=2)
            if has_split(cached, split):  # a smaller earlier download beats synthetic data
                note = f"COCO {split} from {display_path(cached)} (download failed)"
                return DataSource(cached, "cache", note)
    return synthetic_coco(split, seed, synthetic, "no network" if download else "downloads off")


def coco_at_hand(split: str, min_images: int | str | None = None) -> DataSource | None:
    """Steps 1 and 2 of :func:`find_coco`: ``$ROIATTN_COCO_ROOT``, else an earlier download
    (the book's images when ``min_images`` is :data:`BOOK_IMAGES`, a subset of at least
    ``min_images`` images when it is a number, either when None), else None."""
    env_root = os.environ.get(COCO_ROOT_ENV, "").strip()
    if env_root:
        root = Path(env_root).expanduser()
        if not has_split(root, split):
            raise FileNotFoundError(
                f"{COCO_ROOT_ENV}={env_root} has no annotations/instances_{split}.json: point it "
                f"at a COCO folder holding {split}, or unset it"
            )
        return DataSource(root, "env", f"COCO {split} from ${COCO_ROOT_ENV}")
    book = default_data_dir() / BOOK_FOLDER
    if min_images in (None, BOOK_IMAGES) and has_split(book, split):
        where = display_path(book)
        return DataSource(book, "cache", f"COCO {split}: the book's images, downloaded to {where}")
    cached = default_data_dir() / "coco"
    if min_images != BOOK_IMAGES and has_split(cached, split):
        size = (subset_settings(cached, split) or {}).get("max_images")
        if min_images is None or size is None or size >= min_images:
            where = display_path(cached)
            return DataSource(
                cached, "cache", f"COCO {split} from an earlier download in {where} ({size} images)"
            )
    return None


def _download(
    split: str, root: Path, images: int, seed: int, annotations_url: str, images_url: str
) -> DataSource:
    archive = default_data_dir() / annotations_url.rsplit("/", 1)[-1]
    first = "" if archive.is_file() else f"the annotation archive ({ANNOTATIONS_MB} MB, once) and "
    print(
        f"downloading {first}{images} COCO {split} images (about "
        f"{images * IMAGE_KB / 1000:.0f} MB) to {display_path(root)}"
    )
    download_coco_subset(
        root,
        split,
        max_images=images,
        seed=seed,
        annotations_url=annotations_url,
        images_base_url=images_url,
        cache_dir=default_data_dir(),
    )
    note = f"COCO {split}: {images} images downloaded (class-balanced, seed {seed})"
    return DataSource(root, "download", note)


def fetch_list(root: Path, split: str, listed: Path, what: str, probe_timeout: float) -> bool:
    """Download the images of an annotation file the book ships (``listed``: its sample photos,
    or the images its pages were made on) into ``root`` when the network answers; returns
    whether ``root`` holds ``split`` now."""
    document = json.loads(listed.read_text())
    _, images_url = coco_urls()
    first = f"{images_url.rstrip('/')}/{split}/{document['images'][0]['file_name']}"
    if online(first, probe_timeout):
        count = len(document["images"])
        print(f"downloading {what}: {count} COCO {split} images (about "
              f"{count * IMAGE_KB / 1000:.1f} MB) to {display_path(root)}")  # fmt: skip
        try:
            download_listed_images(root, split, listed, images_url, what)
        except DownloadError as error:
            warnings.warn(f"{what} could not be downloaded: {error}", stacklevel=3)
    return has_split(root, split)


def synthetic_coco(split: str, seed: int, size: SyntheticSize, why: str) -> DataSource:
    """Step 4 of :func:`find_coco`: ContextShapes scenes written as a COCO folder that holds
    every split, and a note saying that the data is synthetic and ``why``."""
    from roiattn.data.context_shapes import ContextShapes

    # one folder holds every split, as a COCO folder does
    root = (
        default_data_dir()
        / "context-shapes"
        / (f"{size.train}-{size.test}x{size.image_size}px-seed{seed}")
    )
    train = split.startswith("train")
    n_images = size.train if train else size.test
    seed = seed if train else seed + 1
    if not has_split(root, split):
        shapes = ContextShapes(n_images=n_images, image_size=size.image_size, seed=seed)
        shapes.to_coco(root, split=split, progress=True)
    note = (
        f"SYNTHETIC DATA: no COCO folder was found (${COCO_ROOT_ENV} unset, no earlier download, "
        f"{why}), so {split} is {n_images} ContextShapes scenes ({size.image_size}px, seed "
        f"{seed}) written as COCO to {display_path(root)}. Results on it are not COCO results."
    )
    return DataSource(root, "synthetic", note)
