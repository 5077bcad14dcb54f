"""predict: one image and one mask in, class names and probabilities out, from a checkpoint
alone; every kind of image and mask a reader may have; clear errors."""

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic_regions import TinyRegions

from roiattn.benchmarks.timing import torch_threads
from roiattn.checkpoints import save_checkpoint
from roiattn.data.images import denormalize
from roiattn.models import build_model
from roiattn.predict import load_model, predict
from roiattn.train import TrainSettings, fit

CLASSES = ["shade0", "shade1", "shade2"]


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained to tell region brightness, saved by fit, loaded back alone."""
    folder = tmp_path_factory.mktemp("run")
    with torch_threads(1):
        torch.manual_seed(0)
        model = build_model("attn-add@conv1", "resnet18", num_classes=3)
        settings = TrainSettings(epochs=4, batch_size=8, lr=2e-3)
        fit(model, TinyRegions(48), settings, checkpoint_dir=folder, progress=False)
    return model, load_model(folder), folder


def as_uint8(item):
    return (denormalize(item["image"]) * 255).round().astype(np.uint8)


def test_a_saved_model_predicts_from_its_checkpoint_alone(trained):
    model, _, folder = trained
    loaded = load_model(folder)
    assert loaded.classes == CLASSES and loaded.meta["image_size"] == 32
    assert not loaded.training
    data = TinyRegions(12, seed=5)
    hits = 0
    for item in (data[i] for i in range(len(data))):
        answer = predict(loaded, item["image"], item["mask"][0], top_k=3)
        assert [name for name, _ in answer] and sorted(n for n, _ in answer) == CLASSES
        probabilities = [p for _, p in answer]
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1, abs=1e-5)
        hits += answer[0][0] == CLASSES[item["label"]]
        # the same as the model that was trained, called directly
        with torch.no_grad():
            logits = model.eval()(item["image"][None], item["mask"][None])
        assert answer[0][1] == pytest.approx(float(logits.softmax(1).max()), abs=1e-5)
    assert hits >= 8  # it learnt something, and predict reads it out right


def test_pil_images_numpy_arrays_and_masks_of_every_kind(trained):
    _, model, _ = trained
    item = TinyRegions(4, seed=3)[0]
    rgb = as_uint8(item)
    mask = item["mask"][0].numpy() > 0
    expected = predict(model, rgb, mask)
    pil_mask = Image.fromarray(mask.astype(np.uint8) * 255)
    assert predict(model, Image.fromarray(rgb), pil_mask) == expected
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    assert predict(model, rgba, mask.astype(np.float32)) == expected
    gray = predict(model, Image.fromarray(rgb).convert("L"), mask, top_k=1)
    assert len(gray) == 1 and gray[0][0] in CLASSES
    # a larger photo is resized to the training size, and its small region survives
    big = np.asarray(Image.fromarray(rgb).resize((256, 256), Image.NEAREST))
    big_mask = np.zeros((256, 256), bool)
    big_mask[100:103, 50:52] = True
    assert len(predict(model, big, big_mask, top_k=10)) == 3
    named = predict(model, rgb, mask, classes=["a", "b", "c"])
    assert {n for n, _ in named} == {"a", "b", "c"}


@pytest.mark.parametrize(
    "image, mask, kwargs, message",
    [
        (np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32)), {}, "marks no pixel"),
        (np.zeros((32, 32, 3), np.uint8), np.ones((16, 16)), {}, "differ in size"),
        (np.zeros((32, 32, 3), np.float32), np.ones((32, 32)), {}, "must be uint8"),
        (np.zeros((32, 32, 2), np.uint8), np.ones((32, 32)), {}, r"\(H, W, 3\)"),
        (np.zeros((32, 32, 3), np.uint8), np.full((32, 32), 255), {}, "divide it by 255"),
        (np.zeros((32, 32, 3), np.uint8), np.ones((32, 32)), {"top_k": 0}, "top_k"),
        (np.zeros((32, 32, 3), np.uint8), np.ones((32, 32)), {"classes": ["a"]}, "1 class names"),
        ("photo.jpg", np.ones((32, 32)), {}, "image must be a PIL image"),
    ],
)
def test_bad_input_says_what_is_wrong(trained, image, mask, kwargs, message):
    _, model, _ = trained
    with pytest.raises(ValueError, match=message):
        predict(model, image, mask, **kwargs)


def test_load_model_of_a_model_only_file(tmp_path):
    model = build_model("hard@input", "resnet18", num_classes=2)
    save_checkpoint(tmp_path / "model.pt", model, classes=["cat", "dog"])
    loaded = load_model(tmp_path / "model.pt")
    image = np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    mask = np.zeros((40, 30), bool)
    mask[5:20, 5:15] = True
    answer = predict(loaded, image, mask)  # no image_size in meta: used as it is
    assert [n for n, _ in answer] in (["cat", "dog"], ["dog", "cat"])
