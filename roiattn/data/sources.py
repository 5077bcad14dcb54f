"""find_coco: where the book's COCO data comes from, in the order DESIGN.md gives.

1. ``$ROIATTN_COCO_ROOT``, if set: a COCO folder (CI sets it to coco-mini).
2. A previous download under ``$ROIATTN_DATA`` (default ``~/.cache/roiattn``), in ``coco/``.
3. A download (:func:`~roiattn.data.download_coco_subset`), when the network is there.
4. Otherwise a synthetic :class:`~roiattn.data.ContextShapes` folder written as COCO, with a
   visible note that the data is synthetic.

Every answer carries a one-line note for the provenance of results.
"""

from __future__ import annotations

import os
import urllib.request
import warnings
from pathlib import Path
from typing import NamedTuple

from roiattn.data.download import (
    COCO_ANNOTATIONS_URL,
    DownloadError,
    default_data_dir,
    download_coco_subset,
    subset_settings,
)
from roiattn.profiles import Profile, current

COCO_ROOT_ENV = "ROIATTN_COCO_ROOT"
KINDS: tuple[str, ...] = ("env", "cache", "download", "synthetic")


class DataSource(NamedTuple):
    """A COCO folder, how it was found (one of ``KINDS``) and a line saying so."""

    root: Path
    kind: str
    note: str


def _has_split(root: Path, split: str) -> bool:
    return (root / "annotations" / f"instances_{split}.json").is_file()


def _online(url: str, timeout: float) -> bool:
    """Whether ``url`` answers at all (a HEAD request)."""
    try:
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "roiattn"})
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def find_coco(
    split: str = "val2017",
    profile: Profile | None = None,
    download: bool = True,
    annotations_url: str = COCO_ANNOTATIONS_URL,
    images_base_url: str | None = None,
    probe_timeout: float = 5.0,
) -> DataSource:
    """A COCO folder holding ``split``, from the first source that has one (module docstring).

    ``profile`` (default: the active one) sets the download's size (``download_images``) and
    the synthetic set's size and seed. ``download=False`` skips step 3. The URLs are passed to
    :func:`~roiattn.data.download_coco_subset` (tests point them at a local mirror).
    """
    profile = profile or current()
    env_root = os.environ.get(COCO_ROOT_ENV, "").strip()
    if env_root:
        root = Path(env_root).expanduser()
        if not _has_split(root, split):
            raise FileNotFoundError(
                f"{COCO_ROOT_ENV}={env_root} has no annotations/instances_{split}.json: point it "
                f"at a COCO folder holding {split}, or unset it"
            )
        return DataSource(root, "env", f"COCO {split} from {COCO_ROOT_ENV}={root}")

    data_dir = default_data_dir()
    cached = data_dir / "coco"
    if _has_split(cached, split):
        settings = subset_settings(cached, split) or {}
        size = settings.get("max_images")
        enough = size is None or size >= profile.download_images
        if enough or not download:
            note = f"COCO {split} from an earlier download in {cached} ({size} images)"
            return DataSource(cached, "cache", note)

    if download and _online(annotations_url, probe_timeout):
        try:
            root = download_coco_subset(
                cached,
                split,
                max_images=profile.download_images,
                seed=profile.seed,
                annotations_url=annotations_url,
                images_base_url=images_base_url,
                cache_dir=data_dir,
            )
            return DataSource(
                root,
                "download",
                f"COCO {split}: {profile.download_images} images downloaded to {root} "
                f"(class-balanced, seed {profile.seed})",
            )
        except DownloadError as error:
            warnings.warn(f"COCO download failed, falling back: {error}", stacklevel=2)
            if _has_split(cached, split):  # a smaller earlier download beats synthetic data
                return DataSource(cached, "cache", f"COCO {split} from {cached} (download failed)")

    from roiattn.data.context_shapes import ContextShapes

    train = split.startswith("train")
    n_images = profile.shapes_train if train else profile.shapes_test
    seed = profile.seed if train else profile.seed + 1
    size = profile.shapes_image_size
    root = data_dir / "context-shapes" / f"{n_images}x{size}px-seed{seed}"
    if not _has_split(root, split):
        shapes = ContextShapes(n_images=n_images, image_size=size, seed=seed)
        shapes.to_coco(root, split=split, progress=True)
    note = (
        f"SYNTHETIC DATA: no COCO folder was found ({COCO_ROOT_ENV} unset, no download in "
        f"{cached}, {'no network' if download else 'downloads off'}), so {split} is "
        f"{n_images} ContextShapes scenes ({size}px, seed {seed}) written as COCO to {root}. "
        "Results on it are not COCO results."
    )
    warnings.warn(note, stacklevel=2)
    return DataSource(root, "synthetic", note)
