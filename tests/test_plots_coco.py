"""The figures of chapters 4 and 6: each is made from small inputs, returns a pyplot figure with
the panels it promises, and names what is wrong with bad input."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from synthetic_regions import TinyRegions  # noqa: E402

from roiattn import plots  # noqa: E402
from roiattn.evaluate import Gap, Report  # noqa: E402
from roiattn.experiments import (  # noqa: E402
    FINDINGS,
    Comparison,
    FindingCheck,
    Run,
    Verdict,
    check_findings,
)
from roiattn.train import History  # noqa: E402

SEEDS = {"image": 1, "hard@input": 1, "attn-add@conv1": 3}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _comparison() -> Comparison:
    """Three methods on 40 regions of three classes; attn-add@conv1 with three seeds."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 40)
    areas = rng.uniform(100, 30000, 40)
    runs = {}
    for method, right in [("image", 0.4), ("hard@input", 0.6), ("attn-add@conv1", 0.8)]:
        runs[method] = []
        for seed in range(SEEDS[method]):
            predictions = np.where(rng.random(40) < right, labels, (labels + 1) % 3)
            report = Report(labels, predictions, areas, ["a", "b", "c"], method=method)
            runs[method].append(
                Run(method, seed, "key", report, History(method=method), {"train": 0.0}, {})
            )
    return Comparison(runs, {"profile": "test", "train_counts": [10, 25, 5]})


def test_plot_views_one_column_per_region_one_row_per_view():
    data = TinyRegions(n=6, size=16)
    figure = plots.plot_views({"one": data, "two": data}, [0, 3, 5])
    assert len(figure.axes) == 6
    assert figure.axes[0].get_ylabel() == "one"
    # each image's pixels span the pixel-edge coordinates its outline is traced in
    assert {tuple(ax.images[0].get_extent()) for ax in figure.axes} == {(0, 16, 16, 0)}
    with pytest.raises(ValueError, match="same items"):
        plots.plot_views({"one": data, "two": TinyRegions(n=3, size=16)}, [0])
    with pytest.raises(ValueError, match="empty"):
        plots.plot_views({}, [0])


def test_plot_label_draws_shares():
    figure = plots.plot_label_draws({"x": [0, 0, 1, 2], "y": [1, 1]}, ["a", "b", "c"])
    heights = [p.get_height() for p in figure.axes[0].patches]
    assert heights[:3] == [0.5, 0.25, 0.25] and heights[3:] == [0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        plots.plot_label_draws({"x": [3]}, ["a", "b", "c"])


def test_plot_size_distribution_counts_open_bins_too():
    areas = [1.0, 500.0, 1500.0, 3000.0, 900000.0]
    figure = plots.plot_size_distribution({"test": areas})
    counts = sorted(int(t.get_text()) for t in figure.axes[0].texts if t.get_text().isdigit())
    assert counts == [1, 1, 1, 2]  # the tiny and the huge region land in the open bins
    with pytest.raises(ValueError, match="finite"):
        plots.plot_size_distribution({"test": [np.nan]})


def _vertical(ax, style: str) -> list[float]:
    """The x of every vertical line of ``ax`` drawn with linestyle ``style``."""
    return [
        line.get_xdata()[0]
        for line in ax.lines
        if line.get_linestyle() == style and line.get_xdata()[0] == line.get_xdata()[1]
    ]


@pytest.mark.parametrize("metric", ["mean_class", "accuracy"])
def test_plot_accuracy_by_size_draws_means_seed_ranges_and_baselines(metric):
    comparison = _comparison()
    figure = plots.plot_accuracy_by_size(comparison, "coco", metric)
    panels = [ax.get_title() for ax in figure.axes]
    counts = comparison.counts("coco")
    assert all(counts[c] for c in ("small", "medium", "large"))
    assert panels == [f"{c} (n={counts[c]})" for c in ("small", "medium", "large")] + ["all (n=40)"]
    all_column = "mean class" if metric == "mean_class" else "overall"
    majority, chance = comparison.baselines(metric, "coco").values()
    assert "dashed: majority class; dotted: chance" in figure.get_suptitle()
    for ax, column in zip(figure.axes, ["small", "medium", "large", all_column], strict=True):
        # a bar per method: the mean over its seeds
        widths = [bar.get_width() for bar in ax.patches]
        means = [comparison.accuracy(m, column, metric, "coco") for m in comparison.methods]
        assert widths == pytest.approx(means)
        # the baselines as vertical lines
        assert _vertical(ax, "--") == [pytest.approx(majority[column])]
        assert _vertical(ax, ":") == [pytest.approx(chance[column])] == [pytest.approx(1 / 3)]
        # the range over seeds, for the method trained with several only
        ranges = [line for line in ax.lines if line.get_linestyle() == "-"]
        assert len(ranges) == 1
        assert list(ranges[0].get_ydata()) == [2, 2]  # attn-add@conv1, the third row
        low, high = comparison.spread("attn-add@conv1", column, metric, "coco")
        assert list(ranges[0].get_xdata()) == pytest.approx([low, high]) and low < high
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == comparison.methods
    # Comparison.plot draws the same figure, in the comparison's own bins
    assert [ax.get_title() for ax in comparison.plot(scheme="coco").axes] == panels
    paper = comparison.counts()
    non_empty = [column for column in comparison.columns()[:-2] if paper[column]]
    assert len(comparison.plot().axes) == len(non_empty) + 1


def _gap(label, low, high, count=10):
    if math.isnan(low):
        return Gap(label, 0, 0, *([math.nan] * 5))
    middle = (low + high) / 2
    return Gap(label, count, count, 0.5 + middle, 0.5, middle, low, high)


def test_plot_findings_colours_follow_agreement_with_the_paper():
    """Green where the numbers agree with the paper, red where they contradict it, grey where
    they show nothing, whichever method is ahead."""
    better = FindingCheck(
        FINDINGS[0],
        [
            _gap("small", 0.2, 0.4),
            _gap("medium", math.nan, math.nan),
            _gap("large", -0.3, -0.1),
            _gap("overall", -0.05, 0.2, 20),
        ],  # fmt: skip
        [
            Verdict("agrees", "higher"),
            Verdict("not shown", "no regions"),
            Verdict("contradicts", "lower"),
            Verdict("not shown", "holds 0"),
        ],  # fmt: skip
        None,
    )
    not_better = FindingCheck(  # finding 3: a method behind agrees, one ahead contradicts
        FINDINGS[3],
        [
            _gap("small", -0.4, -0.2),
            _gap("medium", math.nan, math.nan),
            _gap("large", 0.1, 0.3),
            _gap("overall", -0.02, 0.03, 20),
        ],  # fmt: skip
        [
            Verdict("agrees", "lower"),
            Verdict("not shown", "no regions"),
            Verdict("contradicts", "higher"),
            Verdict("agrees", "equivalent within ±5"),
        ],  # fmt: skip
        None,
    )
    figure = plots.plot_findings([better, not_better], title="findings")
    assert len(figure.axes) == 2 and figure.get_suptitle() == "findings"
    colours = plots.AGREEMENT_COLOURS
    assert set(colours) == {"agrees", "contradicts", "not shown"}
    assert len({to_rgba(c) for c in colours.values()}) == 3
    for ax, check in zip(figure.axes, [better, not_better], strict=True):
        assert ax.get_title(loc="left") == f"finding {check.finding.name}"
        drawn = [line for line in ax.lines if line.get_xdata()[0] == line.get_xdata()[-1]]
        for x, (gap, verdict) in enumerate(zip(check.gaps, check.verdicts, strict=True)):
            here = [line for line in drawn if line.get_xdata()[0] == x]
            if math.isnan(gap.difference):
                assert here == []  # nothing drawn for an empty bin
                continue
            interval, point = here
            assert list(interval.get_ydata()) == pytest.approx([100 * gap.low, 100 * gap.high])
            assert point.get_marker() == "o"
            assert point.get_ydata()[0] == pytest.approx(100 * gap.difference)
            for line in here:
                assert to_rgba(line.get_color()) == to_rgba(colours[verdict.agreement])
    ticks = [t.get_text() for t in figure.axes[-1].get_xticklabels()]  # one x axis, shared
    assert ticks == ["small\nn=10", "medium\nn=0", "large\nn=10", "overall\nn=20"]
    legend = figure.axes[0].get_legend()
    assert legend.get_title().get_text() == "with the paper"
    assert [t.get_text() for t in legend.get_texts()] == list(colours)
    with pytest.raises(ValueError, match="checks is empty"):
        plots.plot_findings([])


def test_plot_findings_of_check_findings():
    checks = check_findings(_comparison(), resamples=200)
    assert [c.finding.name for c in checks] == ["1: attn-add@conv1 − hard@input"]
    figure = plots.plot_findings(checks)
    assert len(figure.axes) == 1 and figure.get_suptitle() == ""  # no title asked for


def test_wilson_interval():
    low, high = plots._wilson(5, 10)
    assert low < 0.5 < high and high - low == pytest.approx(2 * (0.5 - low))
    assert plots._wilson(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
