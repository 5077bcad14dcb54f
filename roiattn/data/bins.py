"""Size bins of region areas: the paper's claim is about small regions, so every number is also
given per size bin.

Two binnings are built in: the paper's (the author's ``EvaluateAccuracy.py``: areas below 1000,
2000, 4000, ..., 256000, 500000 native pixels, and a last bin of 500000 and up; the doubling
stops at 500000, not 512000) and COCO's small / medium / large (32² and 96² px). A dataset whose
images are small (``ContextShapes``) brings its own as its ``size_bins``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PAPER_EDGES: tuple[float, ...] = (
    1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 500000,
)  # fmt: skip
COCO_EDGES: tuple[float, ...] = (32**2, 96**2)


def _short(area: float) -> str:
    if area >= 1000 and area % 1000 == 0:
        return f"{int(area // 1000)}k"
    return f"{area:g}"


@dataclass(frozen=True)
class SizeBins:
    """Area bins given by ascending upper edges: bin 0 is ``area < edges[0]``, bin i is
    ``edges[i-1] <= area < edges[i]``, and the last bin, ``area >= edges[-1]``, is open."""

    name: str
    edges: tuple[float, ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        edges = self.edges
        if not edges or any(not math.isfinite(e) or e <= 0 for e in edges):
            raise ValueError(f"size bin edges must be positive finite numbers, got {edges!r}")
        if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise ValueError(f"size bin edges must be strictly ascending, got {edges!r}")
        if len(self.labels) != len(edges) + 1:
            raise ValueError(f"{len(edges)} edges make {len(edges) + 1} bins, not {self.labels}")

    @classmethod
    def from_edges(
        cls, name: str, edges: Sequence[float], labels: Sequence[str] | None = None
    ) -> SizeBins:
        """Bins from upper edges, labelled ``<1k``, ``1k-2k``, ..., ``>=500k`` unless
        ``labels`` names them."""
        try:
            edges = tuple(float(e) for e in edges)
        except (TypeError, ValueError):
            raise ValueError(
                f"size bins must be a sequence of upper edges (numbers), got {edges!r}"
            ) from None
        if not edges:
            raise ValueError("size bins need at least one edge")
        if labels is None:
            labels = [f"<{_short(edges[0])}"]
            labels += [f"{_short(a)}-{_short(b)}" for a, b in zip(edges, edges[1:], strict=False)]
            labels.append(f">={_short(edges[-1])}")
        return cls(name, edges, tuple(str(label) for label in labels))

    def assign(self, areas: np.ndarray | Sequence[float]) -> np.ndarray:
        """The bin index of each area."""
        return np.searchsorted(np.asarray(self.edges), np.asarray(areas, float), side="right")

    def bounds(self, index: int) -> tuple[float, float | None]:
        """``(low, high)`` of a bin; ``high`` is None for the open last bin."""
        low = 0.0 if index == 0 else self.edges[index - 1]
        return low, (self.edges[index] if index < len(self.edges) else None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "edges": list(self.edges), "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SizeBins:
        return cls(data["name"], tuple(data["edges"]), tuple(data["labels"]))


PAPER_BINS = SizeBins.from_edges("paper", PAPER_EDGES)
COCO_BINS = SizeBins("coco", COCO_EDGES, ("small", "medium", "large"))


def size_bins(spec: str | Sequence[float] | SizeBins | None) -> SizeBins:
    """Bins from ``"paper"`` (also for None), ``"coco"``, a :class:`SizeBins`, or a sequence of
    upper edges."""
    if spec is None or spec == "paper":
        return PAPER_BINS
    if spec == "coco":
        return COCO_BINS
    if isinstance(spec, SizeBins):
        return spec
    if isinstance(spec, str):
        raise ValueError(
            f"unknown size bins {spec!r}: use 'paper', 'coco' or a list of upper edges in pixels"
        )
    return SizeBins.from_edges("custom", spec)
