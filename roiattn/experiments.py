"""The experiment behind the book's claims: train every method on the same data, with the same
budget and seed, evaluate each per segment size, and keep the numbers with how they were made.

``compare`` saves each method's run as JSON under ``results_dir/runs/`` named by a hash of the
method, its settings and the data, so a run already made is loaded, not retrained (and a run
killed mid-way resumes from its checkpoint). The whole table goes to ``results_dir/<name>.json``,
which :func:`load_results` reads back, e.g. in the book.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torchvision
from torch.utils.data import Dataset, Sampler
from tqdm.auto import tqdm

from roiattn import profiles
from roiattn.checkpoints import save_checkpoint
from roiattn.evaluate import Report, SizeBins, evaluate, schemes_for
from roiattn.models import build_model
from roiattn.runtime import (
    choose_precision,
    dataset_attribute,
    dataset_classes,
    dataset_image_size,
    describe_data,
    describe_device,
    resolve_device,
)
from roiattn.train import History, fit

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMAT = "roiattn.comparison"
RUN_FORMAT = "roiattn.run"
TRAINING_FIELDS: tuple[str, ...] = (
    "arch",
    "weights",
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "optimizer",
    "schedule",
    "max_steps",
    "grad_clip",
    "amp",
    "channels_last",
)
OVERALL, MEAN_CLASS = "overall", "mean class"


def package_version() -> str:
    from roiattn import __version__

    return __version__


def git_commit() -> str | None:
    """The commit of the roiattn source tree (``-dirty`` with uncommitted changes), or None
    when it is not a git checkout (an installed package, Colab)."""
    folder = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = "-dirty" if status.returncode == 0 and status.stdout.strip() else ""
    return commit.stdout.strip() + dirty


def _slug(method: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", method)


def _write_json(path: Path, data: dict[str, Any]) -> None:
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
    """One method's result: its evaluation report, training history, times and provenance."""

    method: str
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
            key=data["key"],
            report=Report.from_dict(data["report"]),
            history=History.from_dict(data["history"]),
            seconds=dict(data["seconds"]),
            provenance=dict(data["provenance"]),
            cached=cached,
            model_file=data.get("model_file"),
        )


@dataclass
class Comparison:
    """Methods x size bins, plus overall and mean-class accuracy, with the runs behind it."""

    runs: dict[str, Run]
    provenance: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def methods(self) -> list[str]:
        return list(self.runs)

    @property
    def scheme(self) -> str:
        """The size binning of the table's columns (the paper's, or the dataset's own)."""
        return next(iter(self.runs.values())).report.primary

    def report(self, method: str) -> Report:
        return self._run(method).report

    def history(self, method: str) -> History:
        return self._run(method).history

    def _run(self, method: str) -> Run:
        if method not in self.runs:
            raise ValueError(f"no method {method!r} in this comparison: {self.methods}")
        return self.runs[method]

    def columns(self, scheme: str | None = None) -> list[str]:
        """The size-bin labels, then ``overall`` and ``mean class``."""
        rows = next(iter(self.runs.values())).report.by_size(scheme or self.scheme)
        return [row.label for row in rows] + [OVERALL, MEAN_CLASS]

    def counts(self, scheme: str | None = None) -> dict[str, int]:
        """Test instances per column (the same for every method)."""
        report = next(iter(self.runs.values())).report
        counts = {row.label: row.count for row in report.by_size(scheme or self.scheme)}
        return {**counts, OVERALL: report.count, MEAN_CLASS: report.count}

    def accuracy(
        self,
        method: str,
        column: str = OVERALL,
        metric: str = "accuracy",
        scheme: str | None = None,
    ) -> float:
        """One cell: ``metric`` is ``accuracy`` (over instances) or ``mean_class`` (over
        classes) within a size bin; ``overall`` and ``mean class`` ignore it. NaN when the bin
        is empty."""
        if metric not in ("accuracy", "mean_class"):
            raise ValueError(f"metric must be 'accuracy' or 'mean_class', got {metric!r}")
        report = self.report(method)
        if column == OVERALL:
            return report.accuracy
        if column == MEAN_CLASS:
            return report.mean_class_accuracy
        for row in report.by_size(scheme or self.scheme):
            if row.label == column:
                return row.accuracy if metric == "accuracy" else row.mean_class_accuracy
        raise ValueError(f"no column {column!r}: choose one of {self.columns(scheme)}")

    def table(self, metric: str = "accuracy", scheme: str | None = None) -> dict[str, dict]:
        """``{method: {column: accuracy or None}}`` (None for an empty bin)."""
        return {
            method: {
                column: _finite(self.accuracy(method, column, metric, scheme))
                for column in self.columns(scheme)
            }
            for method in self.methods
        }

    def to_markdown(self, metric: str = "accuracy", scheme: str | None = None) -> str:
        """The table in Markdown, accuracies in percent, a last row of instance counts."""
        columns = self.columns(scheme)
        lines = [
            f"| method | {' | '.join(columns)} |",
            "| --- |" + " ---: |" * len(columns),
        ]
        for method, cells in self.table(metric, scheme).items():
            values = ["–" if v is None else f"{v:.1%}" for v in cells.values()]
            lines.append(f"| {method} | {' | '.join(values)} |")
        counts = self.counts(scheme)
        lines.append(f"| *instances* | {' | '.join(str(counts[c]) for c in columns)} |")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Comparison({self.methods}, {self.scheme} bins, path={self.path})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": FORMAT,
            "version": 1,
            "methods": self.methods,
            "scheme": self.scheme,
            "columns": self.columns(),
            "counts": self.counts(),
            "table": self.table("accuracy"),
            "table_mean_class": self.table("mean_class"),
            "provenance": self.provenance,
            "runs": {method: run.to_dict() for method, run in self.runs.items()},
        }

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        _write_json(path, self.to_dict())
        self.path = path
        return path

    def load_model(self, method: str) -> torch.nn.Module:
        """The trained model of ``method`` (when ``compare`` ran with ``save_models=True``)."""
        from roiattn.predict import load_model

        run = self._run(method)
        if run.model_file is None or self.path is None:
            raise ValueError(
                f"no saved model for {method!r}: run compare(..., save_models=True) to keep them"
            )
        return load_model(self.path.parent / run.model_file)

    def plot(self, metric: str = "accuracy", scheme: str | None = None) -> Figure:
        """Accuracy per size bin, one line per method (instance counts under the bins);
        returns the matplotlib figure."""
        import matplotlib.pyplot as plt

        columns = self.columns(scheme)[:-2]
        counts = self.counts(scheme)
        figure, axes = plt.subplots(figsize=(max(7, 0.9 * len(columns) + 3), 4.5))
        x = range(len(columns))
        for method in self.methods:
            values = [self.accuracy(method, c, metric, scheme) for c in columns]
            axes.plot(x, values, "o-", label=f"{method} ({self.report(method).accuracy:.0%})")
        axes.set_xticks(list(x), [f"{c}\nn={counts[c]}" for c in columns], fontsize=8)
        axes.set_ylim(0, 1)
        axes.set_xlabel(f"segment area ({scheme or self.scheme} bins)")
        what = "top-1 accuracy" if metric == "accuracy" else "mean class accuracy"
        axes.set_ylabel(what)
        profile = self.provenance.get("profile", "?")
        axes.set_title(f"{what} by segment size ({profile} profile)")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8, loc="best")
        figure.tight_layout()
        return figure


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def load_results(path: str | os.PathLike) -> Comparison:
    """A comparison saved by :func:`compare` (or :meth:`Comparison.save`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results at {path}: run compare(...) first to make them")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}): run compare again") from error
    if not isinstance(data, dict) or data.get("kind") != FORMAT:
        raise ValueError(f"{path} is not a roiattn comparison (its 'kind' is not {FORMAT!r})")
    runs = {m: Run.from_dict(r, cached=True) for m, r in data["runs"].items()}
    return Comparison(runs, data.get("provenance", {}), path)


def _sampler_name(sampler: Sampler | None) -> str | None:
    if sampler is None:
        return None
    return str(getattr(sampler, "description", type(sampler).__name__))


def compare(
    methods: Sequence[str],
    train_data: Dataset,
    test_data: Dataset,
    profile: profiles.Profile | str | None = None,
    *,
    results_dir: str | os.PathLike | None,
    seed: int | None = None,
    name: str = "comparison",
    bins: str | Sequence[float] | SizeBins | None = None,
    sampler: Sampler | None = None,
    device: str | torch.device = "auto",
    retrain: bool = False,
    save_models: bool = False,
    checkpoint_every: int | None = None,
    progress: bool = True,
    **settings: Any,
) -> Comparison:
    """Train each of ``methods`` on ``train_data`` with the same settings and seed, evaluate it
    on ``test_data``, and return the table (saved to ``results_dir/<name>.json``).

    Settings come from ``profile`` (default: the active one, :func:`roiattn.profiles.current`);
    keyword ``settings`` override its fields (``epochs=3``, ``arch="resnet34"``, ...). Every
    method starts from the same initial backbone (the seed is set before each is built).
    A run already saved under ``results_dir`` with the same method, settings and data is loaded
    instead of retrained, unless ``retrain=True``. ``results_dir=None`` saves nothing.
    """
    methods = list(methods)
    if not methods or len(set(methods)) != len(methods):
        raise ValueError(f"give one or more distinct method ids, got {methods}")
    for method in methods:
        _check_method(method)
    if profile is None:
        profile = profiles.current()
    elif isinstance(profile, str):
        profile = profiles.get(profile)
    profile = profile.replace(**settings) if settings else profile
    seed = profile.seed if seed is None else int(seed)
    device = resolve_device(device)
    precision = choose_precision(device, None if profile.amp else False)
    classes = dataset_classes(train_data)
    test_classes = dataset_classes(test_data)
    if test_classes != classes:
        raise ValueError(
            f"train and test data have other classes ({len(classes)} vs {len(test_classes)}, "
            "or another order): use the same categories for both"
        )
    data = {"train": describe_data(train_data), "test": describe_data(test_data)}
    primary = schemes_for(test_data, bins)[0]
    common = {
        **{f: getattr(profile, f) for f in TRAINING_FIELDS},
        "seed": seed,
        "sampler": _sampler_name(sampler),
        "bins": primary.to_dict(),
        "device": device.type,
        "data": data,
    }
    started = time.time()
    folder = None if results_dir is None else Path(results_dir)
    runs: dict[str, Run] = {}
    for method in tqdm(methods, desc="compare", unit="method", disable=not progress):
        key = hashlib.sha256(
            json.dumps({"method": method, **common}, sort_keys=True).encode()
        ).hexdigest()[:16]
        stem = f"{_slug(method)}-{key}"
        run_file = None if folder is None else folder / "runs" / f"{stem}.json"
        model_file = f"runs/{stem}.pt" if save_models else None
        if run_file is not None and run_file.exists() and not retrain:
            run = Run.from_dict(json.loads(run_file.read_text()), cached=True)
            if not save_models or (run.model_file and (folder / run.model_file).exists()):
                runs[method] = run
                if progress:
                    tqdm.write(f"{method}: loaded from {run_file}")
                continue
        run = _train_and_evaluate(
            method,
            key,
            train_data,
            test_data,
            profile,
            seed,
            primary,
            sampler,
            device,
            checkpoint_dir=None if folder is None else folder / "runs" / f"{stem}.ckpt",
            checkpoint_every=checkpoint_every,
            progress=progress,
            model_path=None if model_file is None else folder / model_file,
        )
        run.model_file = model_file
        run.provenance.update(data=data, precision=str(precision))
        if run_file is not None:
            _write_json(run_file, run.to_dict())
            shutil.rmtree(folder / "runs" / f"{stem}.ckpt", ignore_errors=True)
        runs[method] = run
        if progress:
            tqdm.write(
                f"{method}: top-1 {run.report.accuracy:.1%}, mean class "
                f"{run.report.mean_class_accuracy:.1%} ({run.seconds['train']:.0f} s training)"
            )
    provenance = {
        **_environment(device),
        "profile": profile.name,
        "profile_settings": profile.to_dict(),
        "precision": str(precision),
        "seed": seed,
        "data": data,
        "settings": common,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": time.time() - started,
        "seconds_per_method": {m: r.seconds for m, r in runs.items()},
        "cached": [m for m, r in runs.items() if r.cached],
    }
    comparison = Comparison(runs, provenance)
    if folder is not None:
        comparison.save(folder / f"{name}.json")
    return comparison


def _check_method(method: str) -> None:
    """Fail before any training starts when a method id is wrong."""
    build_model(method, "resnet18", num_classes=2)


def _environment(device: torch.device) -> dict[str, Any]:
    return {
        "device": describe_device(device),
        "roiattn_version": package_version(),
        "git_commit": git_commit(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
    }


def _train_and_evaluate(
    method: str,
    key: str,
    train_data: Dataset,
    test_data: Dataset,
    profile: profiles.Profile,
    seed: int,
    bins: SizeBins,
    sampler: Sampler | None,
    device: torch.device,
    *,
    checkpoint_dir: Path | None,
    checkpoint_every: int | None,
    progress: bool,
    model_path: Path | None,
) -> Run:
    classes = dataset_classes(train_data)
    torch.manual_seed(seed)
    model = build_model(method, profile.arch, num_classes=len(classes), weights=profile.weights)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    clock = time.perf_counter()
    history = fit(
        model,
        train_data,
        epochs=profile.epochs,
        batch_size=profile.batch_size,
        lr=profile.lr,
        weight_decay=profile.weight_decay,
        optimizer=profile.optimizer,
        schedule=profile.schedule,
        device=device,
        sampler=sampler,
        num_workers=profile.num_workers,
        amp=None if profile.amp else False,
        channels_last=None if profile.channels_last else False,
        grad_clip=profile.grad_clip,
        seed=seed,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        resume=checkpoint_dir is not None,
        max_steps=profile.max_steps,
        progress=progress,
    )
    trained = time.perf_counter() - clock
    report = evaluate(
        model,
        test_data,
        batch_size=profile.eval_batch_size,
        device=device,
        bins=bins,
        num_workers=profile.num_workers,
        amp=None if profile.amp else False,
        channels_last=None if profile.channels_last else False,
        classes=classes,
        progress=progress,
    )
    if model_path is not None:
        meta = {
            "image_size": dataset_image_size(train_data),
            "view": dataset_attribute(train_data, "view"),
        }
        save_checkpoint(model_path, model, classes=classes, meta=meta)
    return Run(
        method=method,
        key=key,
        report=report,
        history=history,
        seconds={"train": trained, "evaluate": time.perf_counter() - clock - trained},
        provenance={
            **_environment(device),
            "profile": profile.name,
            "seed": seed,
            "started": started,
        },  # fmt: skip
    )
