"""The paper's three findings as differences between two methods, and verdicts computed from the
numbers, never typed in.

1. Attention maps are considerably better than hard attention, most of all on small segments.
2. Merging at the first layer is significantly better than at a deeper layer.
3. Several maps at several layers are the same as, or worse than, one at the first layer.

A verdict reads a difference's paired image-bootstrap interval (see
:mod:`roiattn.evaluate.statistics`) against what the finding expects:

- expected **better** (findings 1, 2): *agrees* when the interval lies above 0; *contradicts*
  when below 0, or when it lies within the equivalence margin ``±m`` (no considerable
  advantage); otherwise *not shown*.
- expected **not better** (finding 3): *agrees* when the interval lies below 0 or within
  ``±m``; *contradicts* when above 0; otherwise *not shown*.

Absence of evidence is never agreement: an interval that holds 0 but reaches past the margin is
*not shown*. With several seeds, a verdict also needs every seed to point the way the interval
does; when they do not, it is *not shown (seeds disagree)*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from roiattn.evaluate.statistics import Gap, gap_contrast
from roiattn.experiments.comparison import Comparison

AGREES, CONTRADICTS, NOT_SHOWN = "agrees", "contradicts", "not shown"


@dataclass(frozen=True)
class Finding:
    """One of the paper's findings as the difference ``a - b``, expected ``better`` (above 0)
    or ``not better`` (below 0 or equivalent)."""

    number: int
    claim: str
    a: str
    b: str
    expect: str

    @property
    def name(self) -> str:
        return f"{self.number}: {self.a} − {self.b}"


FINDINGS: tuple[Finding, ...] = (
    Finding(1, "attention maps beat hard attention", "attn-add@conv1", "hard@input", "better"),
    Finding(1, "attention maps beat hard attention", "attn-add@conv1", "hard@conv1", "better"),
    Finding(
        2, "the first layer beats a deeper one", "attn-add@conv1", "attn-add@layer3", "better"
    ),  # fmt: skip
    Finding(
        3, "several maps are no better than one", "attn-add@all", "attn-add@conv1", "not better"
    ),  # fmt: skip
)


@dataclass(frozen=True)
class Verdict:
    """What a gap says about a finding: ``agreement`` is :data:`AGREES`, :data:`CONTRADICTS`
    or :data:`NOT_SHOWN`; ``text`` says why in words."""

    agreement: str
    text: str


def verdict(gap: Gap, expect: str, margin: float) -> Verdict:
    """The verdict of one gap on a finding that expects ``better`` or ``not better``, with the
    equivalence margin ``margin`` (module docstring)."""
    if expect not in ("better", "not better"):
        raise ValueError(f"expect must be 'better' or 'not better', got {expect!r}")
    if np.isnan(gap.difference):
        return Verdict(NOT_SHOWN, "no regions")
    equivalent = gap.within(margin)
    if gap.sign > 0:
        shown, agreement = "higher", AGREES if expect == "better" else CONTRADICTS
    elif gap.sign < 0:
        shown, agreement = "lower", CONTRADICTS if expect == "better" else AGREES
    elif equivalent:
        shown = f"equivalent within ±{100 * margin:.0f}"
        agreement = AGREES if expect == "not better" else CONTRADICTS
    else:
        reach = f"±{100 * margin:.0f}"
        return Verdict(NOT_SHOWN, f"the interval holds 0 and reaches past {reach}")
    if gap.sign and equivalent:
        shown += f", by less than {100 * margin:.0f} points"
    if gap.per_seed and gap.sign and not gap.seeds_agree:
        signs = ", ".join(f"{100 * d:+.1f}" for d in gap.per_seed)
        return Verdict(NOT_SHOWN, f"{shown} on average, but the seeds disagree ({signs})")
    if gap.per_seed:
        shown += f", in all {len(gap.per_seed)} seeds"
    return Verdict(agreement, shown)


@dataclass(frozen=True)
class FindingCheck:
    """A finding checked on a comparison: its gaps per size bin and overall, and verdicts."""

    finding: Finding
    gaps: list[Gap]
    verdicts: list[Verdict]
    small_vs_large: Gap | None  # finding 1: the gap on small minus the gap on large regions

    @property
    def overall(self) -> tuple[Gap, Verdict]:
        return self.gaps[-1], self.verdicts[-1]


def check_findings(
    comparison: Comparison,
    *,
    metric: str = "mean_class",
    scheme: str = "coco",
    margin: float = 0.05,
    findings: Sequence[Finding] = FINDINGS,
    resamples: int = 2000,
    seed: int = 0,
) -> list[FindingCheck]:
    """Every finding whose two methods the comparison holds, in every size bin of ``scheme``
    and overall, with the seeds both methods share."""
    checks = []
    for finding in findings:
        if finding.a not in comparison.methods or finding.b not in comparison.methods:
            continue
        options = {"metric": metric, "resamples": resamples, "seed": seed}
        gaps = comparison.gaps(finding.a, finding.b, scheme, **options)
        verdicts = [verdict(g, finding.expect, margin) for g in gaps]
        contrast = None
        if finding.number == 1:
            common = [s for s in comparison.seeds(finding.a) if s in comparison.seeds(finding.b)]
            a, b = comparison.reports(finding.a, common), comparison.reports(finding.b, common)
            small, large = a[0].in_bin(0, scheme), a[0].in_bin(-1, scheme)
            contrast = gap_contrast(a, b, small, large, label="small − large", **options)
        checks.append(FindingCheck(finding, gaps, verdicts, contrast))
    return checks


def _marker(agreement: str) -> str:
    return {AGREES: "**agrees**", CONTRADICTS: "**contradicts**", NOT_SHOWN: "not shown"}[agreement]


def findings_markdown(checks: Sequence[FindingCheck]) -> str:
    """The verdicts as a Markdown list: each finding overall, then its size bins."""
    lines = []
    for check in checks:
        gap, result = check.overall
        lines.append(
            f"- Finding {check.finding.name} ({check.finding.claim}), all regions: "
            f"{gap} points, {result.text}: {_marker(result.agreement)}"
        )
        for bin_gap, bin_verdict in zip(check.gaps[:-1], check.verdicts[:-1], strict=True):
            lines.append(
                f"  - {bin_gap.label} (n={bin_gap.count}): {bin_gap} points, {bin_verdict.text}: "
                f"{_marker(bin_verdict.agreement)}"
            )
        if check.small_vs_large is not None:
            c = check.small_vs_large
            agreement = AGREES if c.sign > 0 else CONTRADICTS if c.sign < 0 else NOT_SHOWN
            lines.append(
                f"  - the paper expects the gap to be largest on small regions: the gap on small "
                f"regions minus the gap on large ones is {c} points: {_marker(agreement)}"
            )
    return "\n".join(lines)


def significant_gaps(checks: Sequence[FindingCheck]) -> list[tuple[str, Gap]]:
    """Every gap of the checks whose interval excludes 0, whichever way it points."""
    return [(c.finding.name, g) for c in checks for g in c.gaps if g.sign != 0]
