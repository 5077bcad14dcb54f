"""The book's experiments, each defined once (:func:`get`: ``coco``, ``shapes``), how a
comparison of methods runs (:func:`compare`), its results (:class:`Comparison`), the paper's
findings checked on them, and the reference results shipped with the package."""

from roiattn.experiments.comparison import Comparison, Run, load_results
from roiattn.experiments.definitions import (
    COCO_METHODS,
    FINDING_METHODS,
    SHAPES_METHODS,
    COCOData,
    Experiment,
    Regions,
    ShapesData,
    coco,
    get,
    results_dir,
    shapes,
)
from roiattn.experiments.findings import (
    FINDINGS,
    Finding,
    FindingCheck,
    Verdict,
    check_findings,
    findings_markdown,
    significant_gaps,
    verdict,
)
from roiattn.experiments.references import reference_names, reference_results
from roiattn.experiments.runner import compare, train_and_evaluate

__all__ = [
    "COCO_METHODS",
    "COCOData",
    "Comparison",
    "Experiment",
    "FINDINGS",
    "FINDING_METHODS",
    "Finding",
    "FindingCheck",
    "Regions",
    "Run",
    "SHAPES_METHODS",
    "ShapesData",
    "Verdict",
    "check_findings",
    "coco",
    "compare",
    "findings_markdown",
    "get",
    "load_results",
    "reference_names",
    "reference_results",
    "results_dir",
    "shapes",
    "significant_gaps",
    "train_and_evaluate",
    "verdict",
]
