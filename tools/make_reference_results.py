"""Make reference results: comparisons of the book's experiments that take longer than a
chapter can, shipped inside the package.

    ROIATTN_COCO_ROOT=path/to/coco python tools/make_reference_results.py EPOCHS [PROFILE]
    ROIATTN_COCO_ROOT=path/to/coco python tools/make_reference_results.py pretrained [PROFILE]
    python tools/make_reference_results.py curve [PROFILE]
    python tools/make_reference_results.py ship-runs NAME...

``EPOCHS``: runs ``roiattn.experiments.coco(PROFILE)`` (default ``quick``) with ``EPOCHS``
epochs, every method and seed the experiment defines, exactly as chapter 6 runs it otherwise,
and saves ``roiattn/results/coco-<profile>-<EPOCHS>-epochs.json``.

``pretrained``: runs ``roiattn.experiments.coco_pretrained(PROFILE)`` (EfficientNet-Lite0 from
ImageNet) with every method and, for the findings' methods, every seed of the profile, and saves
``roiattn/results/coco-pretrained-<profile>-<E>-epochs.json``: chapter 6's comparison on a
pretrained network, which a chapter cannot train within its time on a CPU.

``curve``: runs every experiment of ``roiattn.experiments.shapes_curve(PROFILE)`` (ContextShapes
from a hundred to several thousand training scenes, at the experiment's epochs and at the same
number of steps) with ``CURVE_METHODS``, and saves each as
``roiattn/results/shapes-<profile>-curve-<name>.json``: chapter 7's data regime.

``ship-runs``: copies every run of the comparisons ``$ROIATTN_DATA/results/<NAME>.json`` (as a
chapter saved them) into ``roiattn/results/runs``, where ``compare`` finds a run with the same
key (the same settings, seed, data fingerprint, training code and kind of device) before it
would train one. A change to the code that trains and evaluates a run changes every key
(``runner.code_fingerprint``): ship them again then, as below (a test fails until you do).
Chapter 7's runs on the pretrained network are shipped this way, made by executing chapter 7
with ``ROIATTN_COCO_ROOT`` at coco-mini::

    python tools/make_reference_results.py ship-runs coco-pretrained-quick \
        coco-pretrained-quick-weights-None coco-pretrained-quick-view-image \
        coco-pretrained-quick-branch-lr-scale-100

Chapters 6 and 7 (and a reader in Colab with only the package installed) read them with the same
verdict code. A shipped file holds no model and no path of this machine. The runs themselves stay
in ``$ROIATTN_DATA/results``, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from roiattn import experiments
from roiattn.experiments import Comparison
from roiattn.experiments.runner import run_stem

SHIPPED = Path(__file__).resolve().parents[1] / "roiattn" / "results"


def ship(comparison: Comparison, name: str) -> None:
    """Save ``comparison`` as ``roiattn/results/<name>.json``, without its model files."""
    shipped = comparison.to_dict()
    for runs in shipped["runs"].values():
        for run in runs:
            run["model_file"] = None  # the models stay in $ROIATTN_DATA
    path = SHIPPED / f"{name}.json"
    path.write_text(json.dumps(shipped, separators=(",", ":"), allow_nan=False))
    print(f"saved {path.name} in roiattn/results ({comparison.provenance['seconds'] / 60:.0f} min)")


def longer(epochs: int, profile: str) -> None:
    experiment = experiments.coco(profile).replace(epochs=epochs)
    print(experiment.summary())
    comparison = experiment.run()
    print(comparison.to_markdown(metric="mean_class", scheme="coco"))
    ship(comparison, f"coco-{profile}-{epochs}-epochs")


def pretrained(profile: str) -> None:
    experiment = experiments.coco_pretrained(profile)
    experiment = experiment.replace(seeds=experiments.coco(profile).seeds)
    print(experiment.summary())
    comparison = experiment.run()
    print(comparison.to_markdown(metric="mean_class", scheme="coco"))
    ship(comparison, f"coco-pretrained-{profile}-{experiment.training.epochs}-epochs")


def curve(profile: str) -> None:
    for name, experiment in experiments.shapes_curve(profile).items():
        print(experiment.summary())
        comparison = experiment.run(list(experiments.CURVE_METHODS))
        print(comparison.to_markdown(metric="mean_class"))
        ship(comparison, f"shapes-{profile}-curve-{name}")


def ship_runs(names: list[str]) -> None:
    """Copy every run of the saved comparisons ``names`` into ``roiattn/results/runs``."""
    folder = experiments.results_dir()
    target = SHIPPED / "runs"
    target.mkdir(exist_ok=True)
    for name in names:
        path = folder / f"{name}.json"
        if not path.exists():
            raise SystemExit(f"no comparison {name!r} in {folder}: run the chapter that makes it")
        for runs in json.loads(path.read_text())["runs"].values():
            for run in runs:
                stem = run_stem(run["method"], run["seed"], run["key"])
                run = {**run, "model_file": None}  # the models stay in $ROIATTN_DATA
                (target / f"{stem}.json").write_text(json.dumps(run, separators=(",", ":")))
                print(f"shipped {stem}.json (from {name}, made {run['provenance']['started']})")


def main(argv: list[str]) -> int:
    if argv[:1] == ["ship-runs"] and len(argv) > 1:
        ship_runs(argv[1:])
        return 0
    commands = {"curve": curve, "pretrained": pretrained}
    if not argv or len(argv) > 2 or not (argv[0].isdigit() or argv[0] in commands):
        print(__doc__)
        return 2
    profile = argv[1] if len(argv) > 1 else "quick"
    if argv[0] in commands:
        commands[argv[0]](profile)
    else:
        longer(int(argv[0]), profile)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
