"""A comparison's results: one :class:`Run` per method and seed, and the :class:`Comparison`
table built from them, with its baselines, saved with its provenance as JSON.

Accuracies in the table are means over a method's seeds; :meth:`Comparison.spread` gives their
range. Beside the methods the table prints two baselines: the training set's majority class
answered for every region, and a uniform guess (chance). A cell that does not beat the better of
the two is marked.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from roiattn.evaluate.report import Report
from roiattn.evaluate.statistics import Gap, chance_accuracy, majority_report, paired_gaps
from roiattn.train.history import History

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMAT = "roiattn.comparison"
RUN_FORMAT = "roiattn.run"
OVERALL, MEAN_CLASS = "overall", "mean class"
METRIC_NAMES = {"mean_class": "mean class accuracy", "accuracy": "top-1 accuracy"}
MASK_WORDS = {1: " ✓", 0: "", -1: " ✗"}  # a method shown to gain, or lose, from the mask
NOT_ABOVE = "°"  # marks a cell not above the better baseline of its column


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically, so a killed run never leaves half a result that would later be loaded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(data, file, indent=1, allow_nan=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass
class Run:
    """One method trained with one seed: its evaluation report, history, times, provenance."""

    method: str
    seed: int
    key: str
    report: Report
    history: History
    seconds: dict[str, float]
    provenance: dict[str, Any]
    cached: bool = False
    model_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": RUN_FORMAT,
            "method": self.method,
            "seed": self.seed,
            "key": self.key,
            "report": self.report.to_dict(),
            "history": self.history.to_dict(),
            "seconds": self.seconds,
            "provenance": self.provenance,
            "model_file": self.model_file,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], cached: bool = False) -> Run:
        if data.get("kind") != RUN_FORMAT:
            raise ValueError(f"not a roiattn run (its 'kind' is not {RUN_FORMAT!r})")
        return cls(
            method=data["method"],
            seed=int(data["seed"]),
            key=data["key"],
            report=Report.from_dict(data["report"]),
            history=History.from_dict(data["history"]),
            seconds=dict(data["seconds"]),
            provenance=dict(data["provenance"]),
            cached=cached,
            model_file=data.get("model_file"),
        )


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


@dataclass
class Comparison:
    """Methods x size bins, overall and mean-class accuracy, with the runs behind them."""

    runs: dict[str, list[Run]]  # method -> one run per seed, in seed order
    provenance: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    # -- what it holds --------------------------------------------------------------------------
    @property
    def methods(self) -> list[str]:
        return list(self.runs)

    @property
    def scheme(self) -> str:
        """The size binning of the table's columns (the paper's, or the dataset's own)."""
        return self._first.report.primary

    @property
    def _first(self) -> Run:
        return next(iter(self.runs.values()))[0]

    def _runs(self, method: str) -> list[Run]:
        if method not in self.runs:
            raise ValueError(f"no method {method!r} in this comparison: {self.methods}")
        return self.runs[method]

    def seeds(self, method: str) -> list[int]:
        return [run.seed for run in self._runs(method)]

    def report(self, method: str, seed: int | None = None) -> Report:
        """The report of ``method``'s run with ``seed`` (default: its first seed)."""
        for run in self._runs(method):
            if seed is None or run.seed == seed:
                return run.report
        raise ValueError(f"{method} was not trained with seed {seed}: {self.seeds(method)}")

    def reports(self, method: str, seeds: list[int] | None = None) -> list[Report]:
        """``method``'s reports, one per seed (those of ``seeds`` only, when given)."""
        return [r.report for r in self._runs(method) if seeds is None or r.seed in seeds]

    def history(self, method: str, seed: int | None = None) -> History:
        for run in self._runs(method):
            if seed is None or run.seed == seed:
                return run.history
        raise ValueError(f"{method} was not trained with seed {seed}: {self.seeds(method)}")

    def columns(self, scheme: str | None = None) -> list[str]:
        """The size-bin labels, then ``overall`` and ``mean class``."""
        rows = self._first.report.by_size(scheme or self.scheme)
        return [row.label for row in rows] + [OVERALL, MEAN_CLASS]

    def counts(self, scheme: str | None = None) -> dict[str, int]:
        """Test instances per column (the same for every method)."""
        report = self._first.report
        counts = {row.label: row.count for row in report.by_size(scheme or self.scheme)}
        return {**counts, OVERALL: report.count, MEAN_CLASS: report.count}

    # -- cells --------------------------------------------------------------------------------
    @staticmethod
    def cell(report: Report, column: str, metric: str, scheme: str) -> float:
        """One report's value in one column: ``metric`` (``mean_class`` or ``accuracy``) within
        a size bin; ``overall`` is top-1 and ``mean class`` mean-class accuracy over all."""
        if metric not in METRIC_NAMES:
            raise ValueError(f"metric must be one of {list(METRIC_NAMES)}, got {metric!r}")
        if column == OVERALL:
            return report.accuracy
        if column == MEAN_CLASS:
            return report.mean_class_accuracy
        for row in report.by_size(scheme):
            if row.label == column:
                return row.accuracy if metric == "accuracy" else row.mean_class_accuracy
        valid = [row.label for row in report.by_size(scheme)] + [OVERALL, MEAN_CLASS]
        raise ValueError(f"no column {column!r}: choose one of {valid}")

    def accuracy(
        self, method: str, column: str = MEAN_CLASS, metric: str = "mean_class",
        scheme: str | None = None,
    ) -> float:  # fmt: skip
        """The mean over ``method``'s seeds of one cell (NaN for an empty bin)."""
        values = [self.cell(r, column, metric, scheme or self.scheme) for r in self.reports(method)]
        return float(np.mean(values))

    def spread(
        self, method: str, column: str = MEAN_CLASS, metric: str = "mean_class",
        scheme: str | None = None,
    ) -> tuple[float, float]:  # fmt: skip
        """The lowest and highest value of one cell over ``method``'s seeds."""
        values = [self.cell(r, column, metric, scheme or self.scheme) for r in self.reports(method)]
        return float(np.min(values)), float(np.max(values))

    # -- baselines ----------------------------------------------------------------------------
    def majority(self) -> Report:
        """The majority-class baseline on the test regions (the training set's most frequent
        class, from the comparison's provenance)."""
        counts = self.provenance.get("train_counts")
        if counts is None:
            raise ValueError("this comparison does not record its training label counts")
        return majority_report(self._first.report, counts)

    def baselines(self, metric: str = "mean_class", scheme: str | None = None) -> dict[str, dict]:
        """``{name: {column: value}}`` for the majority class and chance."""
        scheme = scheme or self.scheme
        majority = self.majority()
        chance = chance_accuracy(len(majority.classes))
        return {
            majority.method: {
                c: _finite(self.cell(majority, c, metric, scheme)) for c in self.columns(scheme)
            },
            f"chance (1/{len(majority.classes)})": {c: chance for c in self.columns(scheme)},
        }

    # -- tables and figures -------------------------------------------------------------------
    def table(self, metric: str = "mean_class", scheme: str | None = None) -> dict[str, dict]:
        """``{method: {column: mean over seeds, or None for an empty bin}}``."""
        return {
            method: {
                column: _finite(self.accuracy(method, column, metric, scheme))
                for column in self.columns(scheme)
            }
            for method in self.methods
        }

    def to_markdown(self, metric: str = "mean_class", scheme: str | None = None) -> str:
        """The table in Markdown, in percent: the methods (with the range over seeds where
        there are several), the baselines, and a last row of instance counts. A method's cell
        not above the better baseline of its column is marked ``°``. When ``image`` (the mask
        ignored) is compared too, a last column says whether each method uses the mask: its
        difference from ``image`` over all regions, with the paired image-bootstrap interval."""
        scheme = scheme or self.scheme
        columns = self.columns(scheme)
        baselines = self.baselines(metric, scheme)
        best = {
            c: max((v[c] for v in baselines.values() if v[c] is not None), default=None)
            for c in columns
        }
        mask_used = self.mask_used(metric, scheme)
        extra = " minus image |" if mask_used else ""
        lines = [
            f"| method | seeds | {' | '.join(columns)} |{extra}",
            "| --- | ---: |" + " ---: |" * len(columns) + (" ---: |" if mask_used else ""),
        ]
        for method, cells in self.table(metric, scheme).items():
            seeds = self.seeds(method)
            values = []
            for column, value in cells.items():
                if value is None:
                    values.append("–")
                    continue
                text = f"{value:.1%}"
                if len(seeds) > 1:
                    low, high = self.spread(method, column, metric, scheme)
                    text += f" ({100 * low:.0f}–{100 * high:.0f})"
                if best[column] is not None and value <= best[column]:
                    text += NOT_ABOVE
                values.append(text)
            if mask_used:
                gap = mask_used.get(method)
                shared = [s for s in seeds if s in self.seeds("image")]
                on = "" if shared == list(seeds) else f" (seed {', '.join(map(str, shared))})"
                values.append("–" if gap is None else f"{gap}{MASK_WORDS[gap.sign]}{on}")
            lines.append(f"| {method} | {len(seeds)} | {' | '.join(values)} |")
        blank = " |" if mask_used else ""
        for name, cells in baselines.items():
            values = ["–" if v is None else f"{v:.1%}" for v in cells.values()]
            lines.append(f"| *{name}* | | {' | '.join(values)} |{blank}")
        counts = self.counts(scheme)
        lines.append(f"| *regions* | | {' | '.join(str(counts[c]) for c in columns)} |{blank}")
        what = METRIC_NAMES[metric]
        lines += [
            "",
            f"Size bins: {what} within the bin; *overall*: top-1 over all regions; *mean "
            f"class*: mean-class accuracy over all regions. With several seeds, the mean and "
            f"(in brackets) the range. {NOT_ABOVE}: not above the better baseline."
            + (
                " *minus image*: the method minus `image` (the mask ignored) over all regions, "
                "in points, with its 95% interval over images, on the seeds both were trained "
                "with (named when the method has more, so the column may differ from the means): "
                "✓ the mask helps, ✗ it hurts, no mark: no effect shown."
                if mask_used
                else ""
            ),
        ]
        return "\n".join(lines)

    def mask_used(self, metric: str = "mean_class", scheme: str | None = None) -> dict[str, Gap]:
        """Each method minus ``image`` (the mask ignored) over all regions, on the seeds both
        share, with its paired image-bootstrap interval: whether the method uses the mask at
        all. Empty when ``image`` is not in the comparison."""
        if "image" not in self.methods:
            return {}
        others = [m for m in self.methods if m != "image"]
        return {m: self.gaps(m, "image", scheme, metric=metric)[-1] for m in others}

    def gaps(self, a: str, b: str, scheme: str | None = None, **options: Any) -> list[Gap]:
        """:func:`~roiattn.evaluate.paired_gaps` of ``a`` minus ``b`` over the seeds both were
        trained with, per size bin of ``scheme`` and overall."""
        common = [s for s in self.seeds(a) if s in self.seeds(b)]
        return paired_gaps(self.reports(a, common), self.reports(b, common),
                           scheme or self.scheme, **options)  # fmt: skip

    def plot(self, metric: str = "mean_class", scheme: str | None = None) -> Figure:
        """:func:`roiattn.plots.plot_accuracy_by_size` of this comparison."""
        from roiattn.plots import plot_accuracy_by_size

        return plot_accuracy_by_size(self, scheme, metric)

    # -- files --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"Comparison({self.methods}, {self.scheme} bins)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": FORMAT,
            "version": 2,
            "methods": self.methods,
            "scheme": self.scheme,
            "columns": self.columns(),
            "counts": self.counts(),
            "table_mean_class": self.table("mean_class"),
            "table_accuracy": self.table("accuracy"),
            "provenance": self.provenance,
            "runs": {m: [run.to_dict() for run in runs] for m, runs in self.runs.items()},
        }

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        write_json(path, self.to_dict())
        self.path = path
        return path

    def load_model(self, method: str, seed: int | None = None) -> torch.nn.Module:
        """The trained model of ``method`` (when its runs were saved with their models)."""
        from roiattn.predict import load_model

        run = next((r for r in self._runs(method) if seed is None or r.seed == seed), None)
        if run is None or run.model_file is None or self.path is None:
            raise ValueError(
                f"no saved model for {method!r}: run the comparison with save_models=True"
            )
        return load_model(self.path.parent / run.model_file)


def load_results(path: str | os.PathLike) -> Comparison:
    """A comparison saved by :func:`~roiattn.experiments.compare`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results at {path}: run the comparison first to make them")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}): run the comparison again") from error
    if not isinstance(data, dict) or data.get("kind") != FORMAT or data.get("version") != 2:
        raise ValueError(
            f"{path} is not a roiattn comparison of this version (kind {FORMAT!r}, version 2): "
            "run the comparison again"
        )
    runs = {m: [Run.from_dict(r, cached=True) for r in rs] for m, rs in data["runs"].items()}
    return Comparison(runs, data.get("provenance", {}), path)
