"""The figures of chapters 1-3: each returns a pyplot figure (so ``plt.show()`` shows it) with the
panels it promises, and refuses input it cannot draw with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib import pyplot as plt

from roiattn import plots
from roiattn.masks import RESIZE_MODES

SIZES = {
    "conv1": (32, 32),
    "layer1": (16, 16),
    "layer2": (8, 8),
    "layer3": (4, 4),
    "layer4": (2, 2),
}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def square_mask(size: int = 64, side: int = 6, at: int = 20) -> torch.Tensor:
    mask = torch.zeros(size, size)
    mask[at : at + side, at : at + side] = 1
    return mask


def panels(figure) -> list:
    """The axes that draw something (not colorbars or empty space)."""
    return figure.axes


def test_figures_are_registered_with_pyplot_so_plt_show_shows_them():
    figure = plots.plot_mask_resizing(square_mask(), SIZES)
    assert plt.fignum_exists(figure.number)


def test_mask_resizing_has_a_row_per_mode_and_a_column_per_size_plus_the_input():
    figure = plots.plot_mask_resizing(square_mask(), SIZES)
    assert len(panels(figure)) == len(RESIZE_MODES) * (len(SIZES) + 1)
    titles = [ax.get_title() for ax in figure.axes[: len(SIZES) + 1]]
    assert titles == ["mask 64×64", *[f"{k} {h}×{w}" for k, (h, w) in SIZES.items()]]


def test_mask_resizing_shows_the_image_and_zooms():
    image = torch.randn(3, 64, 64)
    figure = plots.plot_mask_resizing(
        square_mask(), {"layer3": 4}, modes=("nearest", "max"), image=image, zoom=(10, 10, 40, 40)
    )
    assert len(panels(figure)) == 2 * 2
    assert figure.axes[0].get_title() == "input 64×64"
    assert figure.axes[1].get_xlim() == (10, 40)
    assert figure.axes[1].get_ylim() == (40, 10)


def test_mask_resizing_writes_the_peak_and_flags_a_vanished_mask():
    # a 6x6 square at (20, 20) vanishes from a 4x4 grid read by nearest (pixels 0, 16, 32, 48)
    figure = plots.plot_mask_resizing(square_mask(), {"layer3": 4}, modes=("nearest", "max"))
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert texts == ["peak 0.00", "peak 1.00"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sizes": {}}, "sizes is empty"),
        ({"sizes": SIZES, "modes": ()}, "modes is empty"),
        ({"sizes": SIZES, "modes": ("cubic",)}, "unknown resize mode"),
    ],
)
def test_mask_resizing_refuses_what_it_cannot_draw(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plots.plot_mask_resizing(square_mask(), **kwargs)


def test_a_batch_of_masks_is_refused_with_its_shape():
    with pytest.raises(ValueError, match=r"\(2, 64, 64\)"):
        plots.plot_mask_resizing(torch.zeros(2, 64, 64), SIZES)


def test_mask_survival_has_two_rows_per_mode():
    rng = np.random.default_rng(0)
    areas = rng.uniform(10, 20000, size=50)
    peaks = {mode: rng.uniform(0, 1, size=(50, 5)) for mode in RESIZE_MODES}
    figure = plots.plot_mask_survival(peaks, areas, list(SIZES))
    assert len(panels(figure)) == 2 * len(RESIZE_MODES)
    assert [ax.get_title() for ax in figure.axes[:4]] == list(RESIZE_MODES)
    # one line per size group that has regions
    assert len(figure.axes[0].lines) == 3


def test_mask_survival_checks_the_shapes():
    with pytest.raises(ValueError, match="n_regions, n_stages"):
        plots.plot_mask_survival({"max": np.zeros((3, 2))}, np.ones(3), list(SIZES))
    with pytest.raises(ValueError, match="peaks is empty"):
        plots.plot_mask_survival({}, np.ones(3), list(SIZES))


def test_merge_points_draws_one_branch_per_merge_point():
    shapes = {"input": (3, 64, 64), "conv1": (64, 32, 32), "layer1": (64, 16, 16)}
    one = plots.plot_merge_points(shapes, merge_at=("conv1",))
    both = plots.plot_merge_points(shapes, merge_at=("conv1", "layer1"), op="mul")
    assert len(one.axes) == len(both.axes) == 1
    branch_text = [t.get_text() for t in both.axes[0].texts if t.get_text().startswith("mask")]
    assert branch_text == ["mask → 32×32\n3×3 conv, 64", "mask → 16×16\n3×3 conv, 64"]
    assert "×" in [t.get_text() for t in both.axes[0].texts]
    with pytest.raises(ValueError, match="not among the stages"):
        plots.plot_merge_points(shapes, merge_at=("layer3",))
    with pytest.raises(ValueError, match="op must be"):
        plots.plot_merge_points(shapes, op="concat")


def test_channel_maps_have_a_row_per_map_and_an_optional_mask_column():
    rows = {"conv1": torch.randn(64, 32, 32), "layer3": torch.randn(1, 256, 4, 4)}
    plain = plots.plot_channel_maps(rows, channels=(0, 1, 2))
    with_mask = plots.plot_channel_maps(rows, channels=(0, 1, 2), mask=square_mask())
    assert len(panels(plain)) == 2 * 3
    assert len(panels(with_mask)) == 2 * 4
    assert with_mask.axes[4].get_title() == "mask 4×4"


def test_channel_maps_scale_per_row_or_per_panel():
    rows = {"map": torch.stack([torch.full((4, 4), 1.0), torch.full((4, 4), -3.0)])}
    by_row = plots.plot_channel_maps(rows, channels=(0, 1))
    by_panel = plots.plot_channel_maps(rows, channels=(0, 1), scale="panel")
    assert [ax.images[0].get_clim() for ax in by_row.axes] == [(-3, 3), (-3, 3)]
    assert [ax.images[0].get_clim() for ax in by_panel.axes] == [(-1, 1), (-3, 3)]
    zeros = plots.plot_channel_maps({"zero": torch.zeros(2, 4, 4)}, channels=(0,))
    assert zeros.axes[0].images[0].get_clim() == (-1, 1)  # an all-zero map still draws


def test_channel_maps_on_one_scale_for_the_whole_figure():
    rows = {"weak": torch.full((2, 4, 4), 0.5), "strong": torch.full((2, 4, 4), -4.0)}
    figure = plots.plot_channel_maps(rows, channels=(0, 1), scale="figure")
    panels = [ax for ax in figure.axes if ax.images]
    assert len(panels) == 4 and {ax.images[0].get_clim() for ax in panels} == {(-4, 4)}
    assert len(figure.axes) == 5  # the four panels and one colour bar for all of them


def test_channel_maps_refuse_bad_channels_and_shapes():
    with pytest.raises(ValueError, match="out of range"):
        plots.plot_channel_maps({"m": torch.zeros(2, 4, 4)}, channels=(5,))
    with pytest.raises(ValueError, match=r"\(C, h, w\)"):
        plots.plot_channel_maps({"m": torch.zeros(4, 4)})
    with pytest.raises(ValueError, match="scale"):
        plots.plot_channel_maps({"m": torch.zeros(2, 4, 4)}, channels=(0,), scale="global")


def test_weight_growth_has_a_loss_panel_only_when_asked():
    history = {"add": [0.0, 0.1, 0.2], "mul": [0.0, 0.2, 0.3]}
    assert len(plots.plot_weight_growth(history).axes) == 1
    figure = plots.plot_weight_growth(history, losses={"add": [3.0, 2.0], "mul": [3.1, 2.1]})
    assert len(figure.axes) == 2
    assert len(figure.axes[0].lines) == 2
    with pytest.raises(ValueError, match="history is empty"):
        plots.plot_weight_growth({})


def test_init_effects_has_a_panel_per_measure_and_a_bar_per_setting():
    table = {
        "no-op": {"change": 0.0, "flipped": 0.0},
        "random": {"change": 0.4, "flipped": 0.7},
        "bias 1": {"change": 4.5, "flipped": 0.98},
    }
    figure = plots.plot_init_effects(table, highlight=["no-op"])
    assert len(figure.axes) == 2
    assert [ax.get_title() for ax in figure.axes] == ["change", "flipped"]
    assert len(figure.axes[0].patches) == 3
    colors = {tuple(p.get_facecolor()) for p in figure.axes[0].patches}
    assert len(colors) == 2  # the highlighted setting stands out
    with pytest.raises(ValueError, match="measures"):
        plots.plot_init_effects({"a": {"x": 1.0}, "b": {"y": 1.0}})


def test_regions_outlines_every_mask_and_names_them():
    image = torch.randn(3, 64, 64)
    figure = plots.plot_regions(image, [square_mask(), square_mask(at=40)], ["cup", "broccoli"])
    assert len(figure.axes) == 1
    # the image's pixels span the pixel-edge coordinates the outlines are traced in
    assert tuple(figure.axes[0].images[0].get_extent()) == (0, 64, 64, 0)
    legend = figure.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["cup", "broccoli"]
    with pytest.raises(ValueError, match="one name per mask"):
        plots.plot_regions(image, [square_mask()], ["a", "b"])
    with pytest.raises(ValueError, match="masks is empty"):
        plots.plot_regions(image, [])
