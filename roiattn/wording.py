"""Words for measured results, so that a chapter's sentences follow its numbers.

A sentence that says which method is ahead, or where a mask is lost, is computed from the
measurement it describes, never typed beside it; these are the phrasings the chapters share.
:func:`direction` reads a paired interval the way :mod:`roiattn.experiments.findings` reads it:
a difference is shown only when its interval excludes 0, and two methods are called the same
only when the interval lies inside an equivalence margin; an interval that holds 0 and reaches
past the margin shows nothing either way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from roiattn.evaluate.statistics import Gap

NOT_SHOWN = "not shown either way"


def direction(
    gap: Gap, up: str, down: str, neither: str = NOT_SHOWN, *, margin: float | None = None
) -> str:
    """``up`` when the gap's interval lies above 0, ``down`` when below, ``neither`` when it
    holds 0. With an equivalence ``margin`` (a fraction, 0.05 for 5 points) an interval inside
    ``±margin`` reads "equivalent within ±m points" instead of ``neither``, and a shown gap inside
    it says that it is smaller than the margin."""
    if math.isnan(gap.difference):
        return "not measured: no regions"
    inside = margin is not None and gap.within(margin)
    if gap.sign == 0:
        return f"equivalent within ±{100 * margin:.0f} points" if inside else neither
    words = up if gap.sign > 0 else down
    return f"{words}, by less than the ±{100 * margin:.0f}-point margin" if inside else words


def listed(items: Iterable[str], *, code: bool = True) -> str:
    """``"`a`, `b` and `c`"``: a list for a sentence, each item as code unless ``code=False``."""
    shown = [f"`{item}`" if code else str(item) for item in items]
    if not shown:
        raise ValueError("listed() needs at least one item")
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def mask_fate(peaks: Mapping[str, float]) -> str:
    """What is left of a region's mask along the merge points, from its peak at each (the largest
    value of the resized mask, 1 for a cell fully inside, 0 once it has vanished):
    "at full strength from `conv1` to `layer2`, peak 0.25 at `layer3`, lost at `layer4`"."""
    runs: list[tuple[str, list[tuple[str, float]]]] = []  # merge points in a row in one state
    for point, peak in peaks.items():
        state = "full" if peak >= 1 - 1e-6 else "lost" if peak == 0 else "faded"
        if runs and runs[-1][0] == state:
            runs[-1][1].append((point, peak))
        else:
            runs.append((state, [(point, peak)]))
    parts = []
    for state, points in runs:
        merge_points = [point for point, _ in points]
        if len(points) < 3:
            where = f"at {listed(merge_points)}"
        else:
            where = f"from `{merge_points[0]}` to `{merge_points[-1]}`"
        if state == "full":
            parts.append(f"at full strength {where}")
        elif state == "lost":
            parts.append(f"lost {where}")
        else:
            parts.append(f"peak {', '.join(f'{peak:.2g}' for _, peak in points)} {where}")
    return ", ".join(parts)
