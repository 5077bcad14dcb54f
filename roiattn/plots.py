"""Figures the notebooks show: scenes with their regions, and (later) results.

Every function returns the matplotlib ``Figure`` so a notebook can show it (``plt.show()``) or
save it; none of them calls ``plt.show()`` itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from roiattn.data.images import denormalize
from roiattn.masks import resize_mask


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
    figure = Figure(figsize=(panel_size * columns, panel_size * rows + (0.4 if title else 0)))
    axes = figure.subplots(rows, columns, squeeze=False)
    classes = getattr(dataset, "classes", None)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, index in zip(axes.flat, picked, strict=False):
        item = dataset[index]
        image = item["image"]
        pixels = denormalize(image) if isinstance(image, torch.Tensor) else np.asarray(image)
        mask = np.asarray(item["mask"], dtype=np.float32).reshape(pixels.shape[:2])
        height, width = mask.shape
        ax.imshow(pixels, extent=(0, width, height, 0), interpolation="nearest")
        # outline at pixel edges: contour the mask upsampled so single pixels get a square
        grid = np.kron(mask > 0.5, np.ones((4, 4), dtype=np.float32))
        ys = (np.arange(grid.shape[0]) + 0.5) / 4
        xs = (np.arange(grid.shape[1]) + 0.5) / 4
        ax.contour(xs, ys, grid, levels=[0.5], colors="black", linewidths=2.4)
        ax.contour(xs, ys, grid, levels=[0.5], colors=outline, linewidths=1.2)
        label = int(item["label"])
        name = classes[label] if classes is not None else str(label)
        ax.set_title(f"{name} ({int(item['area'])} px)", fontsize=9)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


# --- Chapters 1-3: masks at every scale, the attention branch, starting as a no-op -------------
# These figures are made through pyplot, so a notebook cell that ends in plt.show() shows them
# (and closes them); a script can call figure.savefig(...) and plt.close(figure).

COCO_SIZE_GROUPS: tuple[tuple[str, float, float], ...] = (
    ("small", 0.0, 32.0**2),
    ("medium", 32.0**2, 96.0**2),
    ("large", 96.0**2, math.inf),
)


def _as_plane(array: Any) -> np.ndarray:
    """A 2-D float array from a ``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)`` mask or map."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().float().numpy()
    array = np.asarray(array, dtype=np.float32)
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"expected one mask or map shaped (H, W), got shape {array.shape}")
    return array


def _outline(ax: Any, mask: np.ndarray, color: str = "white", width: float = 1.2) -> None:
    """Draw the region's outline at pixel edges, a dark line under ``color``."""
    height, width_px = mask.shape
    grid = np.kron(mask > 0.5, np.ones((4, 4), dtype=np.float32))
    if grid.min() == grid.max():
        return
    ys = (np.arange(grid.shape[0]) + 0.5) / 4
    xs = (np.arange(grid.shape[1]) + 0.5) / 4
    ax.contour(xs, ys, grid, levels=[0.5], colors="black", linewidths=width * 2)
    ax.contour(xs, ys, grid, levels=[0.5], colors=color, linewidths=width)
    ax.set_xlim(0, width_px)
    ax.set_ylim(height, 0)


def _size_pair(size: Any) -> tuple[int, int]:
    if isinstance(size, int | np.integer):
        return int(size), int(size)
    size = tuple(int(s) for s in size)
    if len(size) != 2:
        raise ValueError(f"a size must be an int or (h, w), got {size!r}")
    return size


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
    extent = (0, width, height, 0)
    columns = len(sizes) + 1
    figure = plt.figure(figsize=(panel_size * columns, panel_size * len(modes) + 0.3))
    axes = figure.subplots(len(modes), columns, squeeze=False)
    source = torch.from_numpy(plane)
    for row, mode in enumerate(modes):
        ax = axes[row, 0]
        if image is not None and row == 0:
            ax.imshow(denormalize(image), extent=extent, interpolation="nearest")
            _outline(ax, plane, "white")
            ax.set_title(f"input {height}×{width}", fontsize=9)
        else:
            ax.imshow(plane, extent=extent, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            _outline(ax, plane, "tab:orange", width=0.8)
            if row == 0:
                ax.set_title(f"mask {height}×{width}", fontsize=9)
        ax.set_ylabel(mode, fontsize=10)
        for column, (name, size) in enumerate(sizes.items(), start=1):
            h, w = _size_pair(size)
            small = resize_mask(source, (h, w), mode)[0, 0].numpy()
            ax = axes[row, column]
            ax.imshow(small, extent=extent, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            _outline(ax, plane, "tab:orange", width=0.8)
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
                ax.set_title(f"{name} {h}×{w}", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
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

    def arrow(start: tuple[float, float], end: tuple[float, float], color: str = "black") -> None:
        ax.add_patch(
            FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, color=color, lw=1)
        )

    for index, name in enumerate(boxes):
        if name == "head":
            text, face = "avgpool\nfc → logits", "whitesmoke"
        else:
            c, h, w = (int(v) for v in shapes[name])
            extra = "\n(before bn1)" if name == "conv1" else ""
            text, face = f"{name}{extra}\n{c}×{h}×{w}", "whitesmoke"
            if name == "input":
                face = "lightyellow"
        ax.add_patch(
            FancyBboxPatch(
                (index - 0.42, -0.32),
                0.84,
                0.64,
                boxstyle="round,pad=0.02",
                facecolor=face,
                edgecolor="gray",
            )
        )
        ax.text(index, 0, text, ha="center", va="center", fontsize=7.5)
        if index + 1 < len(boxes):
            arrow((index + 0.43, 0), (index + 0.57, 0))
    symbol = "+" if op == "add" else "×"
    for index, name in enumerate(names):
        if name == "input":
            continue
        active = name in merge_at
        color = "tab:red" if active else "lightgray"
        ax.text(index + 0.5, -0.62, symbol, ha="center", va="center", fontsize=13, color=color)
        if active:
            ax.add_patch(
                FancyBboxPatch(
                    (index + 0.08, -1.75),
                    0.84,
                    0.6,
                    boxstyle="round,pad=0.02",
                    facecolor="mistyrose",
                    edgecolor="tab:red",
                )
            )
            c, h, w = (int(v) for v in shapes[name])
            ax.text(
                index + 0.5,
                -1.45,
                f"mask → {h}×{w}\n3×3 conv, {c}",
                ha="center",
                va="center",
                fontsize=7,
            )
            arrow((index + 0.5, -1.13), (index + 0.5, -0.75), color="tab:red")
            arrow((index + 0.5, -0.5), (index + 0.5, -0.05), color="tab:red")
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
    the row's label) or per panel (``scale="panel"``, in each title). With ``mask`` given, a
    first column shows the mask resized (``mode``) to that row's size: what the branch's conv
    sees.
    """
    if scale not in ("row", "panel"):
        raise ValueError(f"scale must be 'row' or 'panel', got {scale!r}")
    if not rows:
        raise ValueError("rows is empty: give {label: map (C, h, w)}")
    if not channels:
        raise ValueError("channels is empty: give at least one channel index")
    lead = 1 if mask is not None else 0
    columns = lead + len(channels)
    figure = plt.figure(figsize=(panel_size * columns, panel_size * len(rows) + 0.2))
    axes = figure.subplots(len(rows), columns, squeeze=False)
    for row, (label, value) in enumerate(rows.items()):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().float().numpy()
        value = np.asarray(value, dtype=np.float32)
        if value.ndim == 4 and value.shape[0] == 1:
            value = value[0]
        if value.ndim != 3:
            raise ValueError(f"rows[{label!r}] must be shaped (C, h, w), got {value.shape}")
        bad = [c for c in channels if not -value.shape[0] <= c < value.shape[0]]
        if bad:
            raise ValueError(f"channels {bad} out of range for rows[{label!r}] ({value.shape[0]})")
        shown = value[list(channels)]
        row_range = float(np.abs(shown).max()) or 1.0
        if mask is not None:
            small = resize_mask(torch.as_tensor(_as_plane(mask)), value.shape[-2:], mode)
            ax = axes[row, 0]
            ax.imshow(small[0, 0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"mask {value.shape[1]}×{value.shape[2]}", fontsize=8)
        for column, (channel, plane) in enumerate(zip(channels, shown, strict=True), start=lead):
            ax = axes[row, column]
            limit = row_range if scale == "row" else float(np.abs(plane).max()) or 1.0
            ax.imshow(plane, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
            extra = f" ±{limit:.2g}" if scale == "panel" else ""
            ax.set_title(f"channel {channel}{extra}", fontsize=8)
        axes[row, 0].set_ylabel(
            label if scale == "panel" else f"{label}\n±{row_range:.2g}", fontsize=8
        )
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    return figure


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
    axes[0].set_xlabel("step")
    axes[0].set_ylabel(ylabel)
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    if losses:
        for name, values in losses.items():
            axes[1].plot(np.arange(1, len(values) + 1), values, label=name, alpha=0.8)
        axes[1].set_xlabel("step")
        axes[1].set_ylabel("training loss")
        axes[1].legend(fontsize=8)
        axes[1].grid(alpha=0.3)
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
    ax.imshow(pixels, interpolation="nearest")
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
