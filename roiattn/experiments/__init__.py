"""The book's experiments, each defined once (:func:`get`: ``coco``, ``coco-pretrained``,
``shapes``, ``shapes-vit``; :func:`shapes_curve` for chapter 7's learning curve), how a
comparison of methods runs (:func:`compare`), its results (:class:`Comparison`), the paper's
findings checked on them, the time a comparison will take (:func:`project`), and the reference
results shipped with the package."""

from roiattn.experiments.comparison import Comparison, Run, load_results
from roiattn.experiments.definitions import (
    COCO_METHODS,
    CURVE_METHODS,
    CURVE_SCENES,
    FINDING_METHODS,
    SHAPES_METHODS,
    VIT_METHODS,
    COCOData,
    Experiment,
    Regions,
    ShapesData,
    coco,
    coco_pretrained,
    get,
    results_dir,
    shapes,
    shapes_curve,
    shapes_vit,
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
from roiattn.experiments.projection import Projection, project
from roiattn.experiments.references import reference_names, reference_results
from roiattn.experiments.runner import compare, train_and_evaluate

__all__ = [
    "COCO_METHODS",
    "COCOData",
    "CURVE_METHODS",
    "CURVE_SCENES",
    "Comparison",
    "Experiment",
    "FINDINGS",
    "FINDING_METHODS",
    "Finding",
    "FindingCheck",
    "Projection",
    "Regions",
    "Run",
    "SHAPES_METHODS",
    "ShapesData",
    "VIT_METHODS",
    "Verdict",
    "check_findings",
    "coco",
    "coco_pretrained",
    "compare",
    "findings_markdown",
    "get",
    "load_results",
    "project",
    "reference_names",
    "reference_results",
    "results_dir",
    "shapes",
    "shapes_curve",
    "shapes_vit",
    "significant_gaps",
    "train_and_evaluate",
    "verdict",
]
