"""Reference results: comparisons trained longer than a chapter can, shipped inside the package
(``roiattn/results/*.json``), so a reader anywhere, in Colab with only the package installed
too, reads the same numbers with the same verdict code.

Each is made by one command in ``tools/`` from an experiment of :mod:`roiattn.experiments`,
and carries its provenance (experiment, machine, time, commit); none is typed in by hand.
"""

from __future__ import annotations

import re
from importlib import resources

from roiattn.experiments.comparison import Comparison, load_results


def reference_names(experiment: str | None = None) -> list[str]:
    """The names of the shipped reference results (file names without ``.json``), of one
    ``experiment`` (``coco``, ``shapes``, ...: names start ``<experiment>-<profile>-``) or all."""
    folder = resources.files("roiattn") / "results"
    names = sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))
    if experiment is None:
        return names
    return [n for n in names if re.match(rf"{re.escape(experiment)}-(quick|full)-", n)]


def reference_results(name: str) -> Comparison:
    """The shipped reference comparison ``name`` (see :func:`reference_names`)."""
    names = reference_names()
    if name not in names:
        raise ValueError(f"no reference results {name!r}: the package ships {names}")
    with resources.as_file(resources.files("roiattn") / "results" / f"{name}.json") as path:
        comparison = load_results(path)
    comparison.path = None  # inside the installed package: no models beside it
    return comparison
