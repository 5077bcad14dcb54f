"""The small vision transformer behind the backbone interface, and the region restricting its
attention: every chapter 9 method builds on it, and masked attention is the computation it claims
to be, checked against one written out by hand."""

import ast
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from roiattn.experiments import VIT_METHODS
from roiattn.models import build_model, make_backbone
from roiattn.models.token_masks import attention_rule, region_tokens
from roiattn.models.vit import VIT_ARCHS

VIT = next(iter(VIT_ARCHS))
MODELS = Path(__file__).resolve().parents[1] / "roiattn" / "models"


def batch(size: int = 32, n: int = 3, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, size, size, generator=generator)
    masks = torch.zeros(n, 1, size, size)
    masks[0, :, 3:6, 3:6] = 1  # a speck inside one patch
    masks[1, :, 6:12, 10:20] = 1  # across patch borders
    masks[2, :, 16:, :] = 1  # half the image
    return images, masks


def test_it_declares_its_points_and_every_chapter_method_builds_on_it():
    backbone = make_backbone(VIT, num_classes=6)
    points = [(p.name, p.channels, p.stride) for p in backbone.merge_points]
    assert points[0] == ("stem", 96, 8)  # the patch embedding, at the patch stride
    assert [p[0] for p in points[1:]] == [f"block{k}" for k in range(1, 5)]
    images, masks = batch()
    for method in (*VIT_METHODS, "attn-add@all", "hard@block2", "blur@input"):
        model = build_model(method, VIT, num_classes=6)
        assert model(images, masks).shape == (3, 6), method
    assert build_model("attn-add@conv1", VIT, 6).method == "attn-add@stem"  # the CNNs' name
    # position embeddings follow the grid: 48 and 64 pixels both work
    for size in (48, 64):
        assert backbone(torch.randn(2, 3, size, size)).shape == (2, 6)


def test_what_it_cannot_do_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="mask-attn restricts a transformer's attention"):
        build_model("mask-attn", "resnet10_w32", 6)
    with pytest.raises(ValueError, match="block4"):  # names the transformer's own points
        build_model("attn-add@layer3", VIT, 6)
    with pytest.raises(ValueError, match="no pretrained weights"):
        make_backbone(VIT, 6, weights="DEFAULT")
    with pytest.raises(ValueError, match="multiples of the patch size 8"):
        make_backbone(VIT, 6)(torch.randn(1, 3, 36, 36))


def test_no_method_code_names_a_resnet_layer():
    # the methods reach every backbone through its declared points, never by a layer's name
    for name in ("attention.py", "baselines.py", "base.py", "factory.py", "token_masks.py"):
        tree = ast.parse((MODELS / name).read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in docstrings or node.value.startswith(("hard@", "attn-")):
                    continue  # method ids may name points; code may not
                assert node.value not in ("conv1", "layer1", "layer2", "layer3", "layer4"), name


def explicit_forward(backbone, images, rule):
    """The transformer written out step by step: patches, positions, and in each block
    attention as softmax(q k^T / sqrt(d) + M) v, M = -inf where ``rule`` forbids."""
    n = images.shape[0]
    tokens = backbone.conv_proj(images).flatten(2).transpose(1, 2)
    x = torch.cat([backbone.class_token.expand(n, -1, -1), tokens], 1)
    x = x + backbone.positions(*backbone.grid(images))
    for block in backbone.encoder.layers:
        attention = block.self_attention
        heads, width = attention.num_heads, attention.embed_dim
        y = block.ln_1(x)
        q, k, v = F.linear(y, attention.in_proj_weight, attention.in_proj_bias).chunk(3, -1)
        q, k, v = (t.reshape(n, -1, heads, width // heads).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(width // heads)
        scores = scores.masked_fill(~rule[:, None], float("-inf"))
        y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(n, -1, width)
        x = x + attention.out_proj(y)
        x = x + block.mlp(block.ln_2(x))
    return backbone.fc(backbone.encoder.ln(x)[:, 0])


@pytest.mark.parametrize("method", ["mask-attn", "drop-tokens"])
def test_masked_attention_is_the_explicit_computation(method):
    images, masks = batch()
    torch.manual_seed(0)
    model = build_model(method, VIT, num_classes=6).eval()
    inside = region_tokens(masks, (4, 4))
    assert inside.sum(1).tolist() == [1, 4, 8]  # the speck keeps its one patch
    rule = attention_rule(inside, everyone=method == "drop-tokens")
    # the class token reads the region's patches and itself, nothing else
    assert rule[:, 0].tolist() == torch.cat([torch.ones(3, 1, dtype=bool), inside], 1).tolist()
    # with mask-attn every other token reads every token; with drop-tokens none reads outside
    assert rule[:, 1:].all() == (method == "mask-attn")
    with torch.no_grad():
        expected = explicit_forward(model.backbone, images, rule)
        assert torch.allclose(model(images, masks), expected, atol=1e-5)
        plain = explicit_forward(model.backbone, images, torch.ones_like(rule))
        assert not torch.allclose(expected, plain, atol=1e-3)  # the rule does change something


def test_dropping_tokens_is_running_on_the_region_alone():
    images, masks = batch()
    torch.manual_seed(0)
    model = build_model("drop-tokens", VIT, num_classes=6).eval()
    backbone = model.backbone
    inside = region_tokens(masks, (4, 4))
    with torch.no_grad():
        logits = model(images, masks)
        positions = backbone.positions(4, 4)
        for i in range(3):
            tokens = backbone.conv_proj(images[i : i + 1]).flatten(2).transpose(1, 2)
            kept = torch.cat([torch.ones(1, dtype=bool), inside[i]])
            x = torch.cat([backbone.class_token, tokens], 1)[:, kept] + positions[:, kept]
            alone = backbone.fc(backbone.encoder.ln(backbone.encoder.layers(x))[:, 0])
            assert torch.allclose(logits[i : i + 1], alone, atol=1e-5), i


def test_only_mask_attn_lets_the_context_in():
    # change every pixel outside the patches the speck touches: drop-tokens cannot notice,
    # mask-attn reads it through the region's tokens, which attend to everything
    images, masks = batch()
    outside = ~region_tokens(masks, (4, 4))[0].reshape(4, 4)
    changed = images.clone()
    far = outside.repeat_interleave(8, 0).repeat_interleave(8, 1)
    changed[0, :, far] = torch.randn(3, int(far.sum()))
    for method, invariant in (("drop-tokens", True), ("mask-attn", False)):
        torch.manual_seed(0)
        model = build_model(method, VIT, num_classes=6).eval()
        with torch.no_grad():
            same = torch.allclose(model(images, masks)[0], model(changed, masks)[0], atol=1e-6)
        assert same == invariant, method
