"""The book's conclusions, as its introduction states them, checked against the reference
results that ship with the package: a regenerated reference that changes a conclusion fails
here, instead of leaving the introduction saying what the runs no longer show."""

from __future__ import annotations

from pathlib import Path

from roiattn import experiments
from roiattn.evaluate import paired_contrast

ROOT = Path(__file__).resolve().parents[1]
ATTENTION, HARD = "attn-add@conv1", "hard@input"
MARGIN = 0.05  # the book's equivalence margin


def intro() -> str:
    return " ".join((ROOT / "book" / "intro.md").read_text().split())


def curve() -> dict[tuple[bool, int], experiments.Comparison]:
    points = {}
    for name in experiments.reference_names("shapes"):
        if "-curve-" in name:
            comparison = experiments.reference_results(name)
            scenes = comparison.provenance["experiment"]["data"]["train_scenes"]
            points[name.endswith("same-steps"), scenes] = comparison
    return points


def test_on_coco_hard_attention_beats_the_attention_map_which_may_not_use_the_mask():
    assert "hard attention beats it, from random weights and on an ImageNet-pretrained" in intro()
    references = experiments.reference_names("coco") + experiments.reference_names(
        "coco-pretrained"
    )
    weights = {
        experiments.reference_results(n).provenance["experiment"]["weights"] for n in references
    }
    assert weights == {None, "DEFAULT"}, "a reference from random weights and a pretrained one"
    for name in references:
        comparison = experiments.reference_results(name)
        assert comparison.gaps(ATTENTION, HARD, "coco")[-1].sign < 0, name
        assert comparison.mask_used("mean_class", "coco")[ATTENTION].sign == 0, name


def test_where_context_decides_the_attention_map_waits_for_optimiser_steps():
    assert "once its zero-initialised branch has had enough optimiser steps" in intro()
    points = curve()
    scenes = sorted(n for same, n in points if not same)
    smallest, largest = scenes[0], scenes[-1]

    def overall(point):
        return point.gaps(ATTENTION, HARD)[-1]

    # at the experiment's epochs hard attention leads with few scenes, the map with many
    assert overall(points[False, smallest]).sign < 0
    assert overall(points[False, largest]).sign > 0
    # the same few scenes, the steps of the largest: the map leads
    assert overall(points[True, smallest]).sign > 0
    # and "a few hundred scenes then suffice": equivalent to the largest within the margin
    assert "a few hundred scenes then do as well as thousands" in intro()
    few_hundred = [n for n in scenes if 100 < n < 1000 and (True, n) in points]
    assert few_hundred
    for n in few_hundred:
        many, few = points[False, largest], points[True, n]
        moved = paired_contrast(
            (many.reports(ATTENTION), many.reports(HARD), None),
            (few.reports(ATTENTION), few.reports(HARD), None),
        )
        assert moved.within(MARGIN), (n, str(moved))
