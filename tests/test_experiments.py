"""The experiment layer: an experiment is a value (``get``, ``coco``, ``shapes``, ``replace``);
``compare`` trains its methods on the same regions, settings and seeds, into one table with
provenance, saved as JSON the book loads, and loads runs made before instead of retraining
them; the table's baselines and marks; the paper's findings judged by verdicts computed from
paired intervals; and the command line giving the chapter's very numbers.

Tiny sizes throughout: TinyRegions, or a synthetic COCO folder with both splits, a few steps of
a small ResNet."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from synthetic_regions import TinyRegions

from conftest import make_synthetic_coco, real_coco_root
from roiattn import experiments, profiles
from roiattn.benchmarks.timing import torch_threads
from roiattn.cli import main
from roiattn.data import (
    COCO_BINS,
    ClassBalancedSampler,
    COCORegions,
    DataSource,
    RegionCache,
    RegionSubset,
)
from roiattn.evaluate import Gap, Report, paired_gaps
from roiattn.experiments import (
    Comparison,
    Experiment,
    Regions,
    Run,
    compare,
    load_results,
    runner,
    verdict,
)
from roiattn.experiments.comparison import MASK_WORDS
from roiattn.experiments.parallel import choose_jobs, run_in_workers
from roiattn.models import build_model
from roiattn.train import History, TrainSettings

matplotlib.use("Agg")

METHODS = ("image", "attn-add@conv1")
TRAINING = TrainSettings(
    epochs=1, batch_size=4, lr=1e-3, eval_batch_size=8, amp=False, channels_last=False
)
SHAPES = ("disc", "square", "triangle")  # categories of the synthetic COCO folder


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


def tiny(**fields) -> Experiment:
    """An experiment over regions given to ``compare`` (TinyRegions), seed 3."""
    experiment = Experiment(
        name="tiny", profile="quick", data=None, arch="resnet10_w32", weights=None,
        training=TRAINING, methods=METHODS, balanced=False, bins=None, seeds=(3,),
    )  # fmt: skip
    return dataclasses.replace(experiment, **fields)


def tiny_regions(n_train: int = 16, n_test: int = 10, **kwargs) -> Regions:
    train, test = TinyRegions(n_train, **kwargs), TinyRegions(n_test, seed=1, **kwargs)
    return Regions(train, test, DataSource(Path("."), "tiny", "TinyRegions made by the test"))


def strict_json(path: Path) -> dict:
    """The file as JSON, refusing NaN and infinities (which json.loads would accept)."""

    def refuse(constant: str):
        raise ValueError(f"{path} holds {constant}: not strict JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    with torch_threads(1):
        table = compare(tiny(), regions=tiny_regions(), results_dir=folder, progress=False,
                        save_models=True)  # fmt: skip
    return table, folder


# ---------------------------------------------------------------------------- the table


def test_one_table_of_methods_by_size_bin(first):
    table, folder = first
    assert table.methods == list(METHODS)
    assert table.scheme == "paper"
    columns = table.columns()
    assert columns[-2:] == ["overall", "mean class"] and columns[0] == "<1k"
    assert sum(table.counts()[c] for c in columns[:-2]) == 10
    assert table.counts()["overall"] == table.counts()["mean class"] == 10
    for method in METHODS:
        assert table.seeds(method) == [3]
        report = table.report(method)
        assert table.accuracy(method) == report.mean_class_accuracy  # the default: mean class
        assert table.accuracy(method, "overall") == report.accuracy
        rows = {r.label: r for r in report.by_size()}
        for column in columns[:-2]:
            cell = table.table()[method][column]
            top1 = table.table("accuracy")[method][column]
            if rows[column].count == 0:
                assert cell is None and top1 is None
            else:
                assert cell == rows[column].mean_class_accuracy and top1 == rows[column].accuracy
        assert len(table.history(method).step) == 4  # 16 items, batches of 4, one epoch
    text = table.to_markdown()
    # image is compared: a last column says whether each other method uses the mask
    assert text.splitlines()[0] == f"| method | seeds | {' | '.join(columns)} | minus image |"
    cells = _markdown_cells(text)
    assert cells["image"][-1] == "–" and cells["*regions*"][-1] == ""
    for method in METHODS:
        if method != "image":
            gap = table.mask_used()[method]
            assert gap == table.gaps(method, "image")[-1]
            assert cells[method][-1].startswith(str(gap)), method
    assert all(f"| {m} | 1 |" in text for m in METHODS) and "| *regions* |" in text
    assert "| *chance (1/3)* |" in text and "| *majority (shade" in text
    non_empty = [c for c in columns[:-2] if table.counts()[c]]
    assert len(table.plot().axes) == len(non_empty) + 1
    with pytest.raises(ValueError, match="no column 'tiny'"):
        table.accuracy("image", "tiny")
    with pytest.raises(ValueError, match="metric must be one of"):
        table.accuracy("image", "overall", metric="top5")
    with pytest.raises(ValueError, match="no method 'crop'"):
        table.report("crop")


def test_saved_with_provenance_and_loaded_back(first):
    table, folder = first
    experiment = tiny()
    path = folder / "tiny-quick.json"
    assert experiment.file_name == "tiny-quick" and table.path == path
    saved = strict_json(path)
    assert saved["kind"] == "roiattn.comparison" and saved["version"] == 2
    provenance = saved["provenance"]
    assert provenance["experiment"] == experiment.to_dict()
    assert provenance["experiment"]["training"]["epochs"] == 1
    assert provenance["summary"] == experiment.summary() and provenance["profile"] == "quick"
    assert provenance["source"] == "TinyRegions made by the test"
    assert provenance["data"]["train"]["count"] == 16
    assert provenance["data"]["test"]["description"] == "TinyRegions(n=10, size=32, seed=1)"
    train_labels = tiny_regions().train.labels
    assert provenance["train_counts"] == np.bincount(train_labels, minlength=3).tolist()
    assert provenance["device"].startswith("cpu")
    assert provenance["roiattn_version"] and "git_commit" in provenance
    assert provenance["seconds"] > 0 and provenance["cached"] == []
    # every run beside it, named by method, seed and key, with its model
    for method in METHODS:
        run = table.runs[method][0]
        stem = f"{re.sub(r'[^A-Za-z0-9._-]+', '_', method)}-s3-{run.key}"
        assert (folder / "runs" / f"{stem}.json").is_file()
        assert run.model_file == f"runs/{stem}.pt" and (folder / run.model_file).is_file()
        assert run.seconds["train"] > 0 and run.provenance["started"]
    assert not list((folder / "runs").glob("*.ckpt"))  # checkpoints go once a run is done
    loaded = load_results(path)
    assert loaded.to_dict() == table.to_dict()
    assert loaded.to_markdown() == table.to_markdown()
    assert loaded.to_markdown("accuracy") == table.to_markdown("accuracy")
    for seed in (None, 3):
        model = loaded.load_model("attn-add@conv1", seed)
        assert model.method == "attn-add@conv1" and model.classes == ["shade0", "shade1", "shade2"]


def test_runs_made_before_are_loaded_not_retrained(first, monkeypatch):
    table, folder = first
    trained = []
    real_fit = runner.fit

    def counting_fit(model, data, settings, **kwargs):
        trained.append((model.method, settings.seed))
        return real_fit(model, data, settings, **kwargs)

    monkeypatch.setattr(runner, "fit", counting_fit)

    def run(experiment, methods=None, regions=None, **options):
        trained.clear()
        return experiment.run(methods, regions=regions or tiny_regions(), results_dir=folder,
                              progress=False, **options)  # fmt: skip

    # a variant: saved under its own name, its runs the ones made before (fresh data objects)
    variant = tiny().replace(methods=tuple(reversed(METHODS)))
    again = run(variant, save_models=True)
    assert trained == []
    assert variant.file_name != "tiny-quick" and again.path == folder / f"{variant.file_name}.json"
    assert strict_json(folder / "tiny-quick.json")["methods"] == list(METHODS)  # left as it was
    assert again.methods == list(reversed(METHODS))
    assert all(run.cached for runs in again.runs.values() for run in runs)
    assert again.provenance["cached"] == ["attn-add@conv1@3", "image@3"]
    for method in METHODS:
        assert again.report(method).to_dict() == table.report(method).to_dict()
    # what does not change a run's weights or its test data does not retrain it
    run(tiny(name="other").replace(num_workers=0, eval_batch_size=5))
    assert trained == []
    # a second seed for one method: only that run is new
    more = run(tiny().replace(seeds=(3, 4), all_seeds=("image",)))
    assert trained == [("image", 4)]
    assert more.seeds("image") == [3, 4] and more.seeds("attn-add@conv1") == [3]
    assert more.provenance["cached"] == ["attn-add@conv1@3", "image@3"]
    # another seed, learning rate, option, arch or data is another run; retrain retrains
    for experiment in (
        tiny(name="other").replace(seeds=(5,)),
        tiny(name="other").replace(lr=2e-3),
        tiny(name="other").replace(kernel_size=5),
        tiny(name="other").replace(arch="resnet18"),
    ):
        run(experiment, ["attn-add@conv1"])
        assert trained == [("attn-add@conv1", experiment.seeds[0])], experiment.variant
    run(tiny(name="other"), ["image"], regions=tiny_regions(n_test=9))
    assert trained == [("image", 3)]
    run(tiny(name="other"), ["image"], retrain=True)
    assert trained == [("image", 3)]


def test_every_method_starts_from_the_same_backbone(monkeypatch, tmp_path):
    starts = {}
    real_fit = runner.fit

    def recording_fit(model, *args, **kwargs):
        starts[model.method] = {k: v.clone() for k, v in model.backbone.state_dict().items()}
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(runner, "fit", recording_fit)
    experiment = tiny(seeds=(5,)).replace(max_steps=1)
    compare(experiment, ["image", "hard@input", "attn-mul@conv1"], regions=tiny_regions(8, 4),
            results_dir=tmp_path, progress=False)  # fmt: skip
    first, *others = starts.values()
    assert len(others) == 2
    for other in others:
        assert all(torch.equal(first[k], other[k]) for k in first)
    # the seed decides it: the run's seed gives that backbone, another seed another one
    same = experiment.model("image", 3, 5).backbone.state_dict()
    other = experiment.model("image", 3, 6).backbone.state_dict()
    assert all(torch.equal(first[k], same[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


class FailingRegions(TinyRegions):
    """TinyRegions whose item 5 cannot be read."""

    def __getitem__(self, index: int) -> dict:
        if index == 5:
            raise OSError("item 5 of the test's regions is unreadable")
        return super().__getitem__(index)


def test_runs_trained_side_by_side_equal_runs_trained_one_after_another(monkeypatch, tmp_path):
    # one thread everywhere (the fixture; workers always have one), so the two must agree exactly
    trainers = tmp_path / "trainers"
    trainers.mkdir()
    real = runner.train_and_evaluate

    def recording(*args, **kwargs):  # forked workers inherit the patch
        (trainers / str(os.getpid())).touch()
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "train_and_evaluate", recording)
    experiment = tiny(seeds=(3, 4), all_seeds=METHODS).replace(max_steps=3)
    serial = compare(experiment, regions=tiny_regions(), results_dir=tmp_path / "one",
                     jobs=1, progress=False)  # fmt: skip
    assert [p.name for p in trainers.iterdir()] == [str(os.getpid())]
    parallel = compare(experiment, regions=tiny_regions(), results_dir=tmp_path / "two",
                       jobs=2, progress=False)  # fmt: skip
    workers = {p.name for p in trainers.iterdir()} - {str(os.getpid())}
    assert len(workers) == 2, "the four runs should have trained in two other processes"
    assert (serial.provenance["jobs"], parallel.provenance["jobs"]) == (1, 2)
    for method in METHODS:
        pairs = zip(serial.runs[method], parallel.runs[method], strict=True)
        for one, two in pairs:
            assert one.seed == two.seed
            assert np.array_equal(one.report.predictions, two.report.predictions)
            assert one.history.loss == two.history.loss
    again = compare(experiment, regions=tiny_regions(), results_dir=tmp_path / "two", jobs=2,
                    progress=False)  # fmt: skip
    assert len(again.provenance["cached"]) == 4  # the workers saved every run they trained


def test_a_run_that_fails_in_a_worker_fails_the_comparison_with_its_error(tmp_path):
    regions = Regions(FailingRegions(16), TinyRegions(10, seed=1), tiny_regions().source)
    with pytest.raises(OSError, match="item 5 of the test's regions is unreadable"):
        compare(tiny(seeds=(3, 4), all_seeds=METHODS), regions=regions, results_dir=tmp_path,
                jobs=2, progress=False)  # fmt: skip


def test_a_worker_that_dies_is_reported_with_what_to_do():
    with pytest.raises(RuntimeError, match="a training process died.*resume from their checkp"):
        list(run_in_workers(os._exit, [(3,)], 1, None))


def test_jobs_are_checked_and_one_on_a_gpu():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    with torch_threads(2):
        assert choose_jobs(None, cpu, 8) == 2 and choose_jobs(None, cpu, 1) == 1
        assert choose_jobs(None, cuda, 8) == 1 and choose_jobs(3, cpu, 8) == 3
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="jobs must be a positive whole number"):
            choose_jobs(bad, cpu, 4)
    with pytest.raises(ValueError, match=r"jobs=2 .* \(device cuda, .*jobs=1 or unset"):
        choose_jobs(2, cuda, 4)


def test_the_datasets_own_bins_become_the_columns(tmp_path):
    regions = tiny_regions(8, 6, size_bins=[5000, 50000])
    table = compare(tiny().replace(max_steps=1), ["image"], regions=regions,
                    results_dir=tmp_path, progress=False)  # fmt: skip
    assert table.scheme == "custom"
    assert table.columns() == ["<5k", "5k-50k", ">=50k", "overall", "mean class"]
    # the experiment's bins win over the dataset's
    coco = compare(tiny(bins="coco").replace(max_steps=1), ["image"], regions=regions,
                   results_dir=tmp_path, progress=False)  # fmt: skip
    assert coco.columns() == ["small", "medium", "large", "overall", "mean class"]


# ---------------------------------------------------------------------------- seeds


def test_seeds_a_finding_method_is_trained_with_each_the_others_with_the_first(tmp_path):
    experiment = tiny(seeds=(0, 1), all_seeds=("attn-add@conv1",)).replace(max_steps=2)
    assert experiment.seeds_of("attn-add@conv1") == (0, 1)
    assert experiment.seeds_of("image") == (0,)
    assert experiment.settings().seed == 0 and experiment.settings(1).seed == 1
    table = experiment.run(regions=tiny_regions(), results_dir=tmp_path, progress=False)
    assert table.seeds("attn-add@conv1") == [0, 1] and table.seeds("image") == [0]
    for method in METHODS:
        for run in table.runs[method]:
            assert run.method == method and run.history.settings["seed"] == run.seed
    attn = "attn-add@conv1"
    assert table.history(attn, 0).loss != table.history(attn, 1).loss  # two trainings
    assert table.report(attn) is table.report(attn, 0) is table.reports(attn)[0]
    assert table.reports(attn, [1]) == [table.report(attn, 1)]
    with pytest.raises(ValueError, match="was not trained with seed 7"):
        table.report(attn, 7)
    with pytest.raises(ValueError, match="was not trained with seed 1"):
        table.history("image", 1)
    with pytest.raises(ValueError, match="no saved model"):
        table.load_model(attn)
    # a cell is the mean over seeds, the spread their range
    scheme = table.scheme
    for column in table.columns():
        for metric in ("mean_class", "accuracy"):
            values = [Comparison.cell(r, column, metric, scheme) for r in table.reports(attn)]
            if any(math.isnan(v) for v in values):
                continue
            assert table.accuracy(attn, column, metric) == pytest.approx(np.mean(values))
            assert table.spread(attn, column, metric) == (min(values), max(values))
    low, high = table.spread(attn)
    mean = table.accuracy(attn)
    assert low <= mean <= high
    text = table.to_markdown()
    row = next(line for line in text.splitlines() if line.startswith(f"| {attn} |"))
    assert row.startswith(f"| {attn} | 2 | ")
    assert f"{mean:.1%} ({100 * low:.0f}–{100 * high:.0f})" in row  # the mean class column
    image_row = next(line for line in text.splitlines() if line.startswith("| image |"))
    assert image_row.startswith("| image | 1 | ") and "(" not in image_row
    # the gap of two methods uses the seeds both were trained with
    gaps = table.gaps(attn, "image", resamples=200)
    assert gaps[-1].label == "overall" and gaps[-1].per_seed == ()
    assert gaps[-1].a == pytest.approx(table.report(attn, 0).mean_class_accuracy)


# ---------------------------------------------------------------------------- baselines


def _hand_comparison(predictions: dict[str, list], train_counts=(2, 5, 1)) -> Comparison:
    """Eight regions of classes a, b, c: four small, none medium, four large (COCO's bins)."""
    labels = [1, 1, 0, 2, 1, 0, 1, 1]
    areas = [500.0] * 4 + [20000.0] * 4
    runs = {}
    for method, guesses in predictions.items():
        runs[method] = []
        for seed, guess in enumerate(guesses):
            report = Report(labels, guess, areas, ["a", "b", "c"], [COCO_BINS], method=method)
            runs[method].append(Run(method, seed, f"k{seed}", report, History(method), {}, {}))
    provenance = {"profile": "test"}
    if train_counts is not None:
        provenance["train_counts"] = list(train_counts)
    return Comparison(runs, provenance)


def _markdown_cells(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| method") and "---" not in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[2:]
    return rows


def test_baselines_are_the_training_majority_class_and_chance():
    right = [1, 1, 0, 2, 1, 0, 1, 1]
    comparison = _hand_comparison({"right": [right]})
    assert comparison.majority().method == "majority (b)"  # class b is 5 of 8 training regions
    baselines = comparison.baselines()
    assert list(baselines) == ["majority (b)", "chance (1/3)"]
    majority, chance = baselines.values()
    # mean class: class b right, the others wrong, over the classes present in the bin
    assert majority == {
        "small": pytest.approx(1 / 3), "medium": None, "large": 0.5,
        "overall": 5 / 8, "mean class": pytest.approx(1 / 3),
    }  # fmt: skip
    top1 = comparison.baselines("accuracy")["majority (b)"]
    assert (top1["small"], top1["large"], top1["overall"]) == (0.5, 0.75, 5 / 8)
    assert chance == dict.fromkeys(comparison.columns(), 1 / 3)
    # the majority class of the training set, not of the test set
    other = _hand_comparison({"right": [right]}, train_counts=(9, 1, 1))
    assert other.majority().method == "majority (a)"
    with pytest.raises(ValueError, match="does not record its training label counts"):
        _hand_comparison({"right": [right]}, train_counts=None).majority()


def test_a_comparison_saves_and_loads_with_its_seeds_and_baselines(tmp_path):
    right = [1, 1, 0, 2, 1, 0, 1, 1]
    comparison = _hand_comparison({"right": [right, [1] * 8], "all-b": [[1] * 8]})
    path = comparison.save(tmp_path / "nested" / "hand.json")
    assert path == comparison.path and path.is_file()
    loaded = load_results(path)
    assert loaded.seeds("right") == [0, 1] and loaded.seeds("all-b") == [0]
    assert loaded.to_markdown() == comparison.to_markdown()
    assert loaded.baselines() == comparison.baselines()
    assert loaded.spread("right", "overall") == (5 / 8, 1.0)
    assert all(run.cached for runs in loaded.runs.values() for run in runs)
    assert repr(loaded) == "Comparison(['right', 'all-b'], coco bins)"


def test_minus_image_names_its_seed_when_image_has_fewer_than_the_method():
    """A method of three seeds against an `image` of one: the column compares on the shared seed
    only, so it says which, or its sign could disagree with the means beside it."""
    right = [1, 1, 0, 2, 1, 0, 1, 1]
    wrong = [0, 0, 1, 0, 0, 1, 0, 0]
    comparison = _hand_comparison({"image": [[1] * 8], "masked": [wrong, right, right]})
    cell = _markdown_cells(comparison.to_markdown())["masked"][-1]
    gap = comparison.mask_used()["masked"]
    assert gap.sign < 0 and cell == f"{gap}{MASK_WORDS[gap.sign]} (seed 0)"
    # its mean over the three seeds is above image's: only the named seed explains the sign
    assert comparison.accuracy("masked") > comparison.accuracy("image")
    same = _hand_comparison({"image": [[1] * 8, [1] * 8], "masked": [wrong, right]})
    assert "(seed" not in _markdown_cells(same.to_markdown())["masked"][-1]


def test_cells_not_above_the_better_baseline_are_marked():
    right = [1, 1, 0, 2, 1, 0, 1, 1]
    comparison = _hand_comparison(
        {
            "right": [right],
            "all-b": [[1] * 8],  # exactly the majority baseline: never above it
            "small-only": [right[:4] + [0, 1, 0, 0]],  # right on small, wrong on large
        }
    )
    text = comparison.to_markdown()
    rows = _markdown_cells(text)
    columns = ["small", "medium", "large", "overall", "mean class"]
    assert text.splitlines()[0] == f"| method | seeds | {' | '.join(columns)} |"
    assert rows["right"] == ["100.0%", "–", "100.0%", "100.0%", "100.0%"]
    assert rows["all-b"] == ["33.3%°", "–", "50.0%°", "62.5%°", "33.3%°"]
    assert rows["small-only"] == ["100.0%", "–", "0.0%°", "50.0%°", "63.3%"]
    assert rows["*majority (b)*"] == ["33.3%", "–", "50.0%", "62.5%", "33.3%"]
    assert rows["*chance (1/3)*"] == ["33.3%"] * 5
    assert rows["*regions*"] == ["4", "0", "4", "8", "8"]
    assert text.splitlines()[-1].endswith("°: not above the better baseline.")
    assert "mean class accuracy within the bin" in text
    # in top-1 accuracy the majority is 50% on small regions: all-b is still not above it
    rows = _markdown_cells(comparison.to_markdown("accuracy"))
    assert rows["all-b"] == ["50.0%°", "–", "75.0%°", "62.5%°", "33.3%°"]
    assert rows["small-only"][0] == "100.0%"
    assert "top-1 accuracy within the bin" in comparison.to_markdown("accuracy")


# ---------------------------------------------------------------------------- definitions


def test_get_names_the_experiments_and_profiles(monkeypatch):
    assert experiments.get("coco", "quick") == experiments.coco("quick")
    assert experiments.get("shapes", profiles.get("colab")) == experiments.shapes("colab")
    monkeypatch.setenv("ROIATTN_PROFILE", "paper")
    assert experiments.get("coco").profile == "paper"
    monkeypatch.setenv("ROIATTN_PROFILE", "quick")
    assert experiments.get("shapes").profile == "quick"
    with pytest.raises(ValueError, match=r"unknown experiment 'imagenet': choose one of \['coco'"):
        experiments.get("imagenet")
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        experiments.get("coco", "fast")
    with pytest.raises(ValueError, match="names no data: pass its regions"):
        tiny().regions()


def test_the_profile_chooses_categories_arch_and_folders(monkeypatch, tmp_path):
    quick, full = experiments.coco("quick"), experiments.coco("colab")
    assert quick.data.categories == profiles.get("quick").categories
    assert full.data.categories is None  # all 80 with ImageNet weights
    for experiment, profile in ((quick, profiles.get("quick")), (full, profiles.get("colab"))):
        assert (experiment.arch, experiment.weights) == (profile.arch, profile.weights)
        assert experiment.data.image_size == profile.image_size
        assert experiment.data.max_train == profile.max_train_items
        assert experiment.seeds == profile.seeds
    assert full.weights == "DEFAULT"  # the paper's setting: ImageNet weights
    assert quick.balanced and quick.bins == "paper" and quick.data.view == "context"
    shapes = experiments.shapes("quick")
    assert not shapes.balanced and shapes.bins is None  # the world's own bins
    quick_profile = profiles.get("quick")
    assert shapes.data == experiments.ShapesData(
        quick_profile.shapes_train, quick_profile.shapes_test, quick_profile.shapes_image_size
    )
    monkeypatch.setenv("ROIATTN_DATA", str(tmp_path))
    assert experiments.results_dir() == tmp_path / "results"
    assert (quick.file_name, full.file_name) == ("coco-quick", "coco-colab")
    assert experiments.shapes("paper").file_name == "shapes-paper"


def test_every_method_of_the_chapters_builds_and_the_findings_get_every_seed():
    assert len(set(experiments.COCO_METHODS)) == len(experiments.COCO_METHODS) == 11
    assert set(experiments.SHAPES_METHODS) <= set(experiments.COCO_METHODS) | {"attn-mul@conv1"}
    for method in {*experiments.COCO_METHODS, *experiments.SHAPES_METHODS}:
        assert build_model(method, "resnet18", num_classes=3).method == method
    coco = experiments.coco("quick")
    assert len(coco.seeds) > 1 and coco.all_seeds == experiments.FINDING_METHODS
    for finding in experiments.FINDINGS:
        assert {finding.a, finding.b} <= set(experiments.FINDING_METHODS) <= set(coco.methods)
        assert coco.seeds_of(finding.a) == coco.seeds
    assert coco.seeds_of("crop") == coco.seeds[:1]
    assert experiments.shapes("quick").seeds == coco.seeds[:1]


def test_training_settings_come_from_the_profile():
    profile = profiles.get("colab")
    full = experiments.coco(profile).training
    assert isinstance(full, TrainSettings)
    for name in ("lr", "epochs", "batch_size", "grad_clip", "num_workers", "eval_batch_size"):
        assert getattr(full, name) == getattr(profile, name), name
    assert full.branch_lr_scale == 1 and full.seed == 0  # one rate; a run's seed comes later
    assert full.amp is None and full.channels_last is None  # on where CUDA is
    quick = experiments.coco("quick").training
    assert quick.amp is False and quick.channels_last is True  # measured faster on a CPU too
    shapes = experiments.shapes("quick").training
    quick_profile = profiles.get("quick")
    assert (shapes.lr, shapes.epochs) == (quick_profile.shapes_lr, quick_profile.shapes_epochs)
    assert experiments.shapes("quick").arch == quick_profile.shapes_arch


def test_replace_makes_a_named_variant_checked_like_the_original():
    base = experiments.coco("quick")
    variant = base.replace(epochs=8, branch_lr_scale=10, max_train=300, arch="resnet18")
    assert base.training.epochs == profiles.get("quick").epochs != 8
    assert base.variant == "" and base.data.max_train != 300  # the original is left as it was
    assert variant.training.epochs == 8 and variant.training.branch_lr_scale == 10
    assert variant.data.max_train == 300 and variant.arch == "resnet18"
    assert variant.variant == "epochs=8, branch_lr_scale=10, max_train=300, arch=resnet18"
    assert variant.file_name == "coco-quick-epochs-8-branch-lr-scale-10-max-train-300-arch-resnet18"
    assert "[epochs=8, branch_lr_scale=10" in variant.summary()
    assert variant.to_dict()["variant"] == variant.variant
    chained = variant.replace(lr=0.001)
    assert chained.variant == f"{variant.variant}, lr=0.001"
    assert chained.file_name.endswith("-lr-0.001")
    seeds = base.replace(seeds=(4, 5))
    assert seeds.settings().seed == 4 and seeds.seeds_of("attn-add@conv1") == (4, 5)
    assert seeds.seeds_of("image") == (4,)  # not a finding's method: the first seed only


def test_replace_refuses_what_the_experiment_does_not_have():
    with pytest.raises(ValueError, match=r"unknown experiment settings \['epochz'\]: choose"):
        experiments.coco("quick").replace(epochz=1)
    with pytest.raises(ValueError, match=r"\['seed'\]: choose from \[.*'seeds'"):
        experiments.coco("quick").replace(seed=1)  # a run's seed comes from seeds
    with pytest.raises(ValueError, match=r"ShapesData has no \['categories'\]: it has"):
        experiments.shapes("quick").replace(categories=("cup",))
    with pytest.raises(ValueError, match=r"COCOData has no \['train_scenes'\]"):
        experiments.coco("quick").replace(train_scenes=3)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        experiments.coco("quick").replace(epochs=0)
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        experiments.coco("quick").replace(optimizer="lion")


def test_model_options_go_to_the_methods_that_take_them(tmp_path):
    """``mask_resize="max"`` is a variant of the attention methods; the others are built (and
    trained) as they are."""
    experiment = tiny().replace(mask_resize="max", max_steps=1)
    assert experiment.model_options == {"mask_resize": "max"}
    attn = experiment.model("attn-add@conv1", 3)
    assert all(b.mask_resize == "max" for b in attn.branches.values())
    assert experiment.model("hard@input", 3).mask_resize == "max"
    assert experiment.model("image", 3).method == "image"
    table = experiment.run(["image", "attn-add@conv1"], regions=tiny_regions(8, 4),
                           results_dir=tmp_path, progress=False)  # fmt: skip
    assert table.methods == ["image", "attn-add@conv1"]
    assert table.provenance["experiment"]["model_options"] == {"mask_resize": "max"}
    with pytest.raises(ValueError, match="unknown method 'attn-div@conv1'"):
        experiment.run(["attn-div@conv1"], regions=tiny_regions(8, 4), results_dir=tmp_path)


# ---------------------------------------------------------------------------- COCO regions


@pytest.fixture(scope="module")
def coco_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiments-coco")
    make_synthetic_coco(root, "train2017", n_images=10, seed=1)
    make_synthetic_coco(root, "val2017", n_images=6, seed=2)
    return root


@pytest.fixture
def tiny_coco(monkeypatch, coco_folder, tmp_path):
    """The quick COCO experiment shrunk, reading the synthetic folder, its shapes as the
    categories."""
    monkeypatch.setenv("ROIATTN_COCO_ROOT", str(coco_folder))
    monkeypatch.setenv("ROIATTN_DATA", str(tmp_path / "data"))
    return experiments.coco("quick").replace(
        image_size=32, batch_size=4, epochs=1, max_train=12, max_test=8, categories=SHAPES
    )


def test_quick_categories_have_regions_to_learn_and_to_measure():
    """The reason for the quick profile's choice, on coco-mini when it is here: every chosen
    category has at least 50 training and 25 test regions."""
    root = real_coco_root()
    if root is None or not (root / "annotations" / "instances_train2017.json").is_file():
        pytest.skip("no real COCO folder with train2017 and val2017")
    categories = experiments.coco("quick").data.categories
    for split, least in [("train2017", 50), ("val2017", 25)]:
        regions = COCORegions(root, split, categories=categories)
        counts = np.bincount(regions.labels, minlength=len(regions.classes))
        assert counts.min() >= least, dict(zip(regions.classes, counts.tolist(), strict=True))


def test_coco_regions_caps_caches_and_keeps_per_item_arrays(tiny_coco, coco_folder):
    data = tiny_coco.regions()
    assert data.source.kind == "env"
    assert "train2017" in data.source.note and "val2017" in data.source.note
    assert data.train.classes == data.test.classes == list(SHAPES)
    assert len(data.train) == 12 and len(data.test) == 8
    assert isinstance(data.train, RegionCache)  # num_workers=0: read once, kept
    assert isinstance(data.train.dataset, RegionSubset)  # capped: a seeded choice of the regions
    full = COCORegions(coco_folder, "train2017", image_size=32, categories=SHAPES)
    assert len(full) > 12
    keep = data.train.dataset.indices
    np.testing.assert_array_equal(data.train.labels, full.labels[keep])
    np.testing.assert_array_equal(data.train.areas, full.areas[keep])
    np.testing.assert_array_equal(data.train.image_ids, full.image_ids[keep])
    assert f"[12 of {len(full)} regions]" in data.train.description
    assert data.train.view == "context" and data.train.image_size == 32
    item = data.train[3]
    assert item is data.train[3]  # read once, then kept
    assert item["label"] == data.train.labels[3]
    assert data.train[-1] is data.train[11]
    with pytest.raises(IndexError):
        data.train[12]
    again = tiny_coco.regions()  # the same choice every time
    np.testing.assert_array_equal(again.train.dataset.indices, keep)
    # a folder given to the experiment is read instead of the environment's
    given = tiny_coco.replace(root=coco_folder).regions()
    assert given.source.kind == "given"
    np.testing.assert_array_equal(given.train.labels, data.train.labels)
    with pytest.raises(FileNotFoundError, match="no annotations/instances_train2017.json"):
        tiny_coco.replace(root=coco_folder / "nowhere").regions()


def test_the_gpu_profiles_take_every_category(monkeypatch, coco_folder, tmp_path):
    monkeypatch.setenv("ROIATTN_COCO_ROOT", str(coco_folder))
    monkeypatch.setenv("ROIATTN_DATA", str(tmp_path))
    data = experiments.coco("paper").replace(image_size=32).regions()
    assert isinstance(data.train, COCORegions)  # workers read the files: nothing kept in memory
    assert data.train.classes == ["disc", "square", "triangle", "bar"]  # all, in COCO id order
    assert data.train.image_size == 32 and data.train.view == "context"
    # one Colab session: each region read once and kept, so two CPU cores never starve the GPU
    kept = experiments.coco("colab").replace(image_size=32).regions()
    assert isinstance(kept.train, RegionCache) and kept.train.classes == data.train.classes


def test_the_sampler_is_class_balanced_and_seeded(tiny_coco):
    data = tiny_coco.regions()
    sampler = tiny_coco.sampler(data.train)
    assert isinstance(sampler, ClassBalancedSampler) and sampler.num_samples == len(data.train)
    assert repr(sampler) == "ClassBalancedSampler(num_samples=12, seed=0)"  # the first seed
    draws = tiny_coco.sampler(data.train, seed=5)
    assert draws.seed == 5
    many = np.concatenate([draws.sample(epoch) for epoch in range(200)])
    shares = np.bincount(data.train.labels[many], minlength=3) / len(many)
    assert np.allclose(shares, 1 / 3, atol=0.05)
    assert experiments.shapes("quick").sampler(data.train) is None  # a plain shuffle


def test_coco_comparison_trains_once_then_loads(tiny_coco):
    experiment = tiny_coco.replace(max_steps=2, seeds=(0, 1))
    methods = ["hard@input", "attn-add@conv1"]  # both findings methods: trained with both seeds
    first = experiment.run(methods, progress=False, save_models=True)
    assert first.path == experiments.results_dir() / f"{experiment.file_name}.json"
    assert first.provenance["cached"] == [] and first.provenance["source_kind"] == "env"
    assert first.scheme == "paper"
    assert all(first.seeds(m) == [0, 1] for m in methods)
    model = first.load_model("attn-add@conv1", 1)
    assert model.classes == list(SHAPES)
    # chapter 7: the same call, fresh data objects, everything loaded
    second = experiment.run(methods, progress=False)
    assert second.provenance["cached"] == sorted(f"{m}@{s}" for m in methods for s in (0, 1))
    assert second.table() == first.table()
    # another variant, another file; the runs are still shared
    other = experiment.replace(methods=("hard@input",)).run(progress=False)
    assert other.path.name != first.path.name and other.methods == ["hard@input"]
    assert other.provenance["cached"] == ["hard@input@0", "hard@input@1"]


# ---------------------------------------------------------------------------- paired gaps


def _report(labels, predictions, areas, method="", image_ids=None):
    return Report(labels, predictions, areas, ["a", "b"], method=method, image_ids=image_ids)


def test_paired_gaps_by_hand():
    areas = [500.0] * 4 + [5000.0] * 4  # COCO small, then medium; no large region
    labels = [0, 1, 0, 1, 0, 1, 0, 1]
    truth = np.array(labels)
    a = _report(labels, truth, areas)  # all right
    b = _report(labels, np.where(np.arange(8) < 4, 1 - truth, truth), areas)  # small all wrong
    gaps = {g.label: g for g in paired_gaps(a, b, "coco", resamples=500)}
    assert list(gaps) == ["small", "medium", "large", "overall"]
    small, medium, large, overall = gaps.values()
    assert (small.count, small.a, small.b, small.difference) == (4, 1.0, 0.0, 1.0)
    assert small.low == small.high == 1.0 and small.sign == 1  # no spread: every resample agrees
    assert medium.difference == medium.low == medium.high == 0.0 and medium.sign == 0
    assert large.count == 0 and math.isnan(large.difference) and large.sign == 0
    assert str(large) == "–" and str(small) == "+100.0 [+100.0, +100.0]"
    assert overall.difference == 0.5 and overall.low <= 0.5 <= overall.high
    assert overall.images == 8
    reverse = paired_gaps(b, a, "coco", resamples=500)
    assert reverse[0].sign == -1
    # the bootstrap draws images: two regions to an image, four images
    grouped = [_report(labels, r.predictions, areas, image_ids=np.arange(8) // 2) for r in (a, b)]
    assert paired_gaps(*grouped, "coco", resamples=100)[-1].images == 4


def test_paired_gaps_are_seeded_and_checked():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    areas = rng.uniform(100, 20000, 60)
    a = _report(labels, np.where(rng.random(60) < 0.7, labels, 1 - labels), areas)
    b = _report(labels, np.where(rng.random(60) < 0.5, labels, 1 - labels), areas)
    one = paired_gaps(a, b, seed=3)
    assert one == paired_gaps(a, b, seed=3)
    for gap in one:
        if gap.count:
            assert gap.low <= gap.difference <= gap.high
    assert paired_gaps(a, b, "paper")[-1].label == "overall"
    other = _report(labels[::-1], labels[::-1], areas)
    with pytest.raises(ValueError, match="same test instances"):
        paired_gaps(a, other)
    with pytest.raises(ValueError, match="no size binning"):
        paired_gaps(a, b, "nonsense")
    with pytest.raises(ValueError, match="level"):
        paired_gaps(a, b, level=1.5)


# ---------------------------------------------------------------------------- verdicts


def gap(low: float, high: float, per_seed: tuple[float, ...] = ()) -> Gap:
    """A gap with the interval ``[low, high]`` and its middle as the difference."""
    middle = (low + high) / 2
    return Gap("small", 100, 50, 0.5 + middle, 0.5, middle, low, high, per_seed)


@pytest.mark.parametrize(
    "low, high, better, not_better",
    [
        (0.10, 0.30, "agrees", "contradicts"),  # above 0
        (-0.30, -0.10, "contradicts", "agrees"),  # below 0
        (-0.03, 0.04, "contradicts", "agrees"),  # holds 0, within ±5: equivalent
        (-0.02, 0.12, "not shown", "not shown"),  # holds 0, reaches past +5
        (-0.12, 0.02, "not shown", "not shown"),  # holds 0, reaches past -5
        (-0.05, 0.02, "not shown", "not shown"),  # the margin itself is not within it
        (0.01, 0.03, "agrees", "contradicts"),  # above 0, if by less than the margin
    ],
)
def test_verdict_reads_the_interval_against_the_margin(low, high, better, not_better):
    assert verdict(gap(low, high), "better", 0.05).agreement == better
    assert verdict(gap(low, high), "not better", 0.05).agreement == not_better


def test_verdict_texts_and_the_seeds_rule():
    assert verdict(gap(0.1, 0.3), "better", 0.05).text == "higher"
    assert verdict(gap(-0.3, -0.1), "better", 0.05).text == "lower"
    assert verdict(gap(-0.03, 0.04), "not better", 0.05).text == "equivalent within ±5"
    assert verdict(gap(0.01, 0.03), "better", 0.05).text == "higher, by less than 5 points"
    past = verdict(gap(-0.02, 0.12), "better", 0.05)
    assert past.text == "the interval holds 0 and reaches past ±5"
    # a wider margin makes the same interval equivalent
    assert verdict(gap(-0.02, 0.12), "not better", 0.15).agreement == "agrees"
    # every seed must point the way the interval does
    agreeing = verdict(gap(0.1, 0.3, (0.15, 0.25, 0.2)), "better", 0.05)
    assert agreeing == experiments.Verdict("agrees", "higher, in all 3 seeds")
    for expect in ("better", "not better"):
        split = verdict(gap(0.1, 0.3, (0.4, -0.01)), expect, 0.05)
        assert split.agreement == "not shown"
        assert split.text == "higher on average, but the seeds disagree (+40.0, -1.0)"
        below = verdict(gap(-0.3, -0.1, (-0.4, 0.02)), expect, 0.05)
        assert below.agreement == "not shown" and "seeds disagree" in below.text
    # equivalence holds even when tiny per-seed differences differ in sign
    tiny_split = verdict(gap(-0.03, 0.04, (0.01, -0.01)), "not better", 0.05)
    assert tiny_split.agreement == "agrees"
    empty = Gap("large", 0, 0, *([math.nan] * 5))
    assert verdict(empty, "better", 0.05) == experiments.Verdict("not shown", "no regions")
    with pytest.raises(ValueError, match="expect must be 'better' or 'not better'"):
        verdict(gap(0.1, 0.3), "worse", 0.05)


def _findings_comparison(seeds: int = 1) -> Comparison:
    """The five methods of the findings on 40 one-region images: 20 small, 20 large (COCO
    bins). attn-add@conv1 and attn-add@all are right everywhere; hard attention and the layer3
    merge are wrong on every small region and right on every large one."""
    labels = np.arange(40) % 2
    areas = np.array([500.0] * 20 + [20000.0] * 20)
    small_wrong = np.where(np.arange(40) < 20, 1 - labels, labels)
    answers = {
        "attn-add@conv1": labels,
        "hard@input": small_wrong,
        "hard@conv1": small_wrong,
        "attn-add@layer3": small_wrong,
        "attn-add@all": labels,
    }
    runs = {
        method: [
            Run(
                method,
                seed,
                "k",
                Report(labels, answer, areas, ["a", "b"], method=method),
                History(method),
                {},
                {},
            )  # fmt: skip
            for seed in range(seeds)
        ]
        for method, answer in answers.items()
    }
    return Comparison(runs, {"profile": "test", "train_counts": [20, 20]})


def test_check_findings_on_a_tiny_comparison():
    checks = experiments.check_findings(_findings_comparison(), resamples=300)
    assert [c.finding for c in checks] == list(experiments.FINDINGS)
    labels = ["small", "medium", "large", "overall"]
    verdicts = {c.finding.name: [v.agreement for v in c.verdicts] for c in checks}
    assert all([g.label for g in c.gaps] == labels for c in checks)
    # attention beats hard attention and the layer3 merge on small regions; on large ones it
    # is equivalent, which contradicts "considerably better"; no medium region
    for name in (
        "1: attn-add@conv1 − hard@input",
        "1: attn-add@conv1 − hard@conv1",
        "2: attn-add@conv1 − attn-add@layer3",
    ):
        assert verdicts[name] == ["agrees", "not shown", "contradicts", "agrees"]
    # several maps are the same as one: equivalent everywhere
    assert verdicts["3: attn-add@all − attn-add@conv1"] == [
        "agrees", "not shown", "agrees", "agrees",
    ]  # fmt: skip
    first, third = checks[0], checks[3]
    assert first.gaps[0].difference == 1.0 and first.gaps[2].difference == 0.0
    assert first.overall[0] is first.gaps[-1] and first.overall[1] is first.verdicts[-1]
    contrast = first.small_vs_large
    assert contrast.label == "small − large" and contrast.difference == 1.0
    assert contrast.sign == 1
    assert third.small_vs_large is None  # only finding 1 is about small regions
    text = experiments.findings_markdown(checks)
    assert text.count("- Finding ") == 4 and text.count("**contradicts**") == 3
    assert "  - small (n=20): +100.0 [+100.0, +100.0] points, higher: **agrees**" in text
    assert "the gap on small regions minus the gap on large ones is +100.0" in text
    significant = experiments.significant_gaps(checks)
    assert {(name, g.label) for name, g in significant} == {
        (name, label)
        for name in (
            "1: attn-add@conv1 − hard@input",
            "1: attn-add@conv1 − hard@conv1",
            "2: attn-add@conv1 − attn-add@layer3",
        )  # fmt: skip
        for label in ("small", "overall")
    }
    # a finding whose methods the comparison lacks is left out
    partial = _findings_comparison()
    del partial.runs["hard@conv1"], partial.runs["attn-add@layer3"]
    names = [c.finding.name for c in experiments.check_findings(partial, resamples=100)]
    assert names == ["1: attn-add@conv1 − hard@input", "3: attn-add@all − attn-add@conv1"]


def test_check_findings_uses_every_seed():
    checks = experiments.check_findings(_findings_comparison(seeds=3), resamples=300)
    small, _, large, _ = checks[0].gaps
    assert small.per_seed == (1.0, 1.0, 1.0) and large.per_seed == (0.0, 0.0, 0.0)
    assert checks[0].verdicts[0].text == "higher, in all 3 seeds"
    with pytest.raises(ValueError, match="no size binning 'nonsense'"):
        experiments.check_findings(_findings_comparison(), scheme="nonsense", resamples=10)


# ---------------------------------------------------------------------------- results files


def test_bad_arguments_and_files(tmp_path):
    regions = tiny_regions(8, 4)
    with pytest.raises(ValueError, match="unknown method 'attn-div@conv1'"):
        compare(tiny(), ["attn-div@conv1"], regions=regions, results_dir=tmp_path)
    with pytest.raises(ValueError, match="distinct method ids"):
        compare(tiny(), ["image", "image"], regions=regions, results_dir=tmp_path)
    with pytest.raises(ValueError, match="distinct method ids"):
        compare(tiny(), [], regions=regions, results_dir=tmp_path)
    mismatched = Regions(regions.train, TinyRegions(4, num_classes=2), regions.source)
    with pytest.raises(ValueError, match="other classes"):
        compare(tiny(), ["image"], regions=mismatched, results_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="no results at"):
        load_results(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_results(tmp_path / "bad.json")
    (tmp_path / "old.json").write_text(json.dumps({"kind": "roiattn.comparison", "version": 1}))
    with pytest.raises(ValueError, match="not a roiattn comparison of this version"):
        load_results(tmp_path / "old.json")
    assert not (tmp_path / "runs").exists()  # every one refused before anything ran


def test_reference_results_name_what_the_package_ships():
    names = experiments.reference_names()
    assert names == sorted(names)
    for name in names:
        assert isinstance(experiments.reference_results(name), Comparison)
    with pytest.raises(ValueError, match=r"no reference results 'nowhere': the package ships \["):
        experiments.reference_results("nowhere")
    # each experiment's own: the COCO ones are not mixed with the learning curve's
    coco = experiments.reference_names("coco")
    assert coco and all(n.startswith(("coco-quick-", "coco-full-")) for n in coco)
    pretrained = experiments.reference_names("coco-pretrained")
    assert pretrained and set(pretrained).isdisjoint(coco)
    assert set(experiments.reference_names("shapes")).isdisjoint(coco)
    assert set(coco) | set(pretrained) | set(experiments.reference_names("shapes")) == set(names)


def test_the_learning_curve_separates_scenes_from_steps():
    curve = experiments.shapes_curve("quick")
    largest = max(experiments.CURVE_SCENES)
    base = experiments.shapes("quick")
    assert curve[f"{largest}-scenes"].data == base.replace(train_scenes=largest).data
    for experiment in curve.values():
        assert experiment.seeds == profiles.get("quick").seeds
        assert all(experiment.seeds_of(m) == experiment.seeds for m in experiments.CURVE_METHODS)
    steps = largest * base.training.epochs  # scenes seen, proportional to steps
    for n in experiments.CURVE_SCENES[:-1]:
        assert curve[f"{n}-scenes"].training.epochs == base.training.epochs
        same = curve[f"{n}-scenes-same-steps"]
        assert same.data.train_scenes == n
        assert abs(n * same.training.epochs - steps) / steps < 0.1


# ---------------------------------------------------------------------------- one command


def test_the_command_line_and_the_chapter_give_identical_results(tmp_path, capsys):
    """``python -m roiattn compare --experiment shapes`` and chapter 5's call, each training
    its own runs in its own folder, give the same table and the same predictions."""
    flags = ["--train-scenes", "2", "--test-scenes", "2", "--image-size", "32",
             "--epochs", "1", "--max-steps", "2", "--batch-size", "4",
             "--arch", "resnet10_w32"]  # fmt: skip
    cli_dir, chapter_dir = tmp_path / "cli", tmp_path / "chapter"
    argv = ["compare", "--experiment", "shapes", "--profile", "quick", *flags,
            "--results", str(cli_dir), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    chapter = (
        experiments.get("shapes", "quick")
        .replace(
            train_scenes=2,
            test_scenes=2,
            image_size=32,
            epochs=1,
            max_steps=2,
            batch_size=4,
            arch="resnet10_w32",
        )  # fmt: skip
        .run(results_dir=chapter_dir, progress=False)
    )
    saved = list(cli_dir.glob("*.json"))
    assert len(saved) == 1
    cli = load_results(saved[0])
    assert cli.provenance["cached"] == chapter.provenance["cached"] == []  # trained apart
    assert cli.methods == chapter.methods == list(experiments.SHAPES_METHODS)  # no ids: all
    for metric in ("mean_class", "accuracy"):
        assert cli.table(metric) == chapter.table(metric)
    for method in chapter.methods:
        ours, theirs = cli.runs[method], chapter.runs[method]
        assert [r.seed for r in ours] == [r.seed for r in theirs] == [0]
        assert [r.key for r in ours] == [r.key for r in theirs]  # either would load the other's
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a.report.predictions, b.report.predictions)
            assert a.history.loss == b.history.loss
    settings = [
        {k: v for k, v in c.provenance["experiment"].items() if k != "variant"}
        for c in (cli, chapter)
    ]
    assert settings[0] == settings[1]
    assert chapter.to_markdown() in printed
    assert f"saved {saved[0]}" in printed


def test_a_shipped_run_is_used_only_where_a_run_with_its_key_is_missing(
    tmp_path, monkeypatch, capsys
):
    """Runs shipped in the package are found like saved ones, by key: the same settings, seed
    and data give the shipped run; another seed, or a request for the model, trains."""
    from roiattn.experiments import runner

    made = compare(tiny(), ["image"], regions=tiny_regions(), results_dir=tmp_path / "made",
                   progress=False)  # fmt: skip
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for run_file in (tmp_path / "made" / "runs").glob("*.json"):
        run_file.rename(shipped / run_file.name)
    monkeypatch.setattr(runner, "shipped_runs", lambda: shipped)
    again = compare(tiny(), ["image"], regions=tiny_regions(), results_dir=tmp_path / "reader")
    printed = capsys.readouterr().out
    assert "1 of 1 runs loaded instead of trained: 1 shipped with the package" in printed
    run = again.runs["image"][0]
    assert run.cached and run.provenance["shipped"]
    assert np.array_equal(run.report.predictions, made.runs["image"][0].report.predictions)
    assert not (tmp_path / "reader" / "runs").exists()  # nothing trained, nothing copied
    other_seed = compare(tiny(seeds=(4,)), ["image"], regions=tiny_regions(),
                         results_dir=tmp_path / "reader", progress=False)  # fmt: skip
    assert not other_seed.runs["image"][0].cached
    with_model = compare(tiny(), ["image"], regions=tiny_regions(), results_dir=tmp_path / "m",
                         save_models=True, progress=False)  # fmt: skip
    assert not with_model.runs["image"][0].cached


def test_the_shipped_runs_are_the_ones_chapter_7_asks_for_on_coco_mini(monkeypatch):
    """Chapter 7 trains its runs on the pretrained network only where the package does not ship
    them: on coco-mini (the book's CI and published build) every one of them is shipped, so a
    change of settings or of the code that trains them (both change their keys) fails here, not
    as a slow build. To ship them again: execute chapter 7, then
    ``tools/make_reference_results.py ship-runs`` (its docstring gives the names)."""
    from roiattn.experiments.runner import _run_key, run_stem, shipped_runs

    if real_coco_root() is None:
        pytest.skip("the shipped runs are made on coco-mini, which is not on this machine")
    monkeypatch.setenv("ROIATTN_COCO_ROOT", str(real_coco_root()))
    attention, hard = "attn-add@conv1", "hard@input"
    pretrained = experiments.coco_pretrained("quick")
    asked = [
        (pretrained, ["image", attention, hard]),
        (pretrained.replace(weights=None), [attention, hard]),
        (pretrained.replace(view="image"), ["image", attention, hard]),
        (pretrained.replace(branch_lr_scale=100), [attention]),
    ]
    regions = {}
    for experiment, methods in asked:
        view = experiment.data.view
        if view not in regions:
            regions[view] = experiment.regions()
        train, test = regions[view].train, regions[view].test
        data = {"train": train.provenance(), "test": test.provenance()}
        for method in methods:
            for seed in experiment.seeds_of(method):
                key = _run_key(experiment, method, seed, data, "cpu")
                stem = run_stem(method, seed, key)
                shipped = (shipped_runs() / f"{stem}.json").exists()
                stale = f"not shipped (stale code?): {method}, {experiment.summary()}"
                assert shipped, stale


def test_the_code_fingerprint_follows_what_runs_not_how_it_is_documented(tmp_path):
    """A run saved by other training code is stale: the fingerprint in its key changes with any
    change to the code under RUN_CODE, and not with a comment, a docstring or the code that only
    finds the data."""
    import shutil

    from roiattn.experiments.runner import RUN_CODE, code_fingerprint, fingerprint_code

    package = Path(experiments.__file__).resolve().parents[1]
    copy = tmp_path / "roiattn"
    for name in RUN_CODE:
        source, target = package / name, copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    assert fingerprint_code(copy) == code_fingerprint()
    masks = copy / "masks.py"
    original = masks.read_text()
    masks.write_text(original.replace('"""', '"""Reworded. ', 1) + "\n# a comment\n")
    assert fingerprint_code(copy) == code_fingerprint()
    masks.write_text(original + "\nEXTRA = 1\n")
    assert fingerprint_code(copy) != code_fingerprint()
    (copy / "train" / "new_module.py").write_text("STEP = 2\n")
    masks.write_text(original)
    assert fingerprint_code(copy) != code_fingerprint()
    (copy / "train" / "new_module.py").unlink()
    assert fingerprint_code(copy) == code_fingerprint()
    # where the data come from is not what a run computes: a change to the downloader retrains
    # nothing (the data's own fingerprint is in the key apart)
    (copy / "data" / "download.py").write_text("MIRROR = 'elsewhere'\n")
    assert fingerprint_code(copy) == code_fingerprint()
    windows = copy / "data" / "windows.py"
    windows.write_text(windows.read_text() + "X = 1\n")
    assert fingerprint_code(copy) != code_fingerprint()


def test_a_run_key_changes_with_the_code_fingerprint(monkeypatch):
    from roiattn.experiments import runner

    data = {"train": {"description": "a", "fingerprint": "a"},
            "test": {"description": "b", "fingerprint": "b"}}  # fmt: skip
    before = runner._run_key(tiny(), "image", 0, data, "cpu")
    monkeypatch.setattr(runner, "code_fingerprint", lambda: "other code")
    assert runner._run_key(tiny(), "image", 0, data, "cpu") != before
