"""The shared COCO recipe of chapters 4, 6 and 7: data, settings, the comparison and its cache,
and the paired intervals chapter 6 judges the paper's findings with. Tiny sizes, a synthetic
COCO folder with both splits."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from torch.utils.data import Subset

from conftest import make_synthetic_coco, real_coco_root
from roiattn import profiles, recipes
from roiattn.data import COCORegions
from roiattn.evaluate import Report
from roiattn.models import build_model
from roiattn.train import fit

SHAPES = ("disc", "square", "triangle")  # categories of the synthetic folder


@pytest.fixture(scope="module")
def coco_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipes-coco")
    make_synthetic_coco(root, "train2017", n_images=10, seed=1)
    make_synthetic_coco(root, "val2017", n_images=6, seed=2)
    return root


@pytest.fixture
def tiny(monkeypatch, coco_folder, tmp_path):
    """The quick profile shrunk, reading the synthetic folder, the shapes as its categories."""
    monkeypatch.setenv("ROIATTN_COCO_ROOT", str(coco_folder))
    monkeypatch.setenv("ROIATTN_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(recipes, "QUICK_CATEGORIES", SHAPES)
    return profiles.get("quick").replace(
        image_size=32, batch_size=4, epochs=1, max_train_items=12, max_test_items=8
    )


def test_the_profile_chooses_categories_and_folders(monkeypatch, tmp_path):
    assert recipes.coco_categories("quick") == recipes.QUICK_CATEGORIES
    assert recipes.coco_categories(profiles.get("full")) is None  # all 80 with ImageNet weights
    monkeypatch.setenv("ROIATTN_DATA", str(tmp_path))
    assert recipes.results_dir() == tmp_path / "results"
    assert recipes.comparison_name("quick") == "coco-quick"
    assert recipes.comparison_name(profiles.get("full")) == "coco-full"


def test_every_method_of_the_chapter_builds():
    assert len(set(recipes.COCO_METHODS)) == len(recipes.COCO_METHODS) == 10
    for method in recipes.COCO_METHODS:
        assert build_model(method, "resnet18", num_classes=3).method == method


def test_quick_categories_have_regions_to_learn_and_to_measure():
    """The reason for the quick profile's choice, on coco-mini when it is here: every chosen
    category has at least 50 training and 25 test regions."""
    root = real_coco_root()
    if root is None or not (root / "annotations" / "instances_train2017.json").is_file():
        pytest.skip("no real COCO folder with train2017 and val2017")
    for split, least in [("train2017", 50), ("val2017", 25)]:
        regions = COCORegions(root, split, categories=recipes.QUICK_CATEGORIES)
        counts = np.bincount(regions.labels, minlength=len(regions.classes))
        assert counts.min() >= least, dict(zip(regions.classes, counts.tolist(), strict=True))


def test_training_settings_are_fit_arguments_from_the_profile():
    profile = profiles.get("full")
    settings = recipes.training_settings(profile)
    assert set(settings) <= set(inspect.signature(fit).parameters)
    assert settings["lr"] == profile.lr and settings["epochs"] == profile.epochs
    assert settings["amp"] is None and settings["channels_last"] is None  # on where CUDA is
    quick = recipes.training_settings("quick")
    assert quick["amp"] is False and quick["channels_last"] is False


def test_coco_regions_caps_caches_and_keeps_per_item_arrays(tiny):
    data = recipes.coco_regions(tiny)
    assert data.source.kind == "env"
    assert "train2017" in data.source.note and "val2017" in data.source.note
    assert data.train.classes == data.test.classes == list(SHAPES)
    assert len(data.train) == 12 and len(data.test) == 8
    assert isinstance(data.train, recipes.RegionCache)
    assert isinstance(data.train.dataset, Subset)  # capped: a seeded choice of the regions
    full = COCORegions(data.source.root, "train2017", image_size=32, categories=SHAPES)
    assert len(full) > 12
    keep = np.asarray(data.train.dataset.indices)
    np.testing.assert_array_equal(data.train.labels, full.labels[keep])
    np.testing.assert_array_equal(data.train.areas, full.areas[keep])
    assert "a subset: 12 of" in data.train.description
    item = data.train[3]
    assert item is data.train[3]  # read once, then kept
    assert item["label"] == data.train.labels[3]
    assert data.train[-1] is data.train[11]
    with pytest.raises(IndexError):
        data.train[12]
    again = recipes.coco_regions(tiny)  # the same choice every time
    np.testing.assert_array_equal(again.train.dataset.indices, keep)


def test_the_full_profile_takes_every_category_uncached(monkeypatch, coco_folder, tmp_path):
    monkeypatch.setenv("ROIATTN_COCO_ROOT", str(coco_folder))
    monkeypatch.setenv("ROIATTN_DATA", str(tmp_path))
    full = profiles.get("full").replace(image_size=32)
    data = recipes.coco_regions(full)
    assert isinstance(data.train, COCORegions)  # workers read the files: nothing kept in memory
    assert data.train.classes == ["disc", "square", "triangle", "bar"]  # all, in COCO id order
    assert data.train.image_size == 32 and data.train.view == recipes.VIEW


def test_the_sampler_is_class_balanced_and_named(tiny):
    data = recipes.coco_regions(tiny)
    sampler = recipes.coco_sampler(data.train, tiny)
    assert sampler.num_samples == len(data.train)
    assert sampler.description == f"ClassBalancedSampler(num_samples=12, seed={tiny.seed})"
    draws = recipes.coco_sampler(data.train, tiny.replace(seed=5))
    many = np.concatenate([draws.sample(epoch) for epoch in range(200)])
    shares = np.bincount(data.train.labels[many], minlength=3) / len(many)
    assert np.allclose(shares, 1 / 3, atol=0.05)


def test_coco_comparison_trains_once_then_loads(tiny, tmp_path):
    methods = ["image", "attn-add@conv1"]
    data = recipes.coco_regions(tiny)
    first = recipes.coco_comparison(tiny, methods, data=data, progress=False)
    assert first.path == recipes.results_dir() / "coco-quick+.json"
    assert first.provenance["cached"] == []
    assert first.scheme == "paper"
    assert "ClassBalancedSampler(num_samples=12" in first.provenance["settings"]["sampler"]
    model = first.load_model("attn-add@conv1")
    assert model.classes == list(SHAPES)
    # chapter 7: the same call, fresh data objects, everything loaded
    second = recipes.coco_comparison(tiny, methods, progress=False)
    assert second.provenance["cached"] == methods
    assert second.table() == first.table()
    # another name, another file; the runs are still shared
    other = recipes.coco_comparison(tiny, ["image"], data=data, name="mine", progress=False)
    assert other.path.name == "mine.json" and other.provenance["cached"] == ["image"]


def _report(labels, predictions, areas, method=""):
    return Report(labels, predictions, areas, ["a", "b"], method=method)


def test_paired_gaps_by_hand():
    areas = [500.0] * 4 + [5000.0] * 4  # COCO small, then medium; no large region
    labels = [0, 1, 0, 1, 0, 1, 0, 1]
    truth = np.array(labels)
    a = _report(labels, truth, areas)  # all right
    b = _report(labels, np.where(np.arange(8) < 4, 1 - truth, truth), areas)  # small all wrong
    gaps = {g.label: g for g in recipes.paired_gaps(a, b, "coco", resamples=500)}
    assert list(gaps) == ["small", "medium", "large", "overall"]
    small, medium, large, overall = gaps.values()
    assert (small.count, small.a, small.b, small.difference) == (4, 1.0, 0.0, 1.0)
    assert small.low == small.high == 1.0 and small.sign == 1  # no spread: every resample agrees
    assert medium.difference == medium.low == medium.high == 0.0 and medium.sign == 0
    assert large.count == 0 and math.isnan(large.difference) and large.sign == 0
    assert overall.difference == 0.5 and overall.low <= 0.5 <= overall.high
    reverse = recipes.paired_gaps(b, a, "coco", resamples=500)
    assert reverse[0].sign == -1
    table = recipes.gaps_table({"a − b": list(gaps.values())})
    assert "+100.0 [+100.0, +100.0]" in table and "small (n=4)" in table and "–" in table


def test_paired_gaps_are_seeded_and_checked():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    areas = rng.uniform(100, 20000, 60)
    a = _report(labels, np.where(rng.random(60) < 0.7, labels, 1 - labels), areas)
    b = _report(labels, np.where(rng.random(60) < 0.5, labels, 1 - labels), areas)
    one = recipes.paired_gaps(a, b, seed=3)
    assert one == recipes.paired_gaps(a, b, seed=3)
    for gap in one:
        if gap.count:
            assert gap.low <= gap.difference <= gap.high
    assert recipes.paired_gaps(a, b, "paper")[-1].label == "overall"
    other = _report(labels[::-1], labels[::-1], areas)
    with pytest.raises(ValueError, match="same test instances"):
        recipes.paired_gaps(a, other)
    with pytest.raises(ValueError, match="no size binning"):
        recipes.paired_gaps(a, b, "nonsense")
    with pytest.raises(ValueError, match="level"):
        recipes.paired_gaps(a, b, level=1.5)
