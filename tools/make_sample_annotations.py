"""Write the annotations of the book's sample photos, shipped with the package.

    python tools/make_sample_annotations.py path/to/annotations/instances_val2017.json

Chapters 1 to 3 need a handful of real photos with their regions, within seconds, on any
machine. The package ships the COCO 2017 annotations (CC BY 4.0) of the few val2017 images
named in :data:`roiattn.data.samples.SAMPLE_IMAGES`, with each image's licence, author page
and ``coco_url``; the photos themselves are fetched from that URL the first time (about
1.5 MB), never shipped. This writes ``roiattn/data/samples/instances_val2017.json`` from any
COCO val2017 annotation file that holds those images (the official one, or a subset of it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from roiattn.data.samples import SAMPLE_IMAGES, SAMPLES_FILE


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    document = json.loads(Path(argv[0]).read_text())
    wanted = set(SAMPLE_IMAGES)
    images = [record for record in document["images"] if record["id"] in wanted]
    missing = wanted - {record["id"] for record in images}
    if missing:
        print(f"{argv[0]} lacks the sample images {sorted(missing)}")
        return 1
    licences = {record["license"] for record in images}
    subset = {
        "info": {
            "description": "roiattn sample photos: COCO 2017 val annotations of a few images",
            "url": "https://cocodataset.org",
            "annotations_licence": "CC BY 4.0, the COCO Consortium",
        },
        "licenses": [lic for lic in document["licenses"] if lic["id"] in licences],
        "images": sorted(images, key=lambda record: record["id"]),
        "annotations": [a for a in document["annotations"] if a["image_id"] in wanted],
        "categories": document["categories"],
    }
    SAMPLES_FILE.write_text(json.dumps(subset, separators=(",", ":")))
    print(f"wrote {len(images)} images, {len(subset['annotations'])} annotations to {SAMPLES_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
