"""ClassBalancedSampler: class, then image, then instance, uniformly at each step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset

from roiattn.data import ClassBalancedSampler, COCORegions, ContextShapes

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

# a skewed set: class 0 has 7 items in 2 images (6 + 1), class 1 one item, class 2 two images
LABELS = [0, 0, 0, 0, 0, 0, 0, 1, 2, 2]
IMAGES = [10, 10, 10, 10, 10, 10, 11, 10, 12, 13]


def frequencies(indices: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(indices, minlength=n) / len(indices)


def test_class_then_image_then_instance():
    draws = 60_000
    sampler = ClassBalancedSampler(LABELS, IMAGES, num_samples=draws, seed=3)
    got = frequencies(sampler.sample(0), len(LABELS))
    expected = np.array(
        # class 0: image 10 (six items) or image 11 (one item), each half of a third
        [1 / 36] * 6
        + [1 / 6]
        # class 1: its only item; class 2: two images, one item each
        + [1 / 3, 1 / 6, 1 / 6]
    )
    assert expected.sum() == pytest.approx(1)
    # binomial standard error is below 0.002 for every entry: 0.01 is five of them
    assert np.abs(got - expected).max() < 0.01
    classes = np.bincount(np.asarray(LABELS)[sampler.sample(1)], minlength=3) / draws
    assert np.abs(classes - 1 / 3).max() < 0.01


def test_a_plain_shuffle_would_not_balance():
    """The point of the sampler: the skew of the data disappears."""
    rng = np.random.default_rng(0)
    labels = np.array([0] * 95 + [1] * 5)
    images = rng.integers(0, 30, size=100)
    balanced = ClassBalancedSampler(labels, images, num_samples=20_000, seed=0).sample(0)
    assert abs(np.mean(labels[balanced] == 1) - 0.5) < 0.02
    assert np.mean(labels[rng.permutation(100)] == 1) == pytest.approx(0.05)


def test_deterministic_per_seed_and_epoch():
    a = ClassBalancedSampler(LABELS, IMAGES, num_samples=50, seed=1)
    b = ClassBalancedSampler(LABELS, IMAGES, num_samples=50, seed=1)
    first, second = list(a), list(a)
    assert first == list(b) and second == list(b)  # same seed: same epochs, in order
    assert first != second  # epochs differ
    b.set_epoch(0)
    assert list(b) == first
    c = ClassBalancedSampler(LABELS, IMAGES, num_samples=50, seed=2)
    assert list(c) != first
    assert len(a) == 50
    assert all(isinstance(i, int) and 0 <= i < len(LABELS) for i in first)


def test_defaults_to_one_epoch_of_the_data():
    sampler = ClassBalancedSampler(np.array(LABELS), np.array(IMAGES))
    assert len(sampler) == len(list(sampler)) == len(LABELS)
    assert sampler.classes_present.tolist() == [0, 1, 2]


def test_missing_classes_are_never_drawn():
    sampler = ClassBalancedSampler([5, 5, 9], [1, 2, 1], num_samples=1000)
    assert set(sampler.sample(0).tolist()) == {0, 1, 2}
    assert sampler.classes_present.tolist() == [5, 9]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"labels": [0, 1], "image_ids": [1]}, "one entry per item"),
        ({"labels": [], "image_ids": []}, "non-empty"),
        ({"labels": [[0, 1]], "image_ids": [[1, 2]]}, "1-D"),
        ({"labels": [0.5, 1], "image_ids": [1, 2]}, "ints"),
        ({"labels": ["a", "b"], "image_ids": [1, 2]}, "ints"),
        ({"labels": [0, 1], "image_ids": [1, 2], "num_samples": 0}, "num_samples"),
        ({"labels": [0, 1], "image_ids": [1, 2], "num_samples": 2.5}, "num_samples"),
        ({"labels": [0, 1], "image_ids": [1, 2], "seed": -1}, "seed"),
    ],
)
def test_bad_input(kwargs, words):
    with pytest.raises(ValueError, match=words):
        ClassBalancedSampler(**kwargs)


def test_from_a_dataset_and_a_subset_without_reading_images(coco_root, monkeypatch):
    dataset = COCORegions(coco_root, "val2017", image_size=32)
    monkeypatch.setattr(COCORegions, "__getitem__", lambda *_: pytest.fail("read an image"))
    monkeypatch.setattr(COCORegions, "read", lambda *_: pytest.fail("read an image"))
    sampler = ClassBalancedSampler.from_dataset(dataset, num_samples=4000)
    drawn = dataset.labels[sampler.sample(0)]
    present = np.unique(dataset.labels)
    counts = np.bincount(drawn, minlength=len(dataset.classes))[present]
    assert counts.min() > 0 and counts.max() < 4 * counts.min()

    picked = list(range(0, len(dataset), 3))
    part = dataset.subset(picked)
    sub = ClassBalancedSampler.from_dataset(part, num_samples=500)
    indices = sub.sample(0)
    assert max(indices) < len(part)
    # the subset's own labels and images: its classes, each drawn
    assert set(part.labels[indices].tolist()) == set(dataset.labels[picked].tolist())
    expected = ClassBalancedSampler(dataset.labels[picked], dataset.image_ids[picked], 500)
    assert indices.tolist() == expected.sample(0).tolist()


def test_from_a_dataset_wants_a_region_dataset(coco_root):
    dataset = COCORegions(coco_root, "val2017", image_size=32)
    with pytest.raises(ValueError, match=r"region dataset.*got Subset.*dataset\.subset\(indices\)"):
        ClassBalancedSampler.from_dataset(Subset(dataset, [0, 1, 2]))
    with pytest.raises(ValueError, match="region dataset.*got TensorDataset") as error:
        ClassBalancedSampler.from_dataset(torch.utils.data.TensorDataset(torch.zeros(3)))
    assert ".subset" not in str(error.value)


def test_from_a_synthetic_world_and_a_repr():
    world = ContextShapes(6, 48, seed=0)
    sampler = ClassBalancedSampler.from_dataset(world, seed=4)
    assert len(sampler) == len(world)
    assert repr(sampler) == f"ClassBalancedSampler(num_samples={len(world)}, seed=4)"
    assert repr(ClassBalancedSampler(LABELS, IMAGES, num_samples=7)) == (
        "ClassBalancedSampler(num_samples=7, seed=0)"
    )
    expected = ClassBalancedSampler(world.labels, world.scene_of + 1, seed=4)
    assert sampler.sample(2).tolist() == expected.sample(2).tolist()


def test_drives_a_data_loader(coco_root):
    dataset = COCORegions(coco_root, "val2017", image_size=16)
    sampler = ClassBalancedSampler(dataset.labels, dataset.image_ids, num_samples=6, seed=0)
    labels = [int(batch["label"][0]) for batch in DataLoader(dataset, sampler=sampler)]
    assert labels == dataset.labels[sampler.sample(0)].tolist()
