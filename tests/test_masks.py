"""resize_mask: the four modes and the checks on its input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from roiattn.masks import RESIZE_MODES, as_mask_batch, resize_mask


def one_pixel_mask(size: int = 224, y: int = 101, x: int = 57) -> torch.Tensor:
    mask = torch.zeros(size, size)
    mask[y, x] = 1
    return mask


@pytest.mark.parametrize("shape", [(224, 224), (2, 224, 224), (2, 1, 224, 224)])
@pytest.mark.parametrize("mode", RESIZE_MODES)
def test_every_input_shape_gives_b1hw(shape, mode):
    out = resize_mask(torch.rand(shape), (7, 9), mode)
    batch = shape[0] if len(shape) > 2 else 1
    assert out.shape == (batch, 1, 7, 9)
    assert out.dtype == torch.float32


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.int64, torch.float64])
def test_bool_integer_and_float_masks_are_accepted(dtype):
    mask = (torch.rand(1, 32, 32) > 0.5).to(dtype)
    out = resize_mask(mask, 16, "area")
    assert out.dtype == torch.float32
    assert 0 <= out.min() <= out.max() <= 1


def test_numpy_masks_are_accepted():
    mask = np.zeros((32, 32), dtype=np.uint8)
    mask[4:8, 4:8] = 1
    assert resize_mask(mask, 8, "max").sum() == 1


def test_one_pixel_roi_survives_max_but_not_nearest_or_bilinear():
    mask = one_pixel_mask()
    kept = resize_mask(mask, 7, "max")
    assert kept.sum() == 1 and kept.max() == 1
    assert kept[0, 0, 101 // 32, 57 // 32] == 1
    # the failure max mode exists for: at this position the other modes lose the region
    assert resize_mask(mask, 7, "nearest").sum() == 0
    assert resize_mask(mask, 7, "bilinear").sum() == 0


@pytest.mark.parametrize("size", [112, 56, 28, 14, 7])
def test_area_mode_preserves_the_covered_fraction(size):
    torch.manual_seed(0)
    mask = (torch.rand(3, 224, 224) > 0.7).float()
    out = resize_mask(mask, size, "area")
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), mask.mean(dim=(1, 2)))


def test_bilinear_matches_interpolate():
    torch.manual_seed(0)
    mask = torch.rand(2, 1, 224, 224)
    expected = F.interpolate(mask, size=(28, 28), mode="bilinear", align_corners=False)
    assert torch.equal(resize_mask(mask, 28, "bilinear"), expected)


def test_same_size_is_returned_unchanged():
    mask = torch.rand(1, 1, 16, 16)
    assert torch.equal(resize_mask(mask, 16, "nearest"), mask)


@pytest.mark.parametrize(
    "mask, message",
    [
        (torch.zeros(2, 3, 8, 8), "shaped"),
        (torch.zeros(8), "shaped"),
        (torch.zeros(1, 1, 1, 8, 8), "shaped"),
        (torch.full((8, 8), 255, dtype=torch.uint8), "divide it by 255"),
        (torch.full((8, 8), -0.5), r"\[0, 1\]"),
        (torch.full((8, 8), float("nan")), "NaN"),
        (torch.zeros(0, 8, 8), "empty"),
        ([[0, 1], [1, 0]], "torch.Tensor or numpy"),
        (torch.zeros(4, 4, dtype=torch.complex64), "bool, integer or float"),
    ],
)
def test_bad_masks_are_refused_with_a_clear_message(mask, message):
    with pytest.raises(ValueError, match=message):
        resize_mask(mask, 4)


@pytest.mark.parametrize("size", [0, -3, (4, 0), (4,), "7", (2.5, 3)])
def test_bad_sizes_are_refused(size):
    with pytest.raises(ValueError, match="size"):
        resize_mask(torch.zeros(8, 8), size)


def test_unknown_mode_names_the_choices():
    with pytest.raises(ValueError, match="bilinear"):
        resize_mask(torch.zeros(8, 8), 4, "bicubic")


def test_as_mask_batch_keeps_values():
    mask = torch.rand(3, 5, 5)
    assert torch.equal(as_mask_batch(mask)[:, 0], mask)
