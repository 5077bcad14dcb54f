"""compare: every method on the same data, budget and seed; one table with provenance, saved as
JSON the book loads; runs already made are loaded, not retrained."""

import json

import matplotlib
import pytest
import torch
from synthetic_regions import TinyRegions

from roiattn import experiments
from roiattn.benchmarks.timing import torch_threads
from roiattn.experiments import compare, load_results

matplotlib.use("Agg")

METHODS = ["image", "attn-add@conv1"]
BUDGET = dict(epochs=1, batch_size=4, lr=1e-3, eval_batch_size=8)


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


def data(n_train=16, n_test=10, **kwargs):
    return TinyRegions(n_train, **kwargs), TinyRegions(n_test, seed=1, **kwargs)


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    with torch_threads(1):
        table = compare(METHODS, *data(), "quick", results_dir=folder, seed=3, progress=False,
                        save_models=True, **BUDGET)  # fmt: skip
    return table, folder


def test_one_table_of_methods_by_size_bin(first):
    table, folder = first
    assert table.methods == METHODS
    assert table.scheme == "paper"
    columns = table.columns()
    assert columns[-2:] == ["overall", "mean class"] and columns[0] == "<1k"
    assert sum(table.counts()[c] for c in columns[:-2]) == 10
    for method in METHODS:
        report = table.report(method)
        assert table.accuracy(method) == report.accuracy
        assert table.accuracy(method, "mean class") == report.mean_class_accuracy
        row = {r.label: r for r in report.by_size()}
        for column in columns[:-2]:
            cell = table.table()[method][column]
            assert cell is None if row[column].count == 0 else cell == row[column].accuracy
        assert len(table.history(method).step) == 4  # 16 items, batches of 4, one epoch
    text = table.to_markdown()
    assert text.splitlines()[0] == f"| method | {' | '.join(columns)} |"
    assert all(f"| {m} |" in text for m in METHODS) and "| *instances* |" in text
    assert len(table.plot().axes) == 1
    with pytest.raises(ValueError, match="no column 'tiny'"):
        table.accuracy("image", "tiny")


def test_saved_with_provenance_and_loaded_back(first):
    table, folder = first
    path = folder / "comparison.json"
    assert table.path == path
    saved = json.loads(path.read_text())  # strict JSON (no NaN)
    provenance = saved["provenance"]
    assert provenance["profile"] == "quick+"  # the quick profile with a changed budget
    assert provenance["profile_settings"]["epochs"] == 1
    assert provenance["seed"] == 3
    assert provenance["data"]["train"]["count"] == 16
    assert provenance["data"]["test"]["description"] == "TinyRegions(n=10, size=32, seed=1)"
    assert provenance["device"].startswith("cpu")
    assert provenance["roiattn_version"] and "git_commit" in provenance
    assert provenance["seconds"] > 0 and set(provenance["seconds_per_method"]) == set(METHODS)
    loaded = load_results(path)
    assert loaded.to_dict() == table.to_dict()
    assert loaded.to_markdown() == table.to_markdown()
    model = loaded.load_model("attn-add@conv1")
    assert model.method == "attn-add@conv1" and model.classes == ["shade0", "shade1", "shade2"]


def test_runs_made_before_are_loaded_not_retrained(first, monkeypatch):
    table, folder = first

    def no_training(*args, **kwargs):
        raise AssertionError("retrained a run that was saved")

    monkeypatch.setattr(experiments, "fit", no_training)
    again = compare(list(reversed(METHODS)), *data(), "quick", results_dir=folder, seed=3,
                    progress=False, save_models=True, name="again", **BUDGET)  # fmt: skip
    assert all(run.cached for run in again.runs.values())
    assert again.methods == list(reversed(METHODS))
    for method in METHODS:
        assert again.report(method).to_dict() == table.report(method).to_dict()
    # another seed, budget or data is another run
    for changes in ({"seed": 4}, {"lr": 2e-3}):
        with pytest.raises(AssertionError, match="retrained"):
            compare(["image"], *data(), "quick", results_dir=folder, progress=False,
                    **{"seed": 3, **BUDGET, **changes})  # fmt: skip
    with pytest.raises(AssertionError, match="retrained"):
        compare(["image"], *data(n_test=9), "quick", results_dir=folder, seed=3,
                progress=False, **BUDGET)  # fmt: skip


def test_every_method_starts_from_the_same_backbone(monkeypatch, tmp_path):
    starts = {}
    real_fit = experiments.fit

    def recording_fit(model, *args, **kwargs):
        starts[model.method] = {k: v.clone() for k, v in model.backbone.state_dict().items()}
        kwargs["max_steps"] = 1
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(experiments, "fit", recording_fit)
    compare(["image", "hard@input", "attn-mul@conv1"], *data(8, 4), "quick",
            results_dir=None, seed=5, progress=False, **BUDGET)  # fmt: skip
    first, *others = starts.values()
    for other in others:
        assert all(torch.equal(first[k], other[k]) for k in first)


def test_the_datasets_own_bins_become_the_columns(tmp_path):
    train, test = data(8, 6, size_bins=[5000, 50000])
    table = compare(["image"], train, test, "quick", results_dir=tmp_path, seed=0,
                    progress=False, max_steps=1, **BUDGET)  # fmt: skip
    assert table.scheme == "dataset"
    assert table.columns() == ["<5k", "5k-50k", ">=50k", "overall", "mean class"]


def test_bad_arguments(tmp_path):
    train, test = data(8, 4)
    with pytest.raises(ValueError, match="unknown method 'attn-div@conv1'"):
        compare(["attn-div@conv1"], train, test, "quick", results_dir=tmp_path)
    with pytest.raises(ValueError, match="distinct method ids"):
        compare(["image", "image"], train, test, "quick", results_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        compare(["image"], train, test, "fast", results_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown profile settings"):
        compare(["image"], train, test, "quick", results_dir=tmp_path, epochz=1)
    with pytest.raises(ValueError, match="other classes"):
        compare(["image"], train, TinyRegions(4, num_classes=2), "quick", results_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="no results at"):
        load_results(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_results(tmp_path / "bad.json")
