"""Interactive explorers for chapter 7: pick a region (or draw a box) and see what every method
answers; slide over the size bins of a comparison.

Two builders, :func:`region_explorer` and :func:`size_bin_explorer`, return ipywidgets. What they
show is computed by plain functions (:func:`box_mask`, :func:`top_predictions`,
:func:`attention_effects`, :func:`predictions_html`, :func:`bin_accuracies`, ...), tested without
a browser. Pictures go into ``Image`` widgets and tables into ``HTML`` widgets rather than into
``Output`` widgets, so the state the notebook ends in is saved with it: the published book, which
has no kernel, shows each explorer as it was first drawn (the controls move, but nothing redraws).
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from torch import nn

from roiattn import plots
from roiattn.data.regions import RegionDataset, require_regions
from roiattn.evaluate import Report
from roiattn.models import ROIAttentionNet, mask_boxes
from roiattn.predict import predict

Predictions = dict[str, list[tuple[str, float]]]  # method -> [(class, probability)], best first

ALL = "all"  # the size-bin slider's last stop: every test instance


# ---------------------------------------------------------------------------- plain functions


def box_mask(size: int | tuple[int, int], box: Sequence[float]) -> torch.Tensor:
    """A float ``(H, W)`` mask that is 1 inside ``box`` = ``(x0, y0, x1, y1)``.

    The box is in pixel edges (``x1`` and ``y1`` exclusive, as slices), rounded to whole
    pixels and clipped to the image. A box with nothing inside the image raises ``ValueError``.
    """
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive, got {(height, width)}")
    if len(box) != 4:
        raise ValueError(f"box must be (x0, y0, x1, y1), got {tuple(box)!r}")
    x0, y0, x1, y1 = (round(float(v)) for v in box)
    x0, x1 = max(x0, 0), min(x1, width)
    y0, y1 = max(y0, 0), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(
            f"box {tuple(box)} holds no pixel of a {height}×{width} image: give x0 < x1 and "
            "y0 < y1 that overlap the image"
        )
    mask = torch.zeros(height, width)
    mask[y0:y1, x0:x1] = 1
    return mask


def mask_box(mask: torch.Tensor | np.ndarray) -> tuple[int, int, int, int]:
    """The bounding box ``(x0, y0, x1, y1)`` of a mask's pixels, in pixel edges (``box_mask``
    of it covers the whole region)."""
    box = mask_boxes(torch.as_tensor(mask).reshape(-1, *np.shape(mask)[-2:]), 0.0)[0]
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    return x0, y0, x1, y1


def top_predictions(
    models: Mapping[str, nn.Module],
    image: torch.Tensor,
    mask: torch.Tensor,
    classes: Sequence[str] | None = None,
    top_k: int = 5,
) -> Predictions:
    """Every model's ``top_k`` most probable classes for the region ``mask`` of ``image`` (both at
    the models' input size): ``{method: [(class, probability), ...]}``, best first, in the order
    of ``models``."""
    if not models:
        raise ValueError("models is empty: give {method: model}")
    return {
        method: predict(model, image, mask, top_k=top_k, classes=classes)
        for method, model in models.items()
    }


@torch.inference_mode()
def attention_effects(
    model: nn.Module, image: torch.Tensor, mask: torch.Tensor
) -> dict[str, np.ndarray]:
    """What the region adds to each attention map of an ``attn-*`` model: ``{point: (h, w)}``.

    The attention map at a merge point has as many channels as the features there. Its part that
    depends on the mask is the map minus the map for no region at all (which is just the conv's
    bias); this gives that part's root mean square over the channels, per cell: zero where the
    region changes nothing, large where it changes the features most. A model without attention
    branches (a baseline) gives ``{}``.
    """
    if not isinstance(model, ROIAttentionNet):
        return {}
    was_training = model.training
    model.eval()
    try:
        parameter = next(model.parameters())
        images = image[None].to(parameter.device, parameter.dtype)
        masks = torch.as_tensor(mask, dtype=parameter.dtype).reshape(1, 1, *images.shape[-2:])
        with_region = model.attention_maps(images, masks.to(parameter.device))
        without = model.attention_maps(images, torch.zeros_like(masks).to(parameter.device))
    finally:
        model.train(was_training)
    return {
        point: (with_region[point] - without[point])[0].float().pow(2).mean(0).sqrt().cpu().numpy()
        for point in with_region
    }


def figure_bytes(figure: Figure, dpi: int = 72, format: str = "png") -> bytes:
    """The figure as image bytes for an ``Image`` widget: ``png`` (sharp lines and text) or
    ``jpeg`` (photos, several times smaller). The figure is closed, so a notebook does not show
    it a second time below the cell."""
    if format not in ("png", "jpeg"):
        raise ValueError(f"format must be 'png' or 'jpeg', got {format!r}")
    buffer = io.BytesIO()
    options = {"pil_kwargs": {"quality": 85}} if format == "jpeg" else {}
    figure.savefig(buffer, format=format, dpi=dpi, **options)
    plt.close(figure)
    return buffer.getvalue()


def predictions_html(predictions: Predictions, true_class: str | None = None) -> str:
    """An HTML table: one row per method, its top classes with probabilities, the true class in
    bold green, and whether the top-1 answer is right."""
    if not predictions:
        raise ValueError("predictions is empty: give {method: [(class, probability), ...]}")
    k = max(len(top) for top in predictions.values())
    head = "".join(f"<th>#{rank}</th>" for rank in range(1, k + 1))
    judged = true_class is not None
    rows = []
    for method, top in predictions.items():
        cells = []
        for name, probability in top:
            text = f"{html.escape(name)} {probability:.0%}"
            if name == true_class:
                text = f'<b style="color:#1a7f37">{text}</b>'
            cells.append(f"<td>{text}</td>")
        cells += ["<td></td>"] * (k - len(top))
        verdict = ""
        if judged:
            right = bool(top) and top[0][0] == true_class
            verdict = f"<td>{'✓' if right else '✗'}</td>"
        rows.append(
            f"<tr><td><code>{html.escape(method)}</code></td>{''.join(cells)}{verdict}</tr>"
        )
    title = f"true class: <b>{html.escape(true_class)}</b>" if judged else "no true class given"
    tail = "<th>top-1</th>" if judged else ""
    return (
        f"<div style='font-size:0.85em'><p>{title}</p>"
        f"<table><tr><th>method</th>{head}{tail}</tr>{''.join(rows)}</table></div>"
    )


def bin_items(report: Report, label: str, scheme: str | None = None) -> np.ndarray:
    """Indices of the test instances in size bin ``label`` of ``scheme`` (``"all"``: every one),
    in the order of the test data the report was made on."""
    if label == ALL:
        return np.arange(report.count)
    name = scheme or report.primary
    if name not in report.schemes:
        raise ValueError(f"no size binning {name!r} in this report: {list(report.schemes)}")
    bins = report.schemes[name]
    if label not in bins.labels:
        raise ValueError(f"no size bin {label!r} in the {name} bins: {list(bins.labels)}")
    return np.flatnonzero(report.in_bin(bins.labels.index(label), name))


def bin_accuracies(
    comparison: Any, label: str, metric: str = "accuracy", scheme: str | None = None
) -> dict[str, float]:
    """Every method's top-1 accuracy in size bin ``label`` (``"all"``: over every instance),
    over instances (``metric="accuracy"``) or averaged over classes (``"mean_class"``): the
    comparison's own cells (:meth:`~roiattn.experiments.Comparison.accuracy`, the mean over a
    method's seeds, as in its table); NaN for an empty bin."""
    if metric not in ("accuracy", "mean_class"):
        raise ValueError(f"metric must be 'accuracy' or 'mean_class', got {metric!r}")
    bins = comparison.columns(scheme)[:-2]
    if label == ALL:
        column = "overall" if metric == "accuracy" else "mean class"
    elif label in bins:
        column = label
    else:
        raise ValueError(f"no size bin {label!r}: choose one of {[*bins, ALL]}")
    return {m: comparison.accuracy(m, column, metric, scheme) for m in comparison.methods}


# ---------------------------------------------------------------------------- region explorer


class RegionExplorer(widgets.VBox):
    """Pick an image and one of its regions, or draw a box; see the mask, the attention maps and
    every method's top predictions. Built by :func:`region_explorer`.

    Controls: ``image_picker``, ``region_picker`` (dataset indices of the image's regions),
    ``source`` (``"region"`` or ``"box"``), ``x_range`` and ``y_range`` (the box, in pixel
    edges; moving them switches to ``"box"``), ``attention_picker`` (whose attention maps to
    show). Outputs: ``picture`` (PNG: the input with the mask outlined, the mask, the attention
    maps), ``table`` (HTML: every method's top classes), ``status`` (HTML: what is selected).
    ``mask`` and ``predictions`` hold what is shown now.
    """

    def __init__(
        self,
        dataset: RegionDataset,
        models: Mapping[str, nn.Module],
        classes: Sequence[str] | None = None,
        initial: int = 0,
        attention: str | None = None,
        top_k: int = 5,
        dpi: int = 72,
    ) -> None:
        if not models:
            raise ValueError("models is empty: give {method: model}")
        if len(dataset) == 0:
            raise ValueError("the dataset is empty: nothing to explore")
        self.dataset = dataset
        self.models = dict(models)
        dataset = require_regions(dataset, "dataset to explore")
        self.classes = list(classes) if classes is not None else list(dataset.classes)
        self.top_k, self.dpi = top_k, dpi
        self.labels = np.asarray(dataset.labels, dtype=np.int64)
        self.areas = np.asarray(dataset.areas, dtype=np.float64)
        self.image_ids = np.asarray(dataset.image_ids)
        attentive = [m for m, model in self.models.items() if isinstance(model, ROIAttentionNet)]
        if attention is not None and attention not in attentive:
            raise ValueError(
                f"attention must name one of the attention models {attentive}, got {attention!r}"
            )
        initial = int(initial)
        if not -len(dataset) <= initial < len(dataset):
            raise ValueError(f"initial item {initial} out of range for {len(dataset)} regions")
        initial %= len(dataset)

        self.mask: torch.Tensor | None = None
        self.predictions: Predictions = {}
        self._quiet = False
        self._item: dict[str, Any] = {}

        self._build_controls(initial, attentive, attention)
        super().__init__(
            [
                widgets.HBox([self.image_picker, self.region_picker]),
                widgets.HBox([self.source, self.attention_picker]),
                widgets.HBox([self.x_range, self.y_range]),
                self.status,
                self.picture,
                self.table,
            ]
        )
        self._fill_regions(self.image_picker.value, initial)
        self.image_picker.observe(self._on_image, "value")
        self.region_picker.observe(self._on_region, "value")
        self.source.observe(self._on_change, "value")
        self.x_range.observe(self._on_box, "value")
        self.y_range.observe(self._on_box, "value")
        self.attention_picker.observe(self._on_change, "value")
        self._select(initial)

    def _build_controls(self, initial: int, attentive: list[str], attention: str | None) -> None:
        """The pickers, the box sliders and the outputs, before they are laid out."""
        images = sorted(set(self.image_ids.tolist()))
        count = {i: int((self.image_ids == i).sum()) for i in images}
        self.image_picker = widgets.Dropdown(
            options=[(f"image {i} ({count[i]} regions)", i) for i in images],
            value=self.image_ids[initial].item(),
            description="image",
        )
        self.region_picker = widgets.Dropdown(description="region")
        self.source = widgets.ToggleButtons(
            options=[("its mask", "region"), ("a box", "box")],
            value="region",
            description="classify",
            style={"button_width": "80px"},
        )
        size = int(self.dataset[initial]["image"].shape[-1])
        slider = {"min": 0, "max": size, "step": 1, "continuous_update": False}
        self.x_range = widgets.IntRangeSlider(value=(0, size), description="box x", **slider)
        self.y_range = widgets.IntRangeSlider(value=(0, size), description="box y", **slider)
        self.attention_picker = widgets.Dropdown(
            options=attentive or ["(no attention model)"],
            value=attention or (attentive[0] if attentive else "(no attention model)"),
            description="maps of",
            disabled=not attentive,
        )
        self.picture = widgets.Image(format="png", layout={"max_width": "100%"})
        self.table = widgets.HTML()
        self.status = widgets.HTML()

    # -- callbacks
    def _fill_regions(self, image_id: Any, index: int | None = None) -> None:
        here = np.flatnonzero(self.image_ids == image_id)
        options = [
            (f"#{i}: {self.classes[self.labels[i]]}, {self.areas[i]:,.0f} px", int(i)) for i in here
        ]
        self._quiet = True
        try:
            self.region_picker.options = options
            self.region_picker.value = int(here[0]) if index is None else int(index)
        finally:
            self._quiet = False

    def _on_image(self, change: dict[str, Any]) -> None:
        self._fill_regions(change["new"])
        self._select(self.region_picker.value)

    def _on_region(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"] is not None:
            self._select(change["new"])

    def _on_box(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        if self.source.value != "box":
            self.source.value = "box"  # redraws through _on_change
        else:
            self.redraw()

    def _on_change(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.redraw()

    def _select(self, index: int) -> None:
        """Read region ``index``, put the box around it, show its own mask."""
        self._item = self.dataset[int(index)]
        x0, y0, x1, y1 = mask_box(self._item["mask"])
        self._quiet = True
        try:
            self.x_range.value, self.y_range.value = (x0, x1), (y0, y1)
            self.source.value = "region"
        finally:
            self._quiet = False
        self.redraw()

    # -- drawing
    def current_mask(self) -> torch.Tensor:
        """The ``(H, W)`` mask being classified: the region's own, or the box (at least one
        pixel)."""
        image = self._item["image"]
        if self.source.value == "region":
            return torch.as_tensor(self._item["mask"]).reshape(image.shape[-2:]).float()
        (x0, x1), (y0, y1) = self.x_range.value, self.y_range.value
        return box_mask(tuple(image.shape[-2:]), (x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)))

    def redraw(self) -> None:
        """Classify the current mask with every model and draw everything again."""
        image, index = self._item["image"], self.region_picker.value
        self.mask = self.current_mask()
        true_class = self.classes[int(self._item["label"])]
        self.predictions = top_predictions(self.models, image, self.mask, self.classes, self.top_k)
        method = self.attention_picker.value
        model = self.models.get(method)
        maps = {} if model is None else attention_effects(model, image, self.mask)
        box = None
        if self.source.value == "box":
            (x0, x1), (y0, y1) = self.x_range.value, self.y_range.value
            box = (x0, y0, x1, y1)
        figure = plots.plot_region_attention(
            image,
            self.mask,
            maps,
            title=f"#{index}: {true_class}" if box is None else f"#{index}: your box",
            maps_title=f"what the mask adds ({method})" if maps else None,
        )
        self.picture.value = figure_bytes(figure, self.dpi)
        # a drawn box is not labelled: the true class is the region's, so no verdict for a box
        self.table.value = predictions_html(self.predictions, true_class if box is None else None)
        side = f"{image.shape[-2]}×{image.shape[-1]}"
        what = (
            f"the region's mask: {int(self.mask.sum())} of {side} pixels, "
            f"{self.areas[index]:,.0f} px in the photo"
            if box is None
            else f"a box x {box[0]}–{box[2]}, y {box[1]}–{box[3]}: {int(self.mask.sum())} of "
            f"{side} pixels (the region there is a {true_class})"
        )
        self.status.value = f"region #{index} of image {self._item.get('image_id', '?')}, {what}"


def region_explorer(
    dataset: RegionDataset,
    models: Mapping[str, nn.Module],
    classes: Sequence[str] | None = None,
    **options: Any,
) -> RegionExplorer:
    """The region explorer over ``dataset`` (region items: ``image``, ``mask``, ``label``,
    ``area``, ideally ``image_id``) and trained ``models`` (``{method: model}``, all taking the
    dataset's images as they are).

    Its options: it opens on item ``initial`` (0), showing that region's mask, the attention
    maps of ``attention`` (an ``attn-*`` method of ``models``; default: the first one) and every
    model's ``top_k`` (5) best classes, drawn at ``dpi`` (72). ``classes`` default to the
    dataset's.
    """
    return RegionExplorer(dataset, models, classes, **options)


# ---------------------------------------------------------------------------- size-bin explorer


class SizeBinExplorer(widgets.VBox):
    """A slider over the size bins of a comparison: every method's accuracy in the bin chosen,
    and (with the test data) a few of its regions with how many methods got each one right.
    Built by :func:`size_bin_explorer`.

    Controls: ``slider`` (the non-empty bins, then ``"all"``), ``metric`` (``"accuracy"`` or
    ``"mean_class"``). Outputs: ``chart`` (PNG), ``examples`` (JPEG, empty without data),
    ``summary`` (HTML).
    """

    def __init__(
        self,
        comparison: Any,
        dataset: RegionDataset | None = None,
        scheme: str | None = None,
        initial: str | None = None,
        n_examples: int = 6,
        dpi: int = 72,
    ) -> None:
        self.comparison = comparison
        self.dataset = dataset
        self.first = comparison.report(comparison.methods[0])
        self.scheme = scheme or comparison.scheme
        if self.scheme not in self.first.schemes:
            raise ValueError(
                f"no size binning {self.scheme!r} in this comparison: {list(self.first.schemes)}"
            )
        self.n_examples, self.dpi = n_examples, dpi
        if dataset is not None and len(dataset) != self.first.count:
            raise ValueError(
                f"the dataset has {len(dataset)} items but the comparison was evaluated on "
                f"{self.first.count}: give the test data it was evaluated on"
            )
        rows = [row for row in self.first.by_size(self.scheme) if row.count]
        stops = [row.label for row in rows] + [ALL]
        if initial is not None and initial not in stops:
            raise ValueError(f"initial must be one of the non-empty bins {stops}, got {initial!r}")
        self.slider = widgets.SelectionSlider(
            options=stops,
            value=initial or stops[0],
            description="segment area",
            continuous_update=False,
            style={"description_width": "initial"},
            layout={"width": "520px"},
        )
        self.metric = widgets.ToggleButtons(
            options=[("over instances", "accuracy"), ("mean over classes", "mean_class")],
            value="accuracy",
            description="accuracy",
        )
        self.chart = widgets.Image(format="png", layout={"max_width": "100%"})
        self.examples = widgets.Image(format="jpeg", layout={"max_width": "100%"})
        self.summary = widgets.HTML()
        super().__init__(
            [self.slider, self.metric, self.summary, self.chart, self.examples],
        )
        self.slider.observe(lambda _: self.redraw(), "value")
        self.metric.observe(lambda _: self.redraw(), "value")
        self.redraw()

    def redraw(self) -> None:
        """Draw the bin the slider is on."""
        label, metric = self.slider.value, self.metric.value
        values = bin_accuracies(self.comparison, label, metric, self.scheme)
        items = bin_items(self.first, label, self.scheme)
        what = "top-1 accuracy" if metric == "accuracy" else "mean class accuracy"
        where = "all test regions" if label == ALL else f"segments of {label} px ({self.scheme})"
        figure = plots.plot_bin_accuracy(
            values, len(items), f"{what}, {where}", interval=metric == "accuracy"
        )
        self.chart.value = figure_bytes(figure, self.dpi)
        best = max(values, key=lambda m: -1 if np.isnan(values[m]) else values[m])
        self.summary.value = (
            f"<b>{len(items)}</b> test regions in this bin; best here: <code>{html.escape(best)}"
            f"</code> ({values[best]:.0%}), worst: <code>"
            f"{html.escape(min(values, key=values.get))}</code> ({min(values.values()):.0%})"
        )
        if self.dataset is not None and self.n_examples:
            hits = np.sum(
                [self.comparison.report(m).correct for m in self.comparison.methods], axis=0
            )
            spread = np.linspace(0, len(items) - 1, min(self.n_examples, len(items)))
            shown = items[spread.astype(int)]
            figure = plots.plot_scenes(
                self.dataset,
                indices=shown.tolist(),
                columns=len(shown),
                panel_size=1.6,
            )
            for ax, index in zip(figure.axes, shown, strict=False):
                ax.set_title(
                    f"{ax.get_title()}\n{int(hits[index])}/{len(values)} right", fontsize=7
                )
            figure.tight_layout()
            self.examples.value = figure_bytes(figure, self.dpi, "jpeg")


def size_bin_explorer(
    comparison: Any,
    dataset: RegionDataset | None = None,
    **options: Any,
) -> SizeBinExplorer:
    """A slider over the size bins of ``comparison`` (a :class:`~roiattn.experiments.Comparison`)
    showing every method's accuracy there; with ``dataset`` (the test data the comparison was
    evaluated on, same order) also ``n_examples`` regions of the bin, each with how many methods
    got it right. Its options: ``scheme`` (default: the comparison's), ``initial`` (the bin it
    opens on; default: the smallest non-empty one), ``n_examples`` (6) and ``dpi`` (72)."""
    return SizeBinExplorer(comparison, dataset, **options)
