"""Chapter 7's explorers and what they draw, without a browser: the plain functions on their own,
then the widgets built, their values changed as a reader's clicks would, and their outputs
checked (tiny ResNet-18s on 32-pixel regions, so everything runs in seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib import pyplot as plt
from synthetic_regions import TinyRegions

from roiattn import build_model, plots, widgets
from roiattn.evaluate import Report
from roiattn.experiments import Comparison, Run
from roiattn.train import History

METHODS = ("image", "hard@input", "attn-add@conv1", "attn-mul@all")
PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data() -> TinyRegions:
    """Regions three to an image, as COCO regions come."""
    return TinyRegions(n=24, size=32, num_classes=3, per_image=3)


def _trained_looking(method: str, seed: int = 0) -> torch.nn.Module:
    """A model whose attention branches have non-zero weights, as after training."""
    torch.manual_seed(seed)
    model = build_model(method, "resnet18", num_classes=3).eval()
    for branch in getattr(model, "branches", {}).values():
        torch.nn.init.normal_(branch.conv.weight, std=0.5)
    return model


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    return {method: _trained_looking(method, seed) for seed, method in enumerate(METHODS)}


@pytest.fixture(scope="module")
def comparison(data: TinyRegions) -> Comparison:
    """A comparison of the four methods on ``data``: made-up predictions, real reports; the
    attention methods with two seeds, as the findings' methods are trained."""
    rng = np.random.default_rng(0)
    labels = np.array(data.labels)
    runs = {}
    for i, method in enumerate(METHODS):
        runs[method] = []
        for seed in range(2 if method.startswith("attn") else 1):
            right = rng.random(len(labels)) < 0.3 + 0.2 * i
            predictions = np.where(right, labels, (labels + 1) % 3)
            report = Report(labels, predictions, data.areas, data.classes,
                            image_ids=data.image_ids, method=method)  # fmt: skip
            runs[method].append(Run(method, seed, f"k{i}", report, History(method), {}, {}))
    return Comparison(runs, {"profile": "test", "train_counts": [8, 8, 8]})


# ---------------------------------------------------------------------------- plain functions


def test_box_mask_fills_the_box_and_clips_it_to_the_image():
    mask = widgets.box_mask(32, (4, 6, 10, 9))
    assert mask.shape == (32, 32) and mask.dtype == torch.float32
    assert mask.sum() == (10 - 4) * (9 - 6)
    assert mask[6:9, 4:10].all() and mask[5, 4] == 0 and mask[6, 10] == 0
    assert widgets.box_mask((20, 30), (-5, -5, 100, 3)).sum() == 30 * 3


@pytest.mark.parametrize("box", [(5, 5, 5, 9), (9, 5, 4, 9), (40, 0, 50, 10), (1, 2, 3)])
def test_box_mask_refuses_a_box_without_pixels(box):
    with pytest.raises(ValueError, match="box"):
        widgets.box_mask(32, box)


def test_mask_box_is_the_tight_box_box_mask_draws_back(data: TinyRegions):
    mask = data[5]["mask"]
    box = widgets.mask_box(mask)
    drawn = widgets.box_mask(32, box)
    assert torch.equal(drawn, mask[0])  # TinyRegions' regions are squares
    assert widgets.mask_box(widgets.box_mask(32, (3, 7, 12, 20))) == (3, 7, 12, 20)


def test_top_predictions_gives_every_method_its_k_best_classes(data, models):
    item = data[0]
    predictions = widgets.top_predictions(
        models, item["image"], item["mask"], data.classes, top_k=2
    )
    assert list(predictions) == list(METHODS)
    for top in predictions.values():
        assert len(top) == 2
        assert all(name in data.classes for name, _ in top)
        assert top[0][1] >= top[1][1] and 0 <= top[1][1] and top[0][1] <= 1
    everything = widgets.top_predictions(models, item["image"], item["mask"], data.classes)
    assert all(len(top) == 3 for top in everything.values())  # top_k=5, but only 3 classes
    with pytest.raises(ValueError, match="models is empty"):
        widgets.top_predictions({}, item["image"], item["mask"])


def test_attention_effects_are_zero_at_initialisation_and_follow_the_region_after(data):
    item = data[3]
    fresh = build_model("attn-add@all", "resnet18", num_classes=3)
    effects = widgets.attention_effects(fresh, item["image"], item["mask"])
    assert {p: e.shape for p, e in effects.items()} == {
        "conv1": (16, 16),
        "layer1": (8, 8),
        "layer2": (4, 4),
        "layer3": (2, 2),
        "layer4": (1, 1),
    }
    assert all(np.all(e == 0) for e in effects.values())

    trained = _trained_looking("attn-mul@conv1")
    mask = widgets.box_mask(32, (0, 0, 8, 8))
    effect = widgets.attention_effects(trained, item["image"], mask)["conv1"]
    assert effect[:4, :4].min() > 0  # inside the region (resized to 16 x 16)
    assert np.all(effect[8:, 8:] == 0)  # far from it: the map is the bias alone
    assert widgets.attention_effects(_trained_looking("image"), item["image"], mask) == {}


def test_predictions_html_marks_the_true_class_and_the_top1_verdict():
    predictions = {"a": [("cup", 0.7), ("car", 0.2)], "b<": [("car", 0.6), ("cup", 0.3)]}
    page = widgets.predictions_html(predictions, "cup")
    assert page.count("<tr>") == 3 and "b&lt;" in page
    assert page.count("color:#1a7f37") == 2 and page.count("✓") == 1 and page.count("✗") == 1
    assert "cup 70%" in page
    assert "✓" not in widgets.predictions_html(predictions)


def test_figure_bytes_renders_png_or_jpeg_and_closes_the_figure():
    for format, magic in (("png", PNG), ("jpeg", JPEG)):
        figure = plt.figure()
        figure.subplots().plot([0, 1])
        assert widgets.figure_bytes(figure, format=format).startswith(magic)
        assert not plt.fignum_exists(figure.number)
    with pytest.raises(ValueError, match="format"):
        widgets.figure_bytes(plt.figure(), format="gif")


def test_bin_items_and_bin_accuracies_agree_with_the_comparison(comparison):
    """Its numbers are the table's: the mean over a method's seeds."""
    report = comparison.report("image")
    assert comparison.seeds("attn-add@conv1") == [0, 1]
    for row in report.by_size():
        assert len(widgets.bin_items(report, row.label)) == row.count
        for metric in ("accuracy", "mean_class"):
            values = widgets.bin_accuracies(comparison, row.label, metric)
            assert list(values) == list(METHODS)
            for method, value in values.items():
                expected = comparison.accuracy(method, row.label, metric)
                assert value == pytest.approx(expected, nan_ok=True)
    overall = widgets.bin_accuracies(comparison, "all", "mean_class")
    assert overall["image"] == pytest.approx(report.mean_class_accuracy)
    for method in METHODS:
        assert overall[method] == pytest.approx(comparison.accuracy(method, "mean class"))
        top1 = widgets.bin_accuracies(comparison, "all")[method]
        assert top1 == pytest.approx(comparison.accuracy(method, "overall"))
    assert len(widgets.bin_items(report, "all")) == report.count
    with pytest.raises(ValueError, match="no size bin"):
        widgets.bin_items(report, "tiny")
    with pytest.raises(ValueError, match="metric"):
        widgets.bin_accuracies(comparison, "all", "top5")


# ---------------------------------------------------------------------------- figures


def test_top_predictions_figure_has_a_panel_per_method_marked_right_or_wrong():
    predictions = {
        "image": [("car", 0.5), ("cup", 0.3)],
        "attn-add@conv1": [("cup", 0.8), ("car", 0.1)],
        "crop": [("cup", 0.4), ("car", 0.4)],
    }
    figure = plots.plot_top_predictions(predictions, "cup", columns=2)
    titles = [ax.get_title() for ax in figure.axes if ax.axison]
    assert titles == ["image ✗", "attn-add@conv1 ✓", "crop ✓"]
    assert plt.fignum_exists(figure.number)
    with pytest.raises(ValueError, match="empty"):
        plots.plot_top_predictions({})


def test_region_attention_figure_shows_input_mask_and_each_map(data):
    item = data[0]
    maps = {"conv1": np.random.rand(16, 16), "layer3": 3 * np.random.rand(2, 2)}
    figure = plots.plot_region_attention(item["image"], item["mask"], maps, maps_title="x")
    assert len(figure.axes) == 5  # input, mask, two maps, and the maps' one colour bar
    assert figure.axes[2].get_title().startswith("conv1 16×16")
    assert figure.axes[4].get_label() == "<colorbar>"
    top = max(float(value.max()) for value in maps.values())
    for ax in figure.axes[2:4]:  # one scale: a brighter panel is a stronger map
        assert ax.images[0].get_clim() == (0, pytest.approx(top))
    without = plots.plot_region_attention(item["image"], item["mask"], {})
    assert len(without.axes) == 2  # no map, no colour bar
    with pytest.raises(ValueError, match="differ"):
        plots.plot_region_attention(item["image"], torch.ones(8, 8), {})


# ---------------------------------------------------------------------------- the explorers


def test_region_explorer_opens_on_the_initial_region_with_everything_drawn(data, models):
    explorer = widgets.region_explorer(data, models, initial=4, attention="attn-mul@all")
    assert explorer.region_picker.value == 4
    assert explorer.image_picker.value == 1  # items 3, 4, 5 share image 1
    assert [value for _, value in explorer.region_picker.options] == [3, 4, 5]
    assert torch.equal(explorer.mask, data[4]["mask"][0])
    assert bytes(explorer.picture.value).startswith(PNG)
    assert all(f"<code>{m}</code>" in explorer.table.value for m in METHODS)
    assert list(explorer.predictions) == list(METHODS)
    assert explorer.source.value == "region"
    x0, y0, x1, y1 = widgets.mask_box(data[4]["mask"])
    assert explorer.x_range.value == (x0, x1) and explorer.y_range.value == (y0, y1)
    assert "region #4" in explorer.status.value


def test_region_explorer_follows_the_readers_choices(data, models):
    explorer = widgets.region_explorer(data, models)
    picture, table = bytes(explorer.picture.value), explorer.table.value

    explorer.region_picker.value = 2  # another region of the same image
    assert torch.equal(explorer.mask, data[2]["mask"][0])
    assert bytes(explorer.picture.value) != picture

    explorer.image_picker.value = 5  # another image: its regions, the first one shown
    assert [value for _, value in explorer.region_picker.options] == [15, 16, 17]
    assert explorer.region_picker.value == 15
    assert torch.equal(explorer.mask, data[15]["mask"][0])

    explorer.x_range.value = (0, 16)  # drawing a box switches to the box
    explorer.y_range.value = (0, 8)
    assert explorer.source.value == "box"
    assert int(explorer.mask.sum()) == 16 * 8
    assert "✓" not in explorer.table.value  # a drawn box has no true class to judge against
    assert "a box x 0–16, y 0–8" in explorer.status.value

    explorer.source.value = "region"  # back to the region's own mask
    assert torch.equal(explorer.mask, data[15]["mask"][0])

    before = bytes(explorer.picture.value)
    assert explorer.attention_picker.value == "attn-add@conv1"  # the first attention model
    explorer.attention_picker.value = "attn-mul@all"
    assert bytes(explorer.picture.value) != before
    assert explorer.table.value != table


def test_region_explorer_without_attention_models_still_shows_predictions(data, models):
    baselines = {m: models[m] for m in ("image", "hard@input")}
    explorer = widgets.region_explorer(data, baselines)
    assert explorer.attention_picker.disabled
    assert bytes(explorer.picture.value).startswith(PNG)
    with pytest.raises(ValueError, match="attention"):
        widgets.region_explorer(data, models, attention="image")
    with pytest.raises(ValueError, match="out of range"):
        widgets.region_explorer(data, models, initial=99)


def test_size_bin_explorer_slides_over_the_non_empty_bins(comparison, data):
    explorer = widgets.size_bin_explorer(comparison, data, n_examples=3)
    rows = [row for row in comparison.report("image").by_size() if row.count]
    assert list(explorer.slider.options) == [row.label for row in rows] + ["all"]
    assert explorer.slider.value == rows[0].label
    assert f"<b>{rows[0].count}</b>" in explorer.summary.value
    assert bytes(explorer.chart.value).startswith(PNG)
    assert bytes(explorer.examples.value).startswith(JPEG)

    chart, examples = bytes(explorer.chart.value), bytes(explorer.examples.value)
    explorer.slider.value = "all"
    assert f"<b>{len(data)}</b>" in explorer.summary.value
    assert bytes(explorer.chart.value) != chart and bytes(explorer.examples.value) != examples

    chart = bytes(explorer.chart.value)
    explorer.metric.value = "mean_class"
    assert bytes(explorer.chart.value) != chart


def test_size_bin_explorer_checks_its_inputs(comparison, data):
    with pytest.raises(ValueError, match="evaluated on"):
        widgets.size_bin_explorer(comparison, TinyRegions(n=5))
    with pytest.raises(ValueError, match="initial"):
        widgets.size_bin_explorer(comparison, initial="nowhere")
    without = widgets.size_bin_explorer(comparison, scheme="coco", initial="all")
    assert bytes(without.examples.value) == b""
    assert list(without.slider.options)[-1] == "all"
