"""The models: the no-op start, what the mask changes, hard attention, shapes and errors."""

import copy
import socket

import pytest
import torch
import torchvision

from roiattn.errors import WeightsUnavailableError
from roiattn.models import (
    MERGE_POINTS,
    METHODS,
    PointError,
    ROIAttentionNet,
    build_model,
    make_backbone,
    make_resnet,
    mask_boxes,
)

NO_OP_METHODS = [
    *(f"attn-{op}@{point}" for op in ("add", "mul") for point in (*MERGE_POINTS, "all")),
    "attn-add@conv1+layer3",
    "attn-mul@layer1+layer4",
    "mask-channel",
]
ARCHS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet10_w32", "efficientnet_lite0"]
VIT = "vit4_w96_p8"


def no_op_methods(arch: str) -> list[str]:
    """Every branch method on ``arch``'s own merge points: each alone, all, two together."""
    if arch != VIT:
        return NO_OP_METHODS
    points = [p.name for p in make_backbone(arch, 5).merge_points]
    alone = [f"attn-{op}@{point}" for op in ("add", "mul") for point in (*points, "all")]
    return [*alone, f"attn-add@{points[0]}+{points[2]}", f"attn-mul@{points[1]}+{points[-1]}",
            "mask-channel"]  # fmt: skip


def batch(size: int = 32, n: int = 2, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, size, size, generator=generator)
    masks = torch.zeros(n, size, size)
    masks[0, 4:12, 6:20] = 1
    masks[1, size // 2 :, size // 2 :] = 1
    return images, masks


@pytest.mark.parametrize("arch", [*ARCHS, VIT])
def test_every_side_branch_starts_as_an_exact_no_op(arch):
    images, masks = batch()
    for method in no_op_methods(arch):
        model = build_model(method, arch, num_classes=5)
        for train in (True, False):
            model.train(train)
            backbone = copy.deepcopy(model.backbone)
            # the same random draws for dropout and stochastic depth (EfficientNet) in training
            torch.manual_seed(1)
            expected = backbone(images)
            torch.manual_seed(1)
            assert torch.equal(model(images, masks), expected), (method, arch, train)
            # any mask at all: the output does not depend on it
            other = torch.rand_like(masks)
            torch.manual_seed(1)
            assert torch.equal(model(images, other), expected), (method, arch)


def test_the_mask_changes_the_output_after_one_step():
    images, masks = batch()
    labels = torch.tensor([1, 3])
    for method in ["attn-add@conv1", "attn-mul@conv1", "attn-add@layer3", "mask-channel"]:
        torch.manual_seed(0)
        model = build_model(method, "resnet18", num_classes=5).eval()
        other = 1 - masks
        assert torch.equal(model(images, masks), model(images, other))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()
        torch.nn.functional.cross_entropy(model(images, masks), labels).backward()
        optimizer.step()
        model.eval()
        assert not torch.allclose(model(images, masks), model(images, other)), method


@pytest.mark.parametrize("method", NO_OP_METHODS)
def test_gradient_reaches_the_side_branch_at_init(method):
    images, masks = batch()
    model = build_model(method, "resnet18", num_classes=5)
    model(images, masks).logsumexp(1).sum().backward()
    side = model.mask_conv if method == "mask-channel" else model.branches
    for name, parameter in side.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, (method, name)


@pytest.mark.parametrize(
    "arch, methods",
    [
        ("resnet18", METHODS),
        ("resnet50", METHODS),
        ("resnet10_w32", METHODS),
        ("efficientnet_lite0", METHODS),
        # building the big ones dominates: one method of each kind that touches every stage
        ("resnet34", ("attn-mul@all", "hard@layer3", "crop", "mask-channel")),
        ("resnet101", ("attn-mul@all", "hard@layer3", "crop", "mask-channel")),
        ("resnet152", ("attn-add@all", "hard@conv1")),
        ("resnext50_32x4d", ("attn-add@all", "hard@conv1")),
        ("wide_resnet50_2", ("attn-add@all", "hard@conv1")),
    ],
)
def test_every_method_gives_logits_for_every_arch(arch, methods):
    images, masks = batch(size=64)
    for method in methods:
        model = build_model(method, arch, num_classes=7).eval()
        with torch.no_grad():
            assert model(images, masks).shape == (2, 7), (method, arch)
        assert model.method == method


def test_attention_maps_have_the_shape_of_each_merge_point():
    images, masks = batch(size=64)
    model = ROIAttentionNet("resnet50", 3, merge_at=MERGE_POINTS)
    maps = model.attention_maps(images, masks)
    sizes = {"conv1": 32, "layer1": 16, "layer2": 8, "layer3": 4, "layer4": 2}
    channels = {"conv1": 64, "layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048}
    for point, attention in maps.items():
        assert attention.shape == (2, channels[point], sizes[point], sizes[point])
        assert torch.all(attention == 0)  # add: zero weights and bias


def test_initialisation_follows_the_paper():
    add = ROIAttentionNet("resnet18", 3, merge_at=("conv1", "layer3"), op="add")
    mul = ROIAttentionNet("resnet18", 3, merge_at=("conv1", "layer3"), op="mul")
    for branch in add.branches.values():
        assert torch.all(branch.conv.weight == 0) and torch.all(branch.conv.bias == 0)
        assert branch.conv.kernel_size == (3, 3) and branch.conv.padding == (1, 1)
    for branch in mul.branches.values():
        assert torch.all(branch.conv.weight == 0) and torch.all(branch.conv.bias == 1)
    assert add.branches["layer3"].conv.out_channels == 256  # resnet18's layer3


def test_the_small_resnet_is_a_torchvision_resnet_of_its_own_widths():
    torch.manual_seed(0)
    small = make_resnet("resnet10_w32", num_classes=4)
    assert isinstance(small, torchvision.models.ResNet)
    assert small.channels() == {
        "conv1": 32,
        "layer1": 32,
        "layer2": 64,
        "layer3": 128,
        "layer4": 256,
    }
    assert [len(getattr(small, f"layer{k}")) for k in range(1, 5)] == [1, 1, 1, 1]
    n_parameters = sum(p.numel() for p in small.parameters())
    assert n_parameters < sum(p.numel() for p in make_resnet("resnet18").parameters()) / 8
    # torchvision's initialisation: He-normal convolutions (fan out), batch norms at 1 and 0
    fan_out = small.layer3[0].conv1.out_channels * 9
    assert small.layer3[0].conv1.weight.std().item() == pytest.approx(
        (2 / fan_out) ** 0.5, rel=0.05
    )
    assert torch.all(small.bn1.weight == 1) and torch.all(small.bn1.bias == 0)
    with torch.no_grad():
        assert small(torch.randn(2, 3, 48, 48)).shape == (2, 4)
    with pytest.raises(ValueError, match="resnet10_w32 has no pretrained weights"):
        make_resnet("resnet10_w32", weights="DEFAULT")


def outside(masks: torch.Tensor, margin: int) -> torch.Tensor:
    """Pixels further than ``margin`` from every mask pixel (a dilation by max pooling)."""
    grown = torch.nn.functional.max_pool2d(masks[:, None], 2 * margin + 1, 1, margin)
    return (grown[:, 0] == 0)[:, None].expand(-1, 3, -1, -1)


@pytest.mark.parametrize("method, margin", [("hard@input", 0), ("hard@conv1", 8)])
def test_hard_attention_ignores_the_background(method, margin):
    images, masks = batch(size=64)
    model = build_model(method, "resnet18", num_classes=5).eval()
    changed = images.clone()
    far = outside(masks, margin)
    changed[far] = torch.randn(int(far.sum()))
    with torch.no_grad():
        assert torch.equal(model(images, masks), model(changed, masks))
        # while the whole-image model does see it
        plain = build_model("image", "resnet18", num_classes=5).eval()
        assert not torch.equal(plain(images, masks), plain(changed, masks))


def test_crop_ignores_everything_outside_its_box():
    images, masks = batch(size=64)
    model = build_model("crop", "resnet18", num_classes=5, margin=0.1).eval()
    boxes = mask_boxes(masks, 0.1)
    changed = images.clone()
    for i, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        keep = torch.zeros(64, 64, dtype=torch.bool)
        # roi_align samples bilinearly: the pixel just outside the box can carry weight
        keep[max(int(y0) - 1, 0) : int(y1) + 2, max(int(x0) - 1, 0) : int(x1) + 2] = True
        changed[i, :, ~keep] = torch.randn(3, int((~keep).sum()))
    with torch.no_grad():
        assert torch.equal(model(images, masks), model(changed, masks))


def test_mask_boxes_are_the_tight_box_plus_margin():
    masks = torch.zeros(2, 1, 20, 30)
    masks[0, 0, 5:10, 10:20] = 1
    boxes = mask_boxes(masks, 0.1)
    assert boxes[0].tolist() == pytest.approx([9.0, 4.5, 21.0, 10.5])
    assert boxes[1].tolist() == [0.0, 0.0, 30.0, 20.0]  # an empty mask: the whole image


def test_crop_fills_the_input_with_the_roi():
    # a horizontal ramp: each pixel holds its own column index
    images = torch.arange(64.0).expand(1, 3, 64, 64).clone()
    masks = torch.zeros(1, 64, 64)
    masks[:, 16:32, 16:32] = 1
    crops = build_model("crop", "resnet18", num_classes=2, margin=0.0).crop(images, masks)
    assert crops.shape == images.shape
    # column j of the crop samples the box's columns 16..32 at pixel centres (aligned roi_align)
    expected = 15.5 + (torch.arange(64.0) + 0.5) * 16 / 64
    torch.testing.assert_close(crops[0, 0, 10], expected)


@pytest.mark.parametrize(
    "method, message",
    [
        ("attn-add@layer9", "merge points"),
        ("attn-div@conv1", "merge op"),
        ("attn-add@conv1+conv1", "distinct"),
        ("hard@layer7", r"from \('input', 'conv1', 'layer1'"),
        ("soft", "known family"),
        ("", "known family"),
    ],
)
def test_unknown_methods_name_the_valid_choices(method, message):
    with pytest.raises(ValueError, match=message) as error:
        build_model(method, "resnet18", num_classes=3)
    assert "attn-add@conv1" in str(error.value)


@pytest.mark.parametrize("arch", ["resnet18", "efficientnet_lite0"])
def test_each_backbone_resolves_its_own_points(arch):
    """The backbone owns its merge points: their names in network order, their aliases, what
    'all' is, and 'input' for hard attention; a point it lacks is refused, naming its own."""
    backbone = make_backbone(arch, num_classes=3)
    names = tuple(point.name for point in backbone.merge_points)
    assert backbone.resolve("all") == names == MERGE_POINTS
    assert backbone.resolve(("layer3", "stem")) == ("conv1", "layer3")  # network order
    assert backbone.resolve("stage2") == ("layer2",)
    assert backbone.resolve("input", with_input=True) == ("input",)
    for wrong in ("input", ("conv1", "stem"), (), "layer5"):
        with pytest.raises(PointError, match=type(backbone).__name__):
            backbone.resolve(wrong)
    # a method says its points the backbone's way
    both = build_model("attn-add@stem+stage4", arch, num_classes=3)
    assert both.method == "attn-add@conv1+layer4"
    assert build_model("attn-mul@all", arch, num_classes=3).merge_at == names
    assert build_model("hard@stem", arch, num_classes=3).method == "hard@conv1"


def test_bad_constructor_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown arch"):
        build_model("image", "vgg16")
    with pytest.raises(ValueError, match="num_classes"):
        build_model("image", "resnet18", num_classes=0)
    with pytest.raises(PointError, match=r"points must be distinct, from \('conv1', .*conv2"):
        ROIAttentionNet("resnet18", 3, merge_at=("conv2",))
    with pytest.raises(ValueError, match="kernel_size"):
        ROIAttentionNet("resnet18", 3, kernel_size=2)
    with pytest.raises(ValueError, match="mask_resize"):
        ROIAttentionNet("resnet18", 3, mask_resize="cubic")
    with pytest.raises(ValueError, match="unknown weights"):
        build_model("image", "resnet18", weights="IMAGENET9K")


@pytest.mark.parametrize(
    "method, option, valid",
    [
        ("image", {"mask_resize": "max"}, "[]"),
        ("mask-channel", {"kernel_size": 3}, "[]"),
        ("crop", {"mask_resize": "max"}, "['margin']"),
        ("hard@conv1", {"margin": 0.2}, "['mask_resize']"),
        ("attn-add@conv1", {"margn": 0.2}, "['mask_resize', 'kernel_size']"),
    ],
)
def test_every_unknown_option_is_refused_naming_the_valid_ones(method, option, valid):
    with pytest.raises(ValueError) as error:
        build_model(method, "resnet18", num_classes=3, **option)
    assert f"takes no option {sorted(option)}" in str(error.value)
    assert f"its options are {valid}" in str(error.value)


def test_known_options_reach_the_model():
    assert build_model("crop", "resnet18", 3, margin=0.3).margin == 0.3
    assert build_model("hard@layer3", "resnet18", 3, mask_resize="area").mask_resize == "area"
    attention = build_model("attn-mul@all", "resnet18", 3, mask_resize="max", kernel_size=5)
    branch = next(iter(attention.branches.values()))
    assert (branch.mask_resize, branch.conv.kernel_size) == ("max", (5, 5))


def test_mask_parameters_are_the_parameters_that_read_the_mask():
    attention = build_model("attn-add@conv1+layer3", "resnet18", 3)
    assert {id(p) for p in attention.mask_parameters()} == {
        id(p) for p in attention.branches.parameters()
    }
    channel = build_model("mask-channel", "resnet18", 3)
    assert [id(p) for p in channel.mask_parameters()] == [id(channel.mask_conv.weight)]
    for method in ("image", "crop", "hard@input"):
        assert build_model(method, "resnet18", 3).mask_parameters() == []


@pytest.mark.parametrize(
    "images, masks, message",
    [
        (torch.randn(2, 3, 32, 32), torch.zeros(2, 16, 16), "do not match"),
        (torch.randn(2, 3, 32, 32), torch.zeros(3, 32, 32), "do not match"),
        (torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8), torch.zeros(2, 32, 32), "float"),
        (torch.randn(3, 32, 32), torch.zeros(1, 32, 32), r"\(B, 3, H, W\)"),
        (torch.randn(2, 1, 32, 32), torch.zeros(2, 32, 32), r"\(B, 3, H, W\)"),
        (torch.randn(2, 3, 32, 32), torch.full((2, 32, 32), 2.0), r"\[0, 1\]"),
        (torch.randn(2, 3, 32, 32), torch.zeros(2, 2, 32, 32), "shaped"),
    ],
)
def test_bad_batches_are_refused_with_a_clear_message(images, masks, message):
    model = build_model("attn-add@conv1", "resnet18", num_classes=3)
    with pytest.raises(ValueError, match=message):
        model(images, masks)


def test_pretrained_weights_load_from_the_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    entry = torchvision.models.ResNet18_Weights.DEFAULT
    reference = torchvision.models.resnet18()
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(reference.state_dict(), cache / entry.url.rsplit("/", 1)[-1])

    model = build_model("attn-mul@conv1+layer2", "resnet18", num_classes=4, weights="DEFAULT")
    loaded = model.backbone.state_dict()
    for name, value in reference.state_dict().items():
        if not name.startswith("fc."):
            assert torch.equal(loaded[name], value), name
    assert model.backbone.fc.out_features == 4
    for branch in model.branches.values():  # the side branches keep their no-op start
        assert torch.all(branch.conv.weight == 0) and torch.all(branch.conv.bias == 1)
    images, masks = batch()
    model.eval()
    assert torch.equal(model(images, masks), model.backbone(images))


def test_missing_weights_offline_say_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable (blocked by the test)")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(WeightsUnavailableError) as error:
        build_model("image", "resnet18", num_classes=3, weights="IMAGENET1K_V1")
    message = str(error.value)
    assert str(tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in message
    assert "weights=None" in message


def test_a_damaged_weights_file_says_to_delete_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / "resnet18-f37072fd.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailableError, match="delete it"):
        build_model("image", "resnet18", weights="IMAGENET1K_V1")


def test_blur_keeps_the_region_sharp_and_smooths_the_background():
    images, masks = batch(size=64)
    model = build_model("blur@input", "resnet18", num_classes=3, sigma=0.05)
    seen = model.blur(images, masks)
    inside = masks[:, None].expand_as(images) > 0
    assert torch.equal(seen[inside], images[inside])
    # the background keeps its low frequencies and loses its noise: white noise shrinks
    assert seen[~inside].std() < 0.5 * images[~inside].std()
    assert abs(seen[~inside].mean() - images[~inside].mean()) < 0.05
    # unlike hard attention, the background still reaches the network
    model.eval()
    changed = images + 2 * (1 - masks[:, None])
    with torch.no_grad():
        assert not torch.equal(model(images, masks), model(changed, masks))
    with pytest.raises(ValueError, match="sigma must be > 0"):
        build_model("blur@input", "resnet18", num_classes=3, sigma=0)


def test_the_model_says_its_options_and_a_checkpoint_rebuilds_it():
    from roiattn.checkpoints import model_spec, rebuild_model

    for method, options in [
        ("attn-mul@conv1+layer2", {"mask_resize": "max", "kernel_size": 5}),
        ("hard@layer3", {"mask_resize": "area"}),
        ("crop", {"margin": 0.25}),
        ("blur@input", {"sigma": 0.1}),
        ("mask-channel", {}),
    ]:
        model = build_model(method, "efficientnet_lite0", num_classes=3, **options)
        assert model.options() == options
        again = rebuild_model(model_spec(model))
        assert (again.method, again.options(), type(again.backbone)) == (
            method,
            options,
            type(model.backbone),
        )
