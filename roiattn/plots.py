"""Figures the notebooks show, in the order of the chapters.

Every function draws through pyplot and returns the matplotlib ``Figure``, so a notebook cell
that ends in ``plt.show()`` shows it (and closes it), and a script can call
``figure.savefig(...)`` and ``plt.close(figure)``; none of them calls ``plt.show()`` itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from contourpy import contour_generator
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from roiattn.data.bins import COCO_BINS, COCO_EDGES, PAPER_EDGES
from roiattn.data.images import denormalize
from roiattn.masks import resize_mask


def _class_name(dataset: Any, item: Mapping[str, Any]) -> str:
    """The name of the item's class, from the dataset's ``classes`` (else the label itself)."""
    classes = getattr(dataset, "classes", None)
    return str(item["label"] if classes is None else classes[int(item["label"])])


def _pick_items(n_items: int, n: int, indices: Sequence[int] | None, seed: int | None) -> list[int]:
    if indices is not None:
        picked = [int(i) for i in indices]
        bad = [i for i in picked if not -n_items <= i < n_items]
        if bad:
            raise ValueError(f"indices {bad} out of range for a dataset of {n_items} items")
        if not picked:
            raise ValueError("indices is empty: give at least one item index")
        return picked
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    n = min(n, n_items)
    if seed is None:
        return list(range(n))
    return sorted(np.random.default_rng(seed).choice(n_items, size=n, replace=False).tolist())


def plot_scenes(
    dataset: Any,
    n: int = 8,
    indices: Sequence[int] | None = None,
    seed: int | None = 0,
    columns: int = 4,
    outline: str = "white",
    panel_size: float = 2.4,
    title: str | None = None,
) -> Figure:
    """A grid of ``n`` items of ``dataset``, each region outlined, titled with its class and area.

    Works for any dataset that follows the item contract (``image``, ``mask``, ``label``,
    ``area``) and has ``classes``: ``ContextShapes``, ``COCORegions``, ... Items are picked at
    random with ``seed`` (``None``: the first ``n``), or given as ``indices``. A thin dark line
    under the ``outline`` colour keeps the outline visible on light and dark backgrounds alike.
    """
    if len(dataset) == 0:
        raise ValueError("the dataset is empty: nothing to plot")
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a positive int, got {columns!r}")
    picked = _pick_items(len(dataset), n, indices, seed)
    columns = min(columns, len(picked))
    rows = math.ceil(len(picked) / columns)
    figure = plt.figure(figsize=(panel_size * columns, panel_size * rows + (0.4 if title else 0)))
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, index in zip(axes.flat, picked, strict=False):
        item = dataset[index]
        image = item["image"]
        pixels = denormalize(image) if isinstance(image, torch.Tensor) else np.asarray(image)
        mask = _as_plane(item["mask"])
        _image(ax, pixels, mask.shape)
        _outline(ax, mask, outline)
        ax.set_title(f"{_class_name(dataset, item)} ({int(item['area'])} px)", fontsize=9)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


# --- Chapters 1-3: masks at every scale, the attention branch, starting as a no-op -------------

# COCO's small / medium / large as (name, low, high): the bins of roiattn.data.COCO_BINS
COCO_SIZE_GROUPS: tuple[tuple[str, float, float], ...] = tuple(
    zip(COCO_BINS.labels, (0.0, *COCO_EDGES), (*COCO_EDGES, math.inf), strict=True)
)


def _as_plane(array: Any, shape: str = "(H, W)") -> np.ndarray:
    """A float array of ``shape`` (one mask or map) from one with leading 1s: a ``(1, H, W)``
    or ``(1, 1, H, W)`` mask, a ``(1, C, h, w)`` map when ``shape`` is ``"(C, h, w)"``."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().float().numpy()
    array = np.asarray(array, dtype=np.float32)
    ndim = shape.count(",") + 1
    while array.ndim > ndim and array.shape[0] == 1:
        array = array[0]
    if array.ndim != ndim:
        raise ValueError(f"expected one mask or map shaped {shape}, got shape {array.shape}")
    return array


def outline_lines(mask: np.ndarray) -> list[np.ndarray]:
    """The region's outline at pixel edges, as polylines of ``(x, y)`` points in pixel
    coordinates: traced once over the region's box (on a grid four times finer, so it follows
    pixel edges), then drawable on any number of panels."""
    inside = np.asarray(mask) > 0.5
    if not inside.any() or inside.all():
        return []
    rows, cols = np.flatnonzero(inside.any(1)), np.flatnonzero(inside.any(0))
    y0, x0 = max(rows[0] - 1, 0), max(cols[0] - 1, 0)
    y1, x1 = min(rows[-1] + 2, inside.shape[0]), min(cols[-1] + 2, inside.shape[1])
    grid = np.kron(inside[y0:y1, x0:x1], np.ones((4, 4), dtype=np.float32))
    xs = x0 + (np.arange(grid.shape[1]) + 0.5) / 4
    ys = y0 + (np.arange(grid.shape[0]) + 0.5) / 4
    return list(contour_generator(xs, ys, grid).lines(0.5))


def _image(ax: Any, array: Any, shape: tuple[int, ...] | None = None, **style: Any) -> Any:
    """``ax.imshow(array)`` over the pixel edges of an image of ``shape`` (default: the array's
    own), where :func:`outline_lines` traces outlines: pixel ``(i, j)`` covers ``[j, j + 1] x
    [i, i + 1]``, so a coarser map spread over the input's shape lines up with it too."""
    height, width = (shape or np.shape(array))[:2]
    return ax.imshow(array, extent=(0, width, height, 0), interpolation="nearest", **style)


def _outline(
    ax: Any,
    mask: np.ndarray,
    color: str = "white",
    width: float = 1.2,
    lines: list[np.ndarray] | None = None,
) -> None:
    """Draw the region's outline at pixel edges (``lines``: its :func:`outline_lines`, when
    already traced), a dark line under ``color``, over the image's extent."""
    for line in outline_lines(mask) if lines is None else lines:
        ax.plot(line[:, 0], line[:, 1], color="black", linewidth=width * 2)
        ax.plot(line[:, 0], line[:, 1], color=color, linewidth=width)
    ax.set_xlim(0, mask.shape[1])
    ax.set_ylim(mask.shape[0], 0)


def plot_mask_resizing(
    mask: Any,
    sizes: Mapping[str, int | tuple[int, int]],
    modes: Sequence[str] = ("bilinear", "nearest", "area", "max"),
    image: torch.Tensor | None = None,
    zoom: tuple[float, float, float, float] | None = None,
    panel_size: float = 1.5,
) -> Figure:
    """One ROI mask resized to every size in ``sizes`` (e.g. each ResNet stage) with each mode.

    Rows are the ``modes``, columns the input mask and then each size. Every resized mask is
    drawn over the input's extent (black 0, white 1) so the panels line up, with the true region
    outlined and the largest value the mask keeps written in the corner. ``image`` (normalised
    ``(3, H, W)``) replaces the first row's input mask; ``zoom`` ``(x0, y0, x1, y1)`` in input
    pixels crops every panel to that box (for small regions).
    """
    plane = _as_plane(mask)
    if not sizes:
        raise ValueError("sizes is empty: give at least one {name: size}")
    if not modes:
        raise ValueError("modes is empty: give at least one resize mode")
    height, width = plane.shape
    columns = len(sizes) + 1
    figure = plt.figure(figsize=(panel_size * columns, panel_size * len(modes) + 0.3))
    axes = figure.subplots(len(modes), columns, squeeze=False)
    source = torch.from_numpy(plane)
    outline = outline_lines(plane)
    for row, mode in enumerate(modes):
        ax = axes[row, 0]
        if image is not None and row == 0:
            _image(ax, denormalize(image), plane.shape)
            _outline(ax, plane, "white", lines=outline)
            ax.set_title(f"input {height}×{width}", fontsize=9)
        else:
            _image(ax, plane, cmap="gray", vmin=0, vmax=1)
            _outline(ax, plane, "tab:orange", width=0.8, lines=outline)
            if row == 0:
                ax.set_title(f"mask {height}×{width}", fontsize=9)
        ax.set_ylabel(mode, fontsize=10)
        for column, (name, size) in enumerate(sizes.items(), start=1):
            small = resize_mask(source, size, mode)[0, 0].numpy()
            ax = axes[row, column]
            _image(ax, small, plane.shape, cmap="gray", vmin=0, vmax=1)
            _outline(ax, plane, "tab:orange", width=0.8, lines=outline)
            peak = float(small.max())
            ax.text(
                0.03,
                0.97,
                f"peak {peak:.2f}",
                transform=ax.transAxes,
                va="top",
                fontsize=7,
                color="black" if peak == 0 else "white",
                bbox={"facecolor": "tab:red" if peak == 0 else "black", "alpha": 0.7, "pad": 1},
            )
            if row == 0:
                ax.set_title(f"{name} {small.shape[0]}×{small.shape[1]}", fontsize=9)
    for ax in axes.flat:
        ax.set(xticks=[], yticks=[])
        if zoom is not None:
            x0, y0, x1, y1 = zoom
            ax.set_xlim(x0, x1)
            ax.set_ylim(y1, y0)
    figure.tight_layout()
    return figure


def plot_mask_survival(
    peaks: Mapping[str, Any],
    areas: Any,
    stages: Sequence[str],
    groups: Sequence[tuple[str, float, float]] = COCO_SIZE_GROUPS,
    panel_size: float = 2.4,
) -> Figure:
    """What is left of many regions' masks at each stage, for each resize mode.

    ``peaks[mode]`` is an array ``(n_regions, n_stages)`` of the largest value of each region's
    resized mask at each stage; ``areas`` the regions' areas, used to split them into ``groups``
    (name, low, high) — by default COCO's small, medium and large. The top row shows the
    fraction of regions that vanish (every value 0), the bottom row the mean peak value.
    """
    if not peaks:
        raise ValueError("peaks is empty: give {mode: array (n_regions, n_stages)}")
    areas = np.asarray(areas, dtype=np.float64)
    figure = plt.figure(figsize=(panel_size * len(peaks), 2 * panel_size + 0.4))
    axes = figure.subplots(2, len(peaks), squeeze=False, sharex=True, sharey="row")
    steps = np.arange(len(stages))
    for column, (mode, values) in enumerate(peaks.items()):
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(areas), len(stages)):
            raise ValueError(
                f"peaks[{mode!r}] must be shaped (n_regions, n_stages) = "
                f"{(len(areas), len(stages))}, got {values.shape}"
            )
        for name, low, high in groups:
            chosen = (areas >= low) & (areas < high)
            if not chosen.any():
                continue
            label = f"{name} (n={int(chosen.sum())})"
            axes[0, column].plot(steps, (values[chosen] == 0).mean(0), "o-", ms=3, label=label)
            axes[1, column].plot(steps, values[chosen].mean(0), "o-", ms=3, label=label)
        axes[0, column].set_title(mode)
        for ax in axes[:, column]:
            ax.set_xticks(steps, stages, rotation=45, fontsize=8)
            ax.grid(alpha=0.3)
            ax.set_ylim(-0.05, 1.05)
    axes[0, 0].set_ylabel("fraction vanished")
    axes[1, 0].set_ylabel("mean peak value")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    return figure


def _arrow(
    ax: Any, start: tuple[float, float], end: tuple[float, float], color: str = "black"
) -> None:
    ax.add_patch(
        FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, color=color, lw=1)
    )


def _box(
    ax: Any, corner: tuple[float, float], text: str, face: str, edge: str, fontsize: float,
    height: float = 0.64,
) -> None:  # fmt: skip
    """A rounded box 0.84 wide with ``text`` in its middle."""
    patch = FancyBboxPatch(corner, 0.84, height, boxstyle="round,pad=0.02", facecolor=face,
                           edgecolor=edge)  # fmt: skip
    ax.add_patch(patch)
    ax.text(corner[0] + 0.42, corner[1] + height / 2, text, ha="center", va="center",
            fontsize=fontsize)  # fmt: skip


def plot_merge_points(
    shapes: Mapping[str, Sequence[int]],
    merge_at: Sequence[str] = (),
    op: str = "add",
    title: str | None = None,
) -> Figure:
    """A ResNet drawn as a chain of stages, with the side branch joining at ``merge_at``.

    ``shapes`` maps each point (``input``, ``conv1``, ``layer1`` ... ``layer4``, in network
    order) to its activation shape ``(C, h, w)``; a merge point gets a mask → conv branch
    joining with ``+`` (add) or ``×`` (mul). Points not in ``merge_at`` are drawn as the other
    places a branch could join.
    """
    if op not in ("add", "mul"):
        raise ValueError(f"op must be 'add' or 'mul', got {op!r}")
    names = list(shapes)
    unknown = [p for p in merge_at if p not in names or p == "input"]
    if unknown:
        raise ValueError(f"merge points {unknown} are not among the stages {names[1:]}")
    boxes = [*names, "head"]
    figure = plt.figure(figsize=(1.45 * len(boxes), 2.9))
    ax = figure.subplots()
    ax.set_xlim(-0.6, len(boxes) - 0.4)
    ax.set_ylim(-1.9, 0.75)
    ax.set_axis_off()

    for index, name in enumerate(boxes):
        if name == "head":
            text, face = "avgpool\nfc → logits", "whitesmoke"
        else:
            c, h, w = (int(v) for v in shapes[name])
            extra = "\n(before bn1)" if name == "conv1" else ""
            text = f"{name}{extra}\n{c}×{h}×{w}"
            face = "lightyellow" if name == "input" else "whitesmoke"
        _box(ax, (index - 0.42, -0.32), text, face, "gray", fontsize=7.5)
        if index + 1 < len(boxes):
            _arrow(ax, (index + 0.43, 0), (index + 0.57, 0))
    symbol = "+" if op == "add" else "×"
    for index, name in enumerate(names[1:], start=1):
        active = name in merge_at
        color = "tab:red" if active else "lightgray"
        ax.text(index + 0.5, -0.62, symbol, ha="center", va="center", fontsize=13, color=color)
        if active:
            c, h, w = (int(v) for v in shapes[name])
            _box(ax, (index + 0.08, -1.75), f"mask → {h}×{w}\n3×3 conv, {c}", "mistyrose",
                 "tab:red", fontsize=7, height=0.6)  # fmt: skip
            _arrow(ax, (index + 0.5, -1.13), (index + 0.5, -0.75), color="tab:red")
            _arrow(ax, (index + 0.5, -0.5), (index + 0.5, -0.05), color="tab:red")
    if title:
        ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


def plot_channel_maps(
    rows: Mapping[str, Any],
    channels: Sequence[int] = (0, 1, 2, 3),
    mask: Any = None,
    mode: str = "bilinear",
    scale: str = "row",
    panel_size: float = 1.5,
    cmap: str = "RdBu_r",
) -> Figure:
    """A few channels of several feature or attention maps, one row per map.

    ``rows`` maps a label to a map ``(C, h, w)`` (or ``(1, C, h, w)``). Colours are symmetric
    around 0 (red positive, blue negative), on one scale per row (``scale="row"``, its range in
    the row's label), one for the whole figure (``scale="figure"``, when rows are compared) or
    per panel (``scale="panel"``, in each title). With ``mask`` given, a
    first column shows the mask resized (``mode``) to that row's size: what the branch's conv
    sees.
    """
    if scale not in ("row", "figure", "panel"):
        raise ValueError(f"scale must be 'row', 'figure' or 'panel', got {scale!r}")
    if not rows:
        raise ValueError("rows is empty: give {label: map (C, h, w)}")
    if not channels:
        raise ValueError("channels is empty: give at least one channel index")
    lead = 1 if mask is not None else 0
    columns = lead + len(channels)
    figure = plt.figure(figsize=(panel_size * columns, panel_size * len(rows) + 0.2))
    axes = figure.subplots(len(rows), columns, squeeze=False)
    maps = {label: _channel_stack(label, value, channels) for label, value in rows.items()}
    figure_range = max(float(np.abs(v[list(channels)]).max()) for v in maps.values()) or 1.0
    for row, (label, value) in enumerate(maps.items()):
        shown = value[list(channels)]
        row_range = figure_range if scale == "figure" else float(np.abs(shown).max()) or 1.0
        if mask is not None:
            small = resize_mask(torch.as_tensor(_as_plane(mask)), value.shape[-2:], mode)
            ax = axes[row, 0]
            ax.imshow(small[0, 0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"mask {value.shape[1]}×{value.shape[2]}", fontsize=8)
        for column, (channel, plane) in enumerate(zip(channels, shown, strict=True), start=lead):
            ax = axes[row, column]
            limit = (float(np.abs(plane).max()) or 1.0) if scale == "panel" else row_range
            shown_image = ax.imshow(plane, cmap=cmap, vmin=-limit, vmax=limit,
                                    interpolation="nearest")  # fmt: skip
            extra = f" ±{limit:.2g}" if scale == "panel" else ""
            ax.set_title(f"channel {channel}{extra}", fontsize=8)
        axes[row, 0].set_ylabel(
            label if scale == "panel" else f"{label}\n±{row_range:.2g}", fontsize=8
        )
    for ax in axes.flat:
        ax.set(xticks=[], yticks=[])
    figure.tight_layout()
    if scale == "figure":
        figure.colorbar(shown_image, ax=list(axes[:, lead:].flat), shrink=0.8)
    return figure


def _channel_stack(label: str, value: Any, channels: Sequence[int]) -> np.ndarray:
    """A map as float ``(C, h, w)``, with its channel indices checked."""
    value = _as_plane(value, "(C, h, w)")
    bad = [c for c in channels if not -value.shape[0] <= c < value.shape[0]]
    if bad:
        raise ValueError(f"channels {bad} out of range for rows[{label!r}] ({value.shape[0]})")
    return value


def plot_weight_growth(
    history: Mapping[str, Sequence[float]],
    ylabel: str = "side-branch weight norm",
    losses: Mapping[str, Sequence[float]] | None = None,
    title: str | None = None,
) -> Figure:
    """Curves over training steps: ``history[name]`` one value per step (e.g. the norm of a side
    branch's conv weights), and optionally ``losses[name]`` in a second panel."""
    if not history:
        raise ValueError("history is empty: give {name: one value per step}")
    panels = 2 if losses else 1
    figure = plt.figure(figsize=(4.2 * panels, 3.0))
    axes = figure.subplots(1, panels, squeeze=False)[0]
    for name, values in history.items():
        axes[0].plot(np.arange(len(values)), values, label=name)
    for name, values in (losses or {}).items():
        axes[1].plot(np.arange(1, len(values) + 1), values, label=name, alpha=0.8)
    for ax, label in zip(axes, (ylabel, "training loss"), strict=False):
        ax.set(xlabel="step", ylabel=label)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def plot_init_effects(
    table: Mapping[str, Mapping[str, float]],
    highlight: Sequence[str] = (),
    xlim: float | None = None,
) -> Figure:
    """Horizontal bars, one panel per measure: ``table[setting][measure] = value``.

    Made for chapter 3's table of how much each initialisation of the side branch changes the
    backbone's output (e.g. relative logit change, share of top-1 predictions changed). The
    settings named in ``highlight`` are drawn in another colour.
    """
    if not table:
        raise ValueError("table is empty: give {setting: {measure: value}}")
    measures = list(next(iter(table.values())))
    missing = [s for s, row in table.items() if list(row) != measures]
    if missing:
        raise ValueError(f"every setting needs the measures {measures}; these differ: {missing}")
    settings = list(table)
    figure = plt.figure(figsize=(3.6 * len(measures), 0.45 * len(settings) + 1.0))
    axes = figure.subplots(1, len(measures), squeeze=False, sharey=True)[0]
    positions = np.arange(len(settings))
    for ax, measure in zip(axes, measures, strict=True):
        values = [float(table[s][measure]) for s in settings]
        colors = ["tab:green" if s in highlight else "tab:blue" for s in settings]
        ax.barh(positions, values, color=colors)
        for y, value in zip(positions, values, strict=True):
            ax.text(value, y, f" {value:.3g}", va="center", fontsize=8)
        ax.set_title(measure, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        top = xlim if xlim is not None else max(max(values), 1e-12) * 1.3
        ax.set_xlim(0, top)
    axes[0].set_yticks(positions, settings, fontsize=8)
    axes[0].invert_yaxis()
    figure.tight_layout()
    return figure


def plot_regions(
    image: torch.Tensor,
    masks: Sequence[Any],
    names: Sequence[str] | None = None,
    colors: Sequence[str] = ("tab:orange", "tab:cyan", "tab:pink", "tab:olive", "white"),
    size: float = 4.0,
) -> Figure:
    """One image (normalised ``(3, H, W)``) with several regions outlined in different colours,
    named in a legend."""
    if not len(masks):
        raise ValueError("masks is empty: give at least one mask")
    if names is not None and len(names) != len(masks):
        raise ValueError(f"{len(names)} names for {len(masks)} masks: give one name per mask")
    pixels = denormalize(image)
    figure = plt.figure(figsize=(size, size * pixels.shape[0] / pixels.shape[1] + 0.3))
    ax = figure.subplots()
    _image(ax, pixels)
    handles = []
    for index, mask in enumerate(masks):
        color = colors[index % len(colors)]
        _outline(ax, _as_plane(mask), color, width=1.5)
        if names is not None:
            handles.append(Line2D([], [], color=color, lw=2, label=names[index]))
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="lower right")
    ax.set_axis_off()
    figure.tight_layout()
    return figure


# --- Chapters 4 and 6: training on a COCO subset, soft versus hard attention ------------------


def _method_color(method: str) -> str:
    """One colour per family: no mask (grey), crop (brown), hard attention (reds), attention
    maps (blues for add, purple for mul), mask channel (green)."""
    if method == "image":
        return "0.55"
    if method == "crop":
        return "tab:brown"
    if method == "blur@input":
        return "#e08214"
    if method.startswith("hard@"):
        return {"hard@input": "#f4a582", "hard@conv1": "#d6604d"}.get(method, "#b2182b")
    if method.startswith("attn-mul"):
        return "tab:purple"
    if method.startswith("attn-"):
        point = method.partition("@")[2]
        return {"conv1": "#2166ac", "layer3": "#92c5de", "all": "#4393c3"}.get(point, "#053061")
    if method == "mask-channel":
        return "tab:green"
    return "tab:olive"


def plot_views(views: Mapping[str, Any], indices: Sequence[int], panel_size: float = 2.1) -> Figure:
    """The same regions seen through several datasets (e.g. ``view="image"`` and
    ``view="context"`` of one COCO split): one column per region, titled with its class and
    native area, one row per view, the region outlined."""
    if not views:
        raise ValueError("views is empty: give {name: dataset}")
    if not len(indices):
        raise ValueError("indices is empty: give at least one item index")
    lengths = {name: len(data) for name, data in views.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"the views must hold the same items, got lengths {lengths}")
    figure = plt.figure(figsize=(panel_size * len(indices), panel_size * len(views) + 0.3))
    axes = figure.subplots(len(views), len(indices), squeeze=False)
    for row, (name, data) in enumerate(views.items()):
        for column, index in enumerate(indices):
            item = data[int(index)]
            ax = axes[row, column]
            _image(ax, denormalize(item["image"]))
            _outline(ax, _as_plane(item["mask"]), "white")
            ax.set(xticks=[], yticks=[])
            if row == 0:
                ax.set_title(f"{_class_name(data, item)}, {int(item['area'])} px", fontsize=9)
            if column == 0:
                ax.set_ylabel(name, fontsize=9)
    figure.tight_layout()
    return figure


def plot_label_draws(
    draws: Mapping[str, Sequence[int]], classes: Sequence[str], title: str | None = None
) -> Figure:
    """How often each class comes up in the labels ``draws[name]`` (e.g. the first few hundred
    items of a plain shuffle and of a class-balanced sampler), as grouped bars, with the share
    every class would get if all were drawn equally often."""
    if not draws:
        raise ValueError("draws is empty: give {name: labels drawn}")
    k = len(classes)
    figure = plt.figure(figsize=(max(5.0, 0.9 * k + 2.5), 3.4))
    ax = figure.subplots()
    width = 0.8 / len(draws)
    x = np.arange(k)
    for i, (name, labels) in enumerate(draws.items()):
        labels = np.asarray(labels, dtype=np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(f"labels of {name!r} must lie in [0, {k})")
        share = np.bincount(labels, minlength=k) / max(len(labels), 1)
        bars = ax.bar(x + (i - (len(draws) - 1) / 2) * width, share, width, label=name)
        ax.bar_label(bars, [f"{s:.0%}" for s in share], fontsize=7)
    ax.axhline(1 / k, color="black", lw=0.8, ls="--", label=f"equal share (1/{k})")
    ax.set_xticks(x, list(classes), rotation=0 if k <= 8 else 60, fontsize=8)
    ax.set_ylabel("share of draws")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


def plot_size_distribution(
    areas: Mapping[str, Sequence[float]],
    edges: Sequence[float] = PAPER_EDGES,
    coco_edges: Sequence[float] = COCO_EDGES,
) -> Figure:
    """Histogram of segment areas (native pixels, log scale) in the paper's bins, one outline
    per dataset (``areas[name]``), instance counts over each bin, and COCO's small / medium /
    large thresholds dashed. The two open bins (below the first edge, from the last edge up)
    are drawn one doubling wide."""
    if not areas:
        raise ValueError("areas is empty: give {name: segment areas}")
    arrays = {name: np.asarray(a, dtype=np.float64) for name, a in areas.items()}
    if any(a.size and not np.isfinite(a).all() for a in arrays.values()):
        raise ValueError("areas must be finite numbers")
    edges = [float(e) for e in edges]
    bins = np.array([edges[0] / 2, *edges, edges[-1] * 2])
    figure = plt.figure(figsize=(9, 3.4))
    ax = figure.subplots()
    for index, (name, values) in enumerate(arrays.items()):
        shown = np.clip(values, bins[0], np.nextafter(bins[-1], 0))  # open bins drawn closed
        counts, _, patches = ax.hist(shown, bins=bins, histtype="step", lw=1.8, label=name)
        color = patches[0].get_edgecolor()
        for left, right, count in zip(bins[:-1], bins[1:], counts, strict=True):
            if count:
                above = index % 2 == 0  # every other dataset's counts under its line
                ax.annotate(
                    f"{int(count)}", (math.sqrt(left * right), count),
                    xytext=(0, 2 if above else -3), textcoords="offset points", ha="center",
                    va="bottom" if above else "top", fontsize=7, color=color,
                )  # fmt: skip
    ax.set_xscale("log")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.15)
    for edge, name in zip(coco_edges, ("COCO small | medium", "COCO medium | large"), strict=False):
        ax.axvline(edge, color="black", ls="--", lw=0.8)
        ax.text(edge * 1.05, ax.get_ylim()[1] * 0.5, name, fontsize=7, rotation=90, va="center")
    ax.set_xticks(edges, [f"{e / 1000:g}k" for e in edges], fontsize=8)
    ax.minorticks_off()
    ax.set_xlim(bins[0], bins[-1])
    ax.set_xlabel("segment area, native pixels (the paper's bins; the outer two are open)")
    ax.set_ylabel("instances")
    ax.legend(fontsize=8, loc="upper right")
    figure.tight_layout()
    return figure


def _wilson(hits: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``hits / n``."""
    if n == 0:
        return math.nan, math.nan
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def plot_accuracy_by_size(
    comparison: Any, scheme: str | None = None, metric: str = "mean_class",
    title: str | None = None,
) -> Figure:  # fmt: skip
    """Every method of a comparison, one panel per non-empty size bin of ``scheme`` and one for
    all regions: the mean over seeds as a bar, the range over seeds as a black line, and the
    baselines as vertical lines (dashed: the majority class; dotted: chance). Methods are
    coloured by family (reds: hard attention, blues: attention maps). One scale for every
    panel."""
    from roiattn.experiments.comparison import MEAN_CLASS, METRIC_NAMES, OVERALL

    scheme = scheme or comparison.scheme
    methods = list(comparison.methods)
    counts = comparison.counts(scheme)
    bins = [c for c in comparison.columns(scheme)[:-2] if counts[c]]
    all_column = MEAN_CLASS if metric == "mean_class" else OVERALL
    panels = [*bins, all_column]
    majority, chance = comparison.baselines(metric, scheme).values()
    figure = plt.figure(figsize=(2.3 * len(panels) + 1.4, 0.32 * len(methods) + 1.4))
    axes = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, column in zip(axes, panels, strict=True):
        for i, method in enumerate(methods):
            value = comparison.accuracy(method, column, metric, scheme)
            ax.barh(i, value, color=_method_color(method), height=0.75)
            if len(comparison.seeds(method)) > 1:
                low, high = comparison.spread(method, column, metric, scheme)
                ax.plot([low, high], [i, i], color="black", lw=1.2)
        ax.axvline(majority[column], color="0.3", ls="--", lw=1)
        ax.axvline(chance[column], color="black", ls=":", lw=1)
        ax.set_xlim(0, 1)
        name = "all" if column == all_column else column
        ax.set_title(f"{name} (n={counts[column]})", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelsize=7)
    axes[0].set_yticks(np.arange(len(methods)), methods, fontsize=8)
    axes[0].invert_yaxis()
    profile = comparison.provenance.get("profile", "?")
    figure.suptitle(
        title or f"{METRIC_NAMES[metric]} by segment size ({scheme} bins, {profile} profile); "
        "lines: range over seeds; dashed: majority class; dotted: chance",
        fontsize=9,
    )  # fmt: skip
    figure.tight_layout()
    return figure


AGREEMENT_COLOURS = {"agrees": "tab:green", "contradicts": "tab:red", "not shown": "0.45"}


def plot_findings(checks: Sequence[Any], title: str | None = None) -> Figure:
    """The paper's findings as differences per size bin (``checks``: the
    :class:`~roiattn.experiments.FindingCheck` list of
    :func:`~roiattn.experiments.check_findings`), each with its paired image-bootstrap
    interval, coloured by agreement **with the paper** (green agrees, red contradicts, grey not
    shown), not by which method is ahead. One scale for every panel."""
    if not checks:
        raise ValueError("checks is empty: give check_findings(...)")
    figure = plt.figure(figsize=(8, 1.25 * len(checks) + 0.9))
    axes = figure.subplots(len(checks), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    for ax, check in zip(axes, checks, strict=True):
        labels = [f"{g.label}\nn={g.count}" for g in check.gaps]
        for x, (gap, verdict) in enumerate(zip(check.gaps, check.verdicts, strict=True)):
            if math.isnan(gap.difference):
                continue
            color = AGREEMENT_COLOURS[verdict.agreement]
            ax.plot([x, x], [100 * gap.low, 100 * gap.high], color=color, lw=2)
            ax.plot(x, 100 * gap.difference, "o", color=color)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_ylabel("points", fontsize=8)
        ax.set_title(f"finding {check.finding.name}", fontsize=9, loc="left")
        ax.grid(axis="y", alpha=0.3)
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
    handles = [Line2D([], [], color=c, lw=2, label=k) for k, c in AGREEMENT_COLOURS.items()]
    axes[0].legend(handles=handles, fontsize=7, loc="best", title="with the paper",
                   title_fontsize=7)  # fmt: skip
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


# --- Chapter 5: context matters --------------------------------------------------------------


def plot_method_inputs(
    dataset: Any, indices: Sequence[int], margin: float = 0.1, panel_size: float = 1.9
) -> Figure:
    """What three kinds of method are given of the same regions: one column per region, one row
    per input: the whole image with the mask beside it (``image`` ignores the mask, ``attn-*``
    and ``mask-channel`` take it as a second input), the image with the background set to the
    mean colour (``hard@input``) and the box cut out and resized (``crop``, its ``margin``)."""
    from roiattn.models.baselines import crop_to_mask

    if not len(indices):
        raise ValueError("indices is empty: give at least one item index")
    picked = _pick_items(len(dataset), 1, indices, None)
    items = [dataset[i] for i in picked]
    images = torch.stack([item["image"] for item in items])
    masks = torch.stack([torch.as_tensor(item["mask"], dtype=images.dtype) for item in items])
    rows = {
        "whole image\n(image, attn-*)": images,
        "hard@input": images * (masks > 0).to(images.dtype),
        "crop": crop_to_mask(images, masks, margin),
    }
    figure = plt.figure(figsize=(panel_size * len(items), panel_size * len(rows) + 0.2))
    axes = figure.subplots(len(rows), len(items), squeeze=False)
    for row, (name, pixels) in enumerate(rows.items()):
        for column, item in enumerate(items):
            ax = axes[row, column]
            _image(ax, denormalize(pixels[column]))
            if row == 0:
                _outline(ax, _as_plane(item["mask"]), "red", width=2.0)
                ax.set_title(_class_name(dataset, item), fontsize=9)
            ax.set(xticks=[], yticks=[])
            if column == 0:
                ax.set_ylabel(name, fontsize=8)
    figure.tight_layout()
    return figure


# --- Chapter 7: explore ---------------------------------------------------------------------


def plot_region_attention(
    image: torch.Tensor,
    mask: Any,
    maps: Mapping[str, Any],
    title: str | None = None,
    maps_title: str | None = None,
    panel_size: float = 1.7,
) -> Figure:
    """One region as a model sees it: the input (normalised ``(3, H, W)``) with the mask
    outlined, the mask itself, then one panel per attention map in ``maps`` (``{point: (h, w)}``,
    e.g. :func:`roiattn.widgets.attention_effects`), all on ONE colour scale (shown by the
    colour bar; each panel's maximum in its title), so that a brighter panel is a stronger map,
    each shown at the input's extent so that it lines up with the region."""
    plane = _as_plane(mask)
    pixels = denormalize(image)
    if pixels.shape[:2] != plane.shape:
        raise ValueError(f"mask {plane.shape} and image {pixels.shape[:2]} differ in size")
    columns = 2 + len(maps)
    figure = plt.figure(figsize=(panel_size * columns + 0.6, panel_size + 0.55))
    axes = figure.subplots(1, columns, squeeze=False)[0]
    _image(axes[0], pixels)
    _outline(axes[0], plane, "white")
    axes[0].set_title(title or "input", fontsize=8)
    _image(axes[1], plane, cmap="gray", vmin=0, vmax=1)
    axes[1].set_title(f"mask: {int((plane > 0.5).sum())} px", fontsize=8)
    planes = {point: _as_plane(value) for point, value in maps.items()}
    top = max((float(v.max()) for v in planes.values()), default=0.0) or 1.0
    shown = None
    for ax, (point, value) in zip(axes[2:], planes.items(), strict=True):
        shown = _image(ax, value, plane.shape, cmap="magma", vmin=0, vmax=top)
        ax.set_title(
            f"{point} {value.shape[0]}×{value.shape[1]}\nmax {value.max():.2g}", fontsize=8
        )
    for ax in axes:
        ax.set(xticks=[], yticks=[])
    if maps_title and maps:
        figure.text(
            (2 + len(maps) / 2) / columns, 0.01, maps_title, ha="center", va="bottom", fontsize=8
        )
    figure.tight_layout(rect=(0, 0.06 if maps_title and maps else 0, 1, 1))
    if shown is not None:
        figure.colorbar(shown, ax=list(axes[2:]), fraction=0.02, pad=0.01)
    return figure


def plot_top_predictions(
    predictions: Mapping[str, Sequence[tuple[str, float]]],
    true_class: str | None = None,
    columns: int = 5,
    panel_size: tuple[float, float] = (2.1, 1.35),
) -> Figure:
    """Every method's top classes for one region as a grid of small bar charts (one panel per
    method, most probable on top); the true class in green, the others in the method's family
    colour, and the panel's title marked ✓ or ✗ by whether the top-1 answer is right."""
    if not predictions:
        raise ValueError("predictions is empty: give {method: [(class, probability), ...]}")
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a positive int, got {columns!r}")
    methods = list(predictions)
    columns = min(columns, len(methods))
    rows = math.ceil(len(methods) / columns)
    figure = plt.figure(figsize=(panel_size[0] * columns, panel_size[1] * rows + 0.3))
    axes = figure.subplots(rows, columns, squeeze=False, sharex=True)
    for ax in axes.flat[len(methods) :]:
        ax.set_axis_off()
    for ax, method in zip(axes.flat, methods, strict=False):
        top = list(predictions[method])
        names = [name for name, _ in top]
        values = [float(p) for _, p in top]
        colors = ["tab:green" if n == true_class else _method_color(method) for n in names]
        y = np.arange(len(top))
        ax.barh(y, values, color=colors, height=0.7)
        for i, value in enumerate(values):
            ax.text(min(value, 0.72) + 0.02, i, f"{value:.0%}", va="center", fontsize=7)
        ax.set_yticks(y, names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.tick_params(axis="x", labelsize=6)
        mark = "" if true_class is None else (" ✓" if names and names[0] == true_class else " ✗")
        ax.set_title(f"{method}{mark}", fontsize=8)
    if true_class is not None:
        figure.suptitle(f"top predictions for one region (true class: {true_class})", fontsize=9)
    figure.tight_layout()
    return figure


def plot_bin_accuracy(
    values: Mapping[str, float],
    count: int,
    title: str | None = None,
    interval: bool = True,
    size: tuple[float, float] = (6.0, 0.0),
) -> Figure:
    """Every method's accuracy in one size bin (``values[method]``, NaN when empty) as horizontal
    bars coloured by family, with a 95% Wilson interval for ``count`` instances when
    ``interval`` (meaningful for accuracy over instances, not for a mean over classes)."""
    if not values:
        raise ValueError("values is empty: give {method: accuracy}")
    methods = list(values)
    height = size[1] or 0.28 * len(methods) + 0.9
    figure = plt.figure(figsize=(size[0], height))
    ax = figure.subplots()
    y = np.arange(len(methods))
    for i, method in enumerate(methods):
        value = float(values[method])
        if math.isnan(value):
            continue
        ax.barh(i, value, color=_method_color(method), height=0.75)
        right = value
        if interval:
            lo, right = _wilson(value * count, count)
            ax.plot([lo, right], [i, i], color="black", lw=1)
        ax.text(right + 0.015, i, f"{value:.0%}", va="center", fontsize=7)
    ax.set_yticks(y, methods, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.grid(axis="x", alpha=0.3)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title(f"{title or 'accuracy'} (n={count})", fontsize=9)
    figure.tight_layout()
    return figure
