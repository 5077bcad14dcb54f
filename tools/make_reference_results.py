"""Make a reference result: the book's COCO experiment trained longer than a chapter can.

    ROIATTN_COCO_ROOT=path/to/coco python tools/make_reference_results.py EPOCHS [PROFILE]

Runs ``roiattn.experiments.coco(PROFILE)`` (default ``quick``) with ``EPOCHS`` epochs, every
method and seed the experiment defines, exactly as chapter 6 runs it otherwise, and saves the
comparison with its provenance as ``roiattn/results/coco-<profile>-<EPOCHS>-epochs.json``, inside
the package, so that chapters 6 and 7 (and a reader in Colab with only the package installed)
read it with the same verdict code. The shipped file holds no model and no path of this machine.
The runs themselves stay in ``$ROIATTN_DATA/results``, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from roiattn import experiments

SHIPPED = Path(__file__).resolve().parents[1] / "roiattn" / "results"


def main(argv: list[str]) -> int:
    if not argv or not argv[0].isdigit() or len(argv) > 2:
        print(__doc__)
        return 2
    epochs, profile = int(argv[0]), argv[1] if len(argv) > 1 else "quick"
    experiment = experiments.coco(profile).replace(epochs=epochs)
    print(experiment.summary())
    comparison = experiment.run()
    print(comparison.to_markdown(metric="mean_class", scheme="coco"))
    shipped = comparison.to_dict()
    for runs in shipped["runs"].values():
        for run in runs:
            run["model_file"] = None  # the models stay in $ROIATTN_DATA
    path = SHIPPED / f"coco-{profile}-{epochs}-epochs.json"
    path.write_text(json.dumps(shipped, separators=(",", ":"), allow_nan=False))
    print(f"saved {path.name} in roiattn/results ({comparison.provenance['seconds'] / 60:.0f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
