"""A few real photos for the chapters that only look at regions (1 to 3), on any machine within
seconds.

:func:`sample_coco` answers with a COCO folder holding ``val2017``, in this order:

1. ``$ROIATTN_COCO_ROOT``, or a COCO download made earlier (``find_coco`` without downloading):
   all of its regions.
2. The sample photos: the COCO 2017 annotations of :data:`SAMPLE_IMAGES` ship with the package
   (``samples/instances_val2017.json``, CC BY 4.0, each image's licence and author page
   included); the photos are fetched once from their ``coco_url`` (or ``$ROIATTN_COCO_MIRROR``),
   about 1.5 MB, into ``$ROIATTN_DATA/samples``.
3. Without a network: a small synthetic COCO folder (ContextShapes scenes), with a note saying
   so.

The 241 MB annotation archive and the thousands of images a training run needs are downloaded
only by the chapters that train (:mod:`roiattn.experiments`).
"""

from __future__ import annotations

import json
from pathlib import Path

from roiattn.data.paths import default_data_dir, display_path
from roiattn.data.sources import (
    DataSource,
    SyntheticSize,
    coco_at_hand,
    fetch_list,
    has_split,
    synthetic_coco,
)

SPLIT = "val2017"
# val2017 photos with many regions of every size; 25986 is the dinner of chapters 1 and 2
SAMPLE_IMAGES: tuple[int, ...] = (5001, 25986, 30213, 166918, 175364, 184324, 357888, 520707)
SAMPLES_FILE = Path(__file__).with_name("samples") / "instances_val2017.json"
SYNTHETIC_SAMPLES = SyntheticSize(train=1, test=12, image_size=96)


def sample_coco(download: bool = True, probe_timeout: float = 5.0) -> DataSource:
    """A COCO folder holding ``val2017``: a COCO folder at hand, else the sample photos, else
    synthetic scenes (module docstring)."""
    at_hand = coco_at_hand(SPLIT)
    if at_hand is not None:
        return at_hand
    root = default_data_dir() / "samples"
    if not has_split(root, SPLIT) and download:
        fetch_list(root, SPLIT, SAMPLES_FILE, "the sample photos", probe_timeout)
    if has_split(root, SPLIT):
        note = (
            f"COCO {SPLIT}: the {len(SAMPLE_IMAGES)} sample photos of the book in "
            f"{display_path(root)} (set $ROIATTN_COCO_ROOT to use a COCO folder of your own)"
        )
        return DataSource(root, "samples", note)
    why = "no network" if download else "downloads off"
    return synthetic_coco(SPLIT, 0, SYNTHETIC_SAMPLES, why)


def licences(root: Path) -> list[str]:
    """One line per photo of a COCO folder: its file, licence and page on Flickr (for
    credits)."""
    document = json.loads((root / "annotations" / f"instances_{SPLIT}.json").read_text())
    names = {lic["id"]: lic["name"] for lic in document.get("licenses", [])}
    return [
        f"{r['file_name']}: {names.get(r.get('license'), 'licence unknown')}, {photo_page(r)}"
        for r in document["images"]
    ]


def photo_page(record: dict) -> str:
    """The photo's page on Flickr (where its author is named), from COCO's ``flickr_url``,
    which points at the image file: ``.../<photo id>_<secret>_z.jpg``."""
    url = str(record.get("flickr_url") or "")
    photo = url.rsplit("/", 1)[-1].split("_", 1)[0]
    if photo.isdigit():
        return f"https://www.flickr.com/photo.gne?id={photo}"
    return url or str(record.get("coco_url", ""))
