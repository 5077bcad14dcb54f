"""Make chapter 6's reference results: the COCO recipe of the book, trained longer.

    ROIATTN_COCO_ROOT=path/to/coco python tools/make_reference_results.py [epochs]

Trains every method of ``recipes.COCO_METHODS`` with the quick profile's recipe (the same
regions, class-balanced draws, seed and settings as chapter 6) but ``epochs`` epochs (default
8), and saves the comparison with its provenance as ``book/results/coco-quick-<N>-epochs.json``
(no model files), where chapter 6 finds it. The runs it saves under ``book/results/runs`` (not
kept in git) make a second call load instead of train.
"""

from __future__ import annotations

import sys
from pathlib import Path

from roiattn import profiles, recipes
from roiattn.experiments import compare

RESULTS = Path(__file__).resolve().parents[1] / "book" / "results"


def main(argv: list[str]) -> int:
    epochs = int(argv[0]) if argv else 8
    profile = profiles.get("quick").replace(epochs=epochs)
    data = recipes.coco_regions(profile)
    comparison = compare(
        recipes.COCO_METHODS,
        data.train,
        data.test,
        profile,
        results_dir=RESULTS,
        seed=profile.seed,
        name=f"coco-quick-{epochs}-epochs",
        bins="paper",
        sampler=recipes.coco_sampler(data.train, profile),
    )
    print(comparison.to_markdown(scheme="coco"))
    print(f"saved as {comparison.path} in {comparison.provenance['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
