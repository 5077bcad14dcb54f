"""compare: train every method of an experiment on the same regions, with the same settings and
seeds, evaluate each per segment size, and keep the numbers with how they were made.

Each run (one method, one seed) is saved as JSON under ``results_dir/runs/``, named by a hash of
everything it depends on (the method, the seed, the experiment's settings and the data's
fingerprint), so a run made before is loaded, not retrained, whichever command or chapter asks;
a run killed mid-way resumes from its checkpoint. The table goes to
``results_dir/<experiment.file_name>.json``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision

from roiattn.checkpoints import save_checkpoint
from roiattn.evaluate.evaluation import evaluate, schemes_for
from roiattn.experiments.comparison import Comparison, Run, write_json
from roiattn.experiments.definitions import Experiment, Regions
from roiattn.experiments.definitions import results_dir as default_results
from roiattn.models import build_model
from roiattn.progress import progress_bar
from roiattn.runtime import choose_precision, describe_device, resolve_device
from roiattn.train import fit


def package_version() -> str:
    from roiattn import __version__

    return __version__


def git_commit() -> str | None:
    """The commit of the roiattn source tree (``-dirty`` with uncommitted changes), or None
    when it is not a git checkout (an installed package, Colab)."""
    folder = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10)  # fmt: skip
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = "-dirty" if status.returncode == 0 and status.stdout.strip() else ""
    return commit.stdout.strip() + dirty


def environment(device: torch.device) -> dict[str, Any]:
    """Which machine and software made a result."""
    return {
        "device": describe_device(device),
        "roiattn_version": package_version(),
        "git_commit": git_commit(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def _run_key(experiment: Experiment, method: str, seed: int, data: dict, device: str) -> str:
    """A hash of everything a run's result depends on."""
    identity = {
        "method": method,
        "seed": seed,
        "arch": experiment.arch,
        "weights": experiment.weights,
        "options": experiment.options_of(method),
        "training": {
            k: v
            for k, v in experiment.training.to_dict().items()
            if k not in ("seed", "num_workers", "eval_batch_size")
        },  # fmt: skip
        "balanced": experiment.balanced,
        "bins": experiment.bins,
        "data": data,
        "device": device,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def train_and_evaluate(
    experiment: Experiment,
    method: str,
    seed: int,
    regions: Regions,
    device: torch.device,
    *,
    checkpoint_dir: Path | None = None,
    checkpoint_every: int | None = None,
    model_path: Path | None = None,
    progress: bool = True,
) -> Run:
    """One run: build ``method`` seeded, train it with the experiment's settings, evaluate it
    on the test regions (and save the model to ``model_path``)."""
    train, test = regions.train, regions.test
    model = experiment.model(method, len(train.classes), seed)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    clock = time.perf_counter()
    history = fit(
        model,
        train,
        experiment.settings(seed),
        sampler=experiment.sampler(train, seed),
        device=device,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        resume=checkpoint_dir is not None,
        progress=progress,
    )
    trained = time.perf_counter() - clock
    settings = experiment.training
    report = evaluate(
        model,
        test,
        batch_size=settings.eval_batch_size,
        device=device,
        bins=experiment.bins,
        num_workers=settings.num_workers,
        amp=settings.amp,
        channels_last=settings.channels_last,
        progress=progress,
    )
    if model_path is not None:
        meta = {"image_size": train.image_size, "view": train.view, "data": train.description}
        save_checkpoint(model_path, model, classes=train.classes, meta=meta)
    seconds = {"train": trained, "evaluate": time.perf_counter() - clock - trained}
    return Run(method, seed, "", report, history, seconds,
               {**environment(device), "started": started})  # fmt: skip


def _plan(experiment: Experiment, methods: Sequence[str] | None) -> list[str]:
    methods = list(experiment.methods if methods is None else methods)
    if not methods or len(set(methods)) != len(methods):
        raise ValueError(f"give one or more distinct method ids, got {methods}")
    for method in methods:  # fail before any training starts when an id is wrong
        build_model(method, "resnet18", num_classes=2, **experiment.options_of(method))
    return methods


def compare(
    experiment: Experiment,
    methods: Sequence[str] | None = None,
    *,
    regions: Regions | None = None,
    results_dir: str | Path | None = None,
    retrain: bool = False,
    save_models: bool = False,
    checkpoint_every: int | None = None,
    device: str | torch.device = "auto",
    progress: bool = True,
) -> Comparison:
    """Train and evaluate ``methods`` (default: the experiment's), each with the seeds
    :meth:`Experiment.seeds_of` gives, on the experiment's regions (or ``regions``), and return
    the table, saved as ``<results_dir>/<experiment.file_name>.json``.

    ``results_dir`` defaults to :func:`~roiattn.experiments.results_dir`; a run already saved
    there with the same settings and data is loaded instead of retrained, unless
    ``retrain=True``. ``save_models`` keeps each trained model beside its run.
    """
    methods = _plan(experiment, methods)
    device = resolve_device(device)
    regions = regions if regions is not None else experiment.regions()
    train, test = regions.train, regions.test
    if list(train.classes) != list(test.classes):
        raise ValueError(
            f"train and test data have other classes ({len(train.classes)} vs "
            f"{len(test.classes)}, or another order): use the same categories for both"
        )
    data = {"train": train.provenance(), "test": test.provenance()}
    folder = Path(results_dir) if results_dir is not None else default_results()
    started = time.time()
    runs: dict[str, list[Run]] = {}
    plan = [(m, s) for m in methods for s in experiment.seeds_of(m)]
    for method, seed in progress_bar(plan, desc="compare", unit="run", disable=not progress):
        key = _run_key(experiment, method, seed, data, device.type)
        runs.setdefault(method, []).append(
            _cached_or_trained(
                experiment,
                method,
                seed,
                key,
                regions,
                device,
                folder,
                retrain,
                save_models,
                checkpoint_every,
                progress,
            )  # fmt: skip
        )
    precision = choose_precision(device, experiment.training.amp)
    provenance = {
        **environment(device),
        "experiment": experiment.to_dict(),
        "summary": experiment.summary(),
        "profile": experiment.profile,
        "precision": str(precision),
        "data": data,
        "source": regions.source.note,
        "source_kind": regions.source.kind,
        "train_counts": np.bincount(train.labels, minlength=len(train.classes)).tolist(),
        "bins": schemes_for(test, experiment.bins)[0].to_dict(),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": time.time() - started,
        "cached": sorted({f"{r.method}@{r.seed}" for rs in runs.values() for r in rs if r.cached}),
    }
    comparison = Comparison(runs, provenance)
    comparison.save(folder / f"{experiment.file_name}.json")
    return comparison


def _cached_or_trained(
    experiment: Experiment,
    method: str,
    seed: int,
    key: str,
    regions: Regions,
    device: torch.device,
    folder: Path,
    retrain: bool,
    save_models: bool,
    checkpoint_every: int | None,
    progress: bool,
) -> Run:
    """The run saved under ``folder/runs`` with this key, else a new one (then saved)."""
    stem = f"{_slug(method)}-s{seed}-{key}"
    run_file = folder / "runs" / f"{stem}.json"
    model_file = f"runs/{stem}.pt" if save_models else None
    if run_file.exists() and not retrain:
        run = Run.from_dict(json.loads(run_file.read_text()), cached=True)
        if not save_models or (run.model_file and (folder / run.model_file).exists()):
            if progress:
                print(f"{method} (seed {seed}): loaded from an earlier run")
            return run
    checkpoints = folder / "runs" / f"{stem}.ckpt"
    run = train_and_evaluate(
        experiment, method, seed, regions, device,
        checkpoint_dir=checkpoints, checkpoint_every=checkpoint_every,
        model_path=None if model_file is None else folder / model_file, progress=progress,
    )  # fmt: skip
    run.key, run.model_file = key, model_file
    write_json(run_file, run.to_dict())
    shutil.rmtree(checkpoints, ignore_errors=True)
    if progress:
        print(
            f"{method} (seed {seed}): mean class {run.report.mean_class_accuracy:.1%}, top-1 "
            f"{run.report.accuracy:.1%} ({run.seconds['train']:.0f} s training)"
        )
    return run
