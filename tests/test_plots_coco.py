"""The figures of chapters 4 and 6: each is made from small inputs, returns a pyplot figure with
the panels it promises, and names what is wrong with bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from synthetic_regions import TinyRegions  # noqa: E402

from roiattn import plots, recipes  # noqa: E402
from roiattn.evaluate import Report  # noqa: E402
from roiattn.experiments import Comparison, Run  # noqa: E402
from roiattn.train import History  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _comparison() -> Comparison:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 40)
    areas = rng.uniform(100, 30000, 40)
    runs = {}
    for method, right in [("image", 0.4), ("hard@input", 0.6), ("attn-add@conv1", 0.8)]:
        predictions = np.where(rng.random(40) < right, labels, (labels + 1) % 3)
        report = Report(labels, predictions, areas, ["a", "b", "c"], method=method)
        runs[method] = Run(method, "key", report, History(method=method), {"train": 0.0}, {})
    return Comparison(runs, {"profile": "test"})


def test_plot_views_one_column_per_region_one_row_per_view():
    data = TinyRegions(n=6, size=16)
    figure = plots.plot_views({"one": data, "two": data}, [0, 3, 5])
    assert len(figure.axes) == 6
    assert figure.axes[0].get_ylabel() == "one"
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


def test_plot_accuracy_by_size_and_gaps():
    comparison = _comparison()
    figure = plots.plot_accuracy_by_size(comparison, "coco")
    panels = [ax.get_title() for ax in figure.axes]
    assert panels[-1] == "all (n=40)" and len(panels) == 4  # small, medium, large, all
    gaps = {
        "attn − hard": recipes.paired_gaps(
            comparison.report("attn-add@conv1"), comparison.report("hard@input")
        )
    }
    figure = plots.plot_gaps(gaps, title="t")
    assert len(figure.axes) == 1 and figure.axes[0].get_title(loc="left") == "attn − hard"
    with pytest.raises(ValueError, match="empty"):
        plots.plot_gaps({})


def test_wilson_interval():
    low, high = plots._wilson(5, 10)
    assert low < 0.5 < high and high - low == pytest.approx(2 * (0.5 - low))
    assert plots._wilson(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
