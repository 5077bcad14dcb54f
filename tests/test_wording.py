"""The shared phrasings: a sentence says what its interval shows, and nothing more."""

import math

import pytest

from roiattn.evaluate.statistics import Gap
from roiattn.wording import direction, listed, mask_fate


def gap(difference: float, low: float, high: float) -> Gap:
    return Gap("all", 100, 50, 0.5 + difference, 0.5, difference, low, high)


@pytest.mark.parametrize(
    ("difference", "low", "high", "margin", "said"),
    [
        (0.10, 0.06, 0.14, None, "ahead"),
        (-0.10, -0.14, -0.06, None, "behind"),
        (0.01, -0.02, 0.04, None, "not shown either way"),
        (0.01, -0.02, 0.04, 0.05, "equivalent within ±5 points"),
        (0.01, -0.02, 0.08, 0.05, "not shown either way"),  # holds 0, reaches past the margin
        (0.02, 0.01, 0.03, 0.05, "ahead, by less than the ±5-point margin"),
        (-0.02, -0.04, -0.01, 0.05, "behind, by less than the ±5-point margin"),
        (0.10, 0.06, 0.14, 0.05, "ahead"),
    ],
)
def test_direction_reads_the_interval(difference, low, high, margin, said):
    assert direction(gap(difference, low, high), "ahead", "behind", margin=margin) == said


def test_direction_of_an_empty_bin_says_so():
    empty = Gap("small", 0, 0, math.nan, math.nan, math.nan, math.nan, math.nan)
    assert direction(empty, "ahead", "behind") == "not measured: no regions"


def test_listed_lists_for_a_sentence():
    assert listed(["image"]) == "`image`"
    assert listed(["a", "b"]) == "`a` and `b`"
    assert listed(["a", "b", "c"]) == "`a`, `b` and `c`"
    assert listed([100, 300], code=False) == "100 and 300"
    with pytest.raises(ValueError, match="at least one"):
        listed([])


def test_mask_fate_groups_merge_points_in_one_state():
    peaks = {"conv1": 1.0, "layer1": 1.0, "layer2": 1.0, "layer3": 0.25, "layer4": 0.0}
    assert mask_fate(peaks) == (
        "at full strength from `conv1` to `layer2`, peak 0.25 at `layer3`, lost at `layer4`"
    )
    faded = {"conv1": 1.0, "layer1": 0.5, "layer2": 0.125, "layer3": 0.0, "layer4": 0.0}
    assert mask_fate(faded) == (
        "at full strength at `conv1`, peak 0.5, 0.12 at `layer1` and `layer2`, lost at `layer3` "
        "and `layer4`"
    )
