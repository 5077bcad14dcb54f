"""compare: train every method of an experiment on the same regions, with the same settings and
seeds, evaluate each per segment size, and keep the numbers with how they were made.

Each run (one method, one seed) is saved as JSON under ``results_dir/runs/``, named by a hash of
everything it depends on (the method, the seed, the experiment's settings, the data's
fingerprint and the code that trains and evaluates it), so a run made before is loaded, not
retrained, whichever command or chapter asks; a run killed mid-way resumes from its checkpoint.
The table goes to ``results_dir/<experiment.file_name>.json``.

The package ships a few runs the same way, in ``roiattn/results/runs`` (made by
``tools/make_reference_results.py ship-runs``): the pretrained-network runs of chapter 7, which a
CPU build cannot afford to train. One is used only where a run with the very same key is
missing: the same experiment settings, seed, data (by fingerprint), code and kind of device;
anywhere else (other data, a GPU, the synthetic fallback, changed code) the run is trained.
"""

from __future__ import annotations

import ast
import datetime
import functools
import hashlib
import json
import platform
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision

from roiattn.checkpoints import save_checkpoint
from roiattn.data.paths import display_path
from roiattn.evaluate.evaluation import evaluate, schemes_for
from roiattn.experiments.comparison import Comparison, Run, write_json
from roiattn.experiments.definitions import Experiment, Regions
from roiattn.experiments.definitions import results_dir as default_results
from roiattn.experiments.parallel import choose_jobs, run_in_workers, shared
from roiattn.experiments.projection import minutes, project
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


def method_slug(method: str) -> str:
    """A method id as part of a file name (``attn-add@conv1`` -> ``attn-add_conv1``): the name
    its runs, checkpoints and models are saved under."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", method)


# the code that decides a run's numbers, under roiattn/ (the settings are in the key apart): what
# a model computes, how it trains and is evaluated, and what a region item holds; not where the
# data come from (downloads, the sample photos, paths), which the data's fingerprint covers
RUN_CODE = (
    "masks.py",
    "runtime.py",
    "models",
    "train",
    "evaluate/evaluation.py",
    *(f"data/{name}.py" for name in ("bins", "coco", "context_shapes", "images", "indexing",
                                     "regions", "samplers", "windows")),
)  # fmt: skip


@functools.cache
def code_fingerprint() -> str:
    """A hash of the code that decides a run's numbers (:data:`RUN_CODE`): a run saved by other
    code is trained again instead of loaded."""
    return fingerprint_code(Path(__file__).resolve().parents[1])


def fingerprint_code(package: Path) -> str:
    """A hash of the :data:`RUN_CODE` files under ``package``, read as syntax trees without
    docstrings: a comment or a docstring changes nothing, any change to what runs does."""
    files = sorted(
        path
        for name in RUN_CODE
        for path in ([package / name] if name.endswith(".py") else (package / name).rglob("*.py"))
    )
    digest = hashlib.sha256()
    for path in files:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
                if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
        digest.update(path.relative_to(package).as_posix().encode() + ast.dump(tree).encode())
    return digest.hexdigest()[:16]


def unplaced(description: str) -> str:
    """A dataset's description without the folder it was read from (``COCORegions val2017 at
    $ROIATTN_COCO_ROOT: ...`` -> ``COCORegions val2017: ...``): the book's images downloaded
    are the same regions as coco-mini named by ``$ROIATTN_COCO_ROOT``, and their runs the same
    runs."""
    return re.sub(r" at (?:\$\w+|~|\.\.\.)(?:/\S*)?:", ":", description, count=1)


def _run_key(experiment: Experiment, method: str, seed: int, data: dict, device: str) -> str:
    """A hash of everything a run's result depends on."""
    regions = {split: {**v, "description": unplaced(v["description"])} for split, v in data.items()}
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
        "data": regions,
        "device": device,
        "code": code_fingerprint(),
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
    report = evaluate(model, test, device=device, bins=experiment.bins, progress=progress,
                      **experiment.training.evaluation())  # fmt: skip
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
    for method in methods:  # fail before any training starts when an id is wrong for this arch
        with torch.device("meta"):  # no memory, no weights: only the id and its points are checked
            build_model(method, experiment.arch, num_classes=2, **experiment.options_of(method))
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
    jobs: int | None = None,
    progress: bool = True,
) -> Comparison:
    """Train and evaluate ``methods`` (default: the experiment's), each with the seeds
    :meth:`Experiment.seeds_of` gives, on the experiment's regions (or ``regions``), and return
    the table, saved as ``<results_dir>/<experiment.file_name>.json``.

    ``results_dir`` defaults to :func:`~roiattn.experiments.results_dir`; a run already saved
    there with the same settings and data is loaded instead of retrained, unless
    ``retrain=True``. Before training the runs it is missing, it prints how long they will take
    (:func:`~roiattn.experiments.project`), and afterwards how long they took, with or without
    ``progress`` (the bars and a line per run). ``save_models`` keeps each trained model
    beside its run. ``jobs`` runs train at once, each in a process of its own (default: one per
    CPU thread on a CPU, one on a GPU; see :mod:`roiattn.experiments.parallel`).
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
    plan = [(m, s) for m in methods for s in experiment.seeds_of(m)]
    keys = {(m, s): _run_key(experiment, m, s, data, device.type) for m, s in plan}
    saved = {job: None if retrain else _saved_run(folder, *job, keys[job], save_models)
             for job in plan}  # fmt: skip
    missing = [job for job in plan if saved[job] is None]
    jobs = choose_jobs(jobs, device, len(missing))
    if missing:  # said even without progress bars: the time is the reader's to plan
        projection = project(experiment, missing, train, test, device, jobs)
        print(f"{experiment.file_name}: {projection}")
    training_started = time.time()
    tasks = [(experiment, m, s, keys[m, s], folder, save_models, checkpoint_every, device)
             for m, s in missing]  # fmt: skip
    if jobs == 1:
        trained = (_train_and_save(*task, regions=regions, progress=progress) for task in tasks)
    else:
        trained = run_in_workers(_train_and_save, tasks, jobs, regions)
    runs: dict[str, list[Run]] = {}
    loaded = [run for run in saved.values() if run is not None]
    if progress and loaded:
        shipped = sum(bool(run.provenance.get("shipped")) for run in loaded)
        sources = []
        if len(loaded) > shipped:
            sources.append(f"{len(loaded) - shipped} from {display_path(folder / 'runs')}")
        if shipped:
            sources.append(f"{shipped} shipped with the package (same key: settings, data, device)")
        print(f"{len(loaded)} of {len(plan)} runs loaded instead of trained: {', '.join(sources)}")
    bar = progress_bar(plan, desc="compare", unit="run", disable=not progress or not missing)
    for method, seed in bar:
        run = saved[method, seed] or next(trained)
        runs.setdefault(method, []).append(run)
        if progress and not run.cached:
            print(
                f"{method} (seed {seed}): mean class {run.report.mean_class_accuracy:.1%}, top-1 "
                f"{run.report.accuracy:.1%} ({run.seconds['train']:.0f} s training)"
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
        "jobs": jobs,
        "cached": sorted({f"{r.method}@{r.seed}" for rs in runs.values() for r in rs if r.cached}),
    }
    comparison = Comparison(runs, provenance)
    comparison.save(folder / f"{experiment.file_name}.json")
    if missing:
        took = minutes(time.time() - training_started)
        print(f"{experiment.file_name}: trained {len(missing)} run{'s' * (len(missing) != 1)} in "
              f"{took} (projected {minutes(projection.seconds)})")  # fmt: skip
    return comparison


def run_stem(method: str, seed: int, key: str) -> str:
    """The name of a run's files under ``results_dir/runs``."""
    return f"{method_slug(method)}-s{seed}-{key}"


def shipped_runs() -> Path:
    """The folder of the runs the package ships (see the module's docstring)."""
    return Path(str(resources.files("roiattn") / "results" / "runs"))


def _saved_run(folder: Path, method: str, seed: int, key: str, save_models: bool) -> Run | None:
    """The run saved under ``folder/runs`` with this key (and its model if asked for), else the
    one the package ships with this key (never when a model is asked for), or None."""
    stem = run_stem(method, seed, key)
    run_file = folder / "runs" / f"{stem}.json"
    if run_file.exists():
        run = Run.from_dict(json.loads(run_file.read_text()), cached=True)
        if save_models and not (run.model_file and (folder / run.model_file).exists()):
            return None
        return run
    shipped = shipped_runs() / f"{stem}.json"
    if save_models or not shipped.exists():
        return None
    run = Run.from_dict(json.loads(shipped.read_text()), cached=True)
    run.provenance["shipped"] = True
    return run


def _train_and_save(
    experiment: Experiment,
    method: str,
    seed: int,
    key: str,
    folder: Path,
    save_models: bool,
    checkpoint_every: int | None,
    device: torch.device,
    regions: Regions | None = None,
    progress: bool = False,
) -> Run:
    """Train one run (resuming from its checkpoints) and save it under ``folder/runs``; in a
    worker process the regions are those the parent sent (:func:`parallel.shared`)."""
    stem = run_stem(method, seed, key)
    model_file = f"runs/{stem}.pt" if save_models else None
    checkpoints = folder / "runs" / f"{stem}.ckpt"
    run = train_and_evaluate(
        experiment, method, seed, regions if regions is not None else shared(),
        device, checkpoint_dir=checkpoints, checkpoint_every=checkpoint_every,
        model_path=None if model_file is None else folder / model_file, progress=progress,
    )  # fmt: skip
    run.key, run.model_file = key, model_file
    write_json(folder / "runs" / f"{stem}.json", run.to_dict())
    shutil.rmtree(checkpoints, ignore_errors=True)
    return run
