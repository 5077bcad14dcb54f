"""find_coco: where the book's COCO data comes from, in the order DESIGN.md gives.

1. ``$ROIATTN_COCO_ROOT``, if set: a COCO folder (CI sets it to coco-mini).
2. A previous download under ``$ROIATTN_DATA`` (default ``~/.cache/roiattn``), in ``coco/``.
3. A download (:func:`~roiattn.data.download_coco_subset`), when the network is there: from
   ``images.cocodataset.org``, or from the mirror ``$ROIATTN_COCO_MIRROR`` names.
4. Otherwise a synthetic :class:`~roiattn.data.ContextShapes` folder written as COCO, with a
   visible note that the data is synthetic.

Every answer carries a one-line note for the provenance of results, with paths shown as
:func:`~roiattn.data.paths.display_path` shows them.
"""

from __future__ import annotations

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
    subset_settings,
)
from roiattn.data.paths import COCO_ROOT_ENV, default_data_dir, display_path
from roiattn.errors import DownloadError

MIRROR_ENV = "ROIATTN_COCO_MIRROR"
KINDS: tuple[str, ...] = ("env", "cache", "download", "synthetic")
ANNOTATIONS_MB = 241  # the official annotation archive, downloaded once
IMAGE_KB = 160  # a COCO image, on average


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
    download_images: int = 64,
    seed: int = 0,
    synthetic: SyntheticSize = SYNTHETIC,
    download: bool = True,
    probe_timeout: float = 5.0,
) -> DataSource:
    """A COCO folder holding ``split``, from the first source that has one (module docstring).

    ``download_images`` is the size of a download (class-balanced, from ``seed``), and an
    earlier download smaller than that is only used when ``download=False`` or the download
    fails. ``synthetic`` sizes the stand-in (training splits use ``seed``, others ``seed + 1``).
    """
    at_hand = coco_at_hand(split, download_images if download else None)
    if at_hand is not None:
        return at_hand
    cached = default_data_dir() / "coco"
    annotations_url, images_url = coco_urls()
    if download and online(annotations_url, probe_timeout):
        try:
            return _download(split, cached, download_images, seed, annotations_url, images_url)
        except DownloadError as error:
            warnings.warn(f"COCO download failed, falling back: {error}", stacklevel=2)
            if has_split(cached, split):  # a smaller earlier download beats synthetic data
                note = f"COCO {split} from {display_path(cached)} (download failed)"
                return DataSource(cached, "cache", note)
    return synthetic_coco(split, seed, synthetic, "no network" if download else "downloads off")


def coco_at_hand(split: str, min_images: int | None = None) -> DataSource | None:
    """Steps 1 and 2 of :func:`find_coco`: ``$ROIATTN_COCO_ROOT``, else an earlier download
    (of at least ``min_images`` images, when given), else None."""
    env_root = os.environ.get(COCO_ROOT_ENV, "").strip()
    if env_root:
        root = Path(env_root).expanduser()
        if not has_split(root, split):
            raise FileNotFoundError(
                f"{COCO_ROOT_ENV}={env_root} has no annotations/instances_{split}.json: point it "
                f"at a COCO folder holding {split}, or unset it"
            )
        return DataSource(root, "env", f"COCO {split} from ${COCO_ROOT_ENV}")
    cached = default_data_dir() / "coco"
    if has_split(cached, split):
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
