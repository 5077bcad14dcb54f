"""ContextShapes: determinism, the item format, the world's rules, speed, COCO export, errors."""

import json
import pickle
import time

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from roiattn.data import ContextShapes, RegionDataset, SizeBins, denormalize, normalize
from roiattn.data.context_shapes import MAX_CLASSES, RIM_COLOUR, SPECK_SPACING
from roiattn.plots import plot_scenes


@pytest.fixture(scope="module")
def world() -> ContextShapes:
    return ContextShapes(40, image_size=64, seed=3)


def same_item(a: dict, b: dict) -> bool:
    return all(
        torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a
    )


# ------------------------------------------------------------------ determinism


def test_same_seed_gives_the_same_items():
    a, b = ContextShapes(12, 48, seed=5), ContextShapes(12, 48, seed=5)
    assert len(a) == len(b)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.areas, b.areas)
    assert all(same_item(a[i], b[i]) for i in range(len(a)))


def test_different_seeds_give_different_scenes():
    a, b = ContextShapes(12, 48, seed=5), ContextShapes(12, 48, seed=6)
    assert not np.array_equal(a.scene_image(0), b.scene_image(0))
    assert not np.array_equal(a.areas, b.areas)
    different = [not torch.equal(a[i]["mask"], b[i]["mask"]) for i in range(len(a))]
    assert sum(different) > len(a) // 2


def test_a_scene_does_not_depend_on_how_many_scenes_there_are():
    short, long = ContextShapes(3, 64, seed=1), ContextShapes(30, 64, seed=1)
    for scene in range(3):
        assert np.array_equal(short.scene_image(scene), long.scene_image(scene))
    n = len(short)
    assert np.array_equal(short.labels, long.labels[:n])
    assert same_item(short[n - 1], long[n - 1])


# ------------------------------------------------------------------ the item contract


def test_items_follow_the_dataset_contract(world):
    assert len(world) == 40 * (world.n_small + world.n_large)
    assert world.classes == ["disc", "square", "triangle", "cross", "ring", "diamond"]
    assert world.description == "ContextShapes(n_images=40, image_size=64, seed=3)"
    for index in (0, 7, len(world) - 1, -1):
        item = world[index]
        assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.float32
        assert item["mask"].shape == (1, 64, 64) and item["mask"].dtype == torch.float32
        assert set(item["mask"].unique().tolist()) == {0.0, 1.0}
        assert isinstance(item["label"], int) and 0 <= item["label"] < len(world.classes)
        assert item["label"] == world.labels[index]
        assert item["area"] == int(item["mask"].sum()) == world.areas[index]
        x, y, w, h = item["box"].tolist()
        inside = item["mask"][0].nonzero()
        assert (y, x) == tuple(inside.min(0).values.tolist())
        assert (y + h - 1, x + w - 1) == tuple(inside.max(0).values.tolist())
        pixels = denormalize(item["image"])
        assert pixels.min() >= 0 and pixels.max() <= 1 and pixels.std() > 0.05


def test_items_batch_with_the_default_collate(world):
    loader = torch.utils.data.DataLoader(world, batch_size=8)
    batch = next(iter(loader))
    assert batch["image"].shape == (8, 3, 64, 64) and batch["mask"].shape == (8, 1, 64, 64)
    assert batch["label"].dtype == torch.int64


@pytest.mark.parametrize("size", [32, 48, 64, 96, 128])
def test_masks_are_never_empty_and_objects_never_overlap(size):
    world = ContextShapes(60, size, seed=size)
    assert (world.areas > 0).all()
    for scene in range(world.n_images):
        masks = np.stack([world.object_mask(i) for i in world.scene_items(scene)])
        assert masks.any(axis=(1, 2)).all()
        assert masks.sum(axis=0).max() == 1  # no pixel in two objects


def test_size_bins_split_specks_from_large_bodies():
    for size in (32, 64, 128):
        world = ContextShapes(50, size, seed=0)
        assert isinstance(world.size_bins, SizeBins)
        (edge,) = world.size_bins.edges
        assert (world.areas[world.small] < edge).all()
        assert (world.areas[~world.small] >= edge).all()
        assert world.size_bins.assign(world.areas).tolist() == (~world.small).astype(int).tolist()
    assert world.size_bins.name == "shapes"
    assert world.size_bins.labels == ("small", "large")
    assert not hasattr(world, "size_bin_names")


def test_a_region_dataset_with_scene_image_ids(world):
    assert isinstance(world, RegionDataset)
    assert world.view is None and world.image_size == 64
    assert world.image_ids.tolist() == (world.scene_of + 1).tolist()
    for index in (0, 6, len(world) - 1):
        assert world[index]["image_id"] == world.image_ids[index]  # as in the COCO export
    provenance = world.provenance()
    assert provenance["description"] == world.description and provenance["count"] == len(world)
    assert provenance == ContextShapes(40, image_size=64, seed=3).provenance()
    assert provenance["fingerprint"] != ContextShapes(40, 64, seed=4).provenance()["fingerprint"]


def test_subset_sample_and_cache_keep_the_size_bins_and_the_items(world):
    picked = [9, 2, len(world) - 1]
    sampled = world.sample(12, seed=1)
    for narrowed, indices in [
        (world.subset(picked), picked),
        (sampled, sampled.indices.tolist()),
        (world.cached(), list(range(len(world)))),
    ]:
        assert isinstance(narrowed, RegionDataset) and len(narrowed) == len(indices)
        assert narrowed.classes == world.classes
        assert narrowed.size_bins == world.size_bins and narrowed.size_bins.name == "shapes"
        assert (narrowed.image_size, narrowed.view) == (64, None)
        assert narrowed.labels.tolist() == world.labels[indices].tolist()
        assert narrowed.areas.tolist() == world.areas[indices].tolist()
        assert narrowed.image_ids.tolist() == world.image_ids[indices].tolist()
        for position in (0, len(indices) - 1):
            assert same_item(narrowed[position], world[indices[position]])
    assert len(sampled) == 12 and sampled.indices.tolist() == sorted(set(sampled.indices.tolist()))
    assert sampled.indices.tolist() == world.sample(12, seed=1).indices.tolist()
    assert world.sample(len(world) + 1, seed=1) is world


def test_scenes_hold_several_objects_of_distinct_classes(world):
    for scene in range(world.n_images):
        items = np.array(world.scene_items(scene))
        small, large = items[world.small[items]], items[~world.small[items]]
        assert len(small) == world.n_small and len(large) == world.n_large
        assert len(set(world.labels[small])) == len(small)
        assert len(set(world.labels[large])) == len(large)


def test_labels_are_roughly_balanced():
    world = ContextShapes(600, 32, seed=0)
    counts = np.bincount(world.labels, minlength=len(world.classes))
    assert counts.min() > 0.8 * counts.mean()


# ------------------------------------------------------------------ the world's rules


def test_a_speck_sits_in_a_patch_of_its_class_home(world):
    """Rule 2: the terrain within S/10 of a speck's centre is its class's home."""
    s = world.image_size
    for scene in range(world.n_images):
        terrain = world.terrain_map(scene)
        for item in world.scene_items(scene):
            if not world.small[item]:
                continue
            x, y, w, h = world.box(item)
            cy, cx = y + h / 2, x + w / 2
            yy, xx = np.mgrid[0:s, 0:s] + 0.5
            patch = np.hypot(yy - cy, xx - cx) <= SPECK_SPACING[0] * s / 2 - 1
            assert (terrain[patch] == world.labels[item]).all()


def test_specks_look_the_same_whatever_their_class():
    """Rule 2: the pixels inside a speck's mask carry no information about its class."""
    world = ContextShapes(300, 64, seed=0)
    colours = {c: [] for c in range(len(world.classes))}
    areas = {c: set() for c in range(len(world.classes))}
    for item in np.flatnonzero(world.small)[:600]:
        pixels = world.scene_image(int(world.scene_of[item]))[world.object_mask(int(item))]
        colours[int(world.labels[item])].append(pixels.mean(axis=0))
        areas[int(world.labels[item])].add(int(world.areas[item]))
    means = np.array([np.mean(colours[c], axis=0) for c in colours])
    assert np.abs(means - means.mean(axis=0)).max() < 3  # same colour, up to noise
    assert len(set.union(*areas.values())) == 1  # and the same shape and size


def test_large_bodies_differ_by_class():
    """Rule 3: a large body's own pixels tell its class (here simply by their mean colour)."""
    world = ContextShapes(200, 64, seed=0)
    means = {}
    for item in np.flatnonzero(~world.small):
        pixels = world.scene_image(int(world.scene_of[item]))[world.object_mask(int(item))]
        means.setdefault(int(world.labels[item]), []).append(pixels.mean(axis=0))
    centres = np.array([np.mean(means[c], axis=0) for c in sorted(means)])
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    assert gaps[~np.eye(len(centres), dtype=bool)].min() > 40


def test_specks_of_a_scene_are_close_together_on_different_homes(world):
    """Rule 2: the specks of a scene form one cluster, S/5 to S/4 apart: no farther than a
    layer3 cell (16 px) at 64 px."""
    s = world.image_size
    for scene in range(world.n_images):
        items = [i for i in world.scene_items(scene) if world.small[i]]
        centres = np.array([[x + w / 2, y + h / 2] for x, y, w, h in map(world.box, items)])
        gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        np.fill_diagonal(gaps, np.inf)
        nearest = gaps.min(axis=1)
        assert (nearest >= s / 5 - 1).all() and (nearest <= s / 4 + 1).all()
        assert nearest.max() <= 16 + 1  # ResNet layer3 cells are 16 px


# ------------------------------------------------------------------ speed


def test_thousands_of_scenes_in_seconds():
    start = time.perf_counter()
    world = ContextShapes(3000, 64, seed=0)
    built = time.perf_counter() - start
    start = time.perf_counter()
    for scene in range(world.n_images):
        world.scene_image(scene)
    drawn = time.perf_counter() - start
    # measured on a shared 2-core machine: about 0.6 s and 1.5 s; the bound is generous
    assert built < 10, f"laying out 3000 scenes took {built:.1f} s"
    assert drawn < 15, f"drawing 3000 scenes took {drawn:.1f} s"
    start = time.perf_counter()
    world.labels.sum(), world.areas.sum(), len(world)
    assert time.perf_counter() - start < 0.01


# ------------------------------------------------------------------ COCO export


def test_to_coco_round_trips_through_pycocotools(tmp_path):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    world = ContextShapes(6, 64, seed=2)
    root = world.to_coco(tmp_path / "shapes", split="val2017")
    coco = COCO(str(root / "annotations" / "instances_val2017.json"))
    assert len(coco.getImgIds()) == world.n_images
    assert len(coco.getAnnIds()) == len(world)
    names = [c["name"] for c in coco.loadCats(sorted(coco.getCatIds()))]
    assert names == world.classes
    for item in range(len(world)):
        ann = coco.loadAnns(item + 1)[0]
        assert ann["image_id"] == world[item]["image_id"]
        assert ann["category_id"] - 1 == world.labels[item]
        assert ann["area"] == world.areas[item] == mask_utils.area(ann["segmentation"])
        assert np.array_equal(coco.annToMask(ann).astype(bool), world.object_mask(item))
        assert ann["bbox"] == list(world.box(item))
    from PIL import Image

    for image in coco.loadImgs(coco.getImgIds()):
        pixels = np.asarray(Image.open(root / "val2017" / image["file_name"]))
        assert np.array_equal(pixels, world.scene_image(image["id"] - 1))
    info = json.loads((root / "annotations" / "instances_val2017.json").read_text())["info"]
    assert info["description"] == world.description


def test_to_coco_jpg_writes_jpegs(tmp_path):
    world = ContextShapes(2, 64, seed=2)
    world.to_coco(tmp_path, split="train2017", image_format="jpg")
    files = sorted((tmp_path / "train2017").iterdir())
    assert [f.suffix for f in files] == [".jpg", ".jpg"]


def test_coco_regions_reads_the_export(tmp_path):
    """The round trip through the COCO reader: the same regions, labels, areas, masks, pixels."""
    coco = pytest.importorskip("roiattn.data.coco")
    world = ContextShapes(5, 64, seed=4)
    world.to_coco(tmp_path, split="val2017")
    regions = coco.COCORegions(tmp_path, split="val2017", image_size=64, view="image")
    assert len(regions) == len(world)
    assert list(regions.classes) == world.classes
    theirs = {regions[i]["instance_id"]: regions[i] for i in range(len(regions))}
    for item in range(len(world)):
        ours = world[item]
        other = theirs[ours["instance_id"]]
        assert other["label"] == ours["label"] and other["area"] == ours["area"]
        assert other["image_id"] == ours["image_id"]
        assert torch.equal(other["mask"], ours["mask"])
        assert torch.allclose(other["image"], ours["image"], atol=1e-5)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_images": 0}, "n_images"),
        ({"n_images": -3}, "n_images"),
        ({"n_images": 2.5}, "n_images"),
        ({"n_images": "10"}, "n_images"),
        ({"n_images": True}, "n_images"),
        ({"n_images": 4, "image_size": 16}, "image_size"),
        ({"n_images": 4, "seed": -1}, "seed"),
        ({"n_images": 4, "n_classes": 1}, "n_classes"),
        ({"n_images": 4, "n_classes": MAX_CLASSES + 1}, "n_classes"),
        ({"n_images": 4, "n_small": 7}, "n_small"),
        ({"n_images": 4, "n_small": 0, "n_large": 0}, "at least one object"),
        ({"n_images": 4, "n_sites": 0}, "n_sites"),
        ({"n_images": 4, "image_size": 32, "n_classes": 8, "n_large": 8}, "could not fit"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ContextShapes(**kwargs)


def test_bad_indices(world):
    with pytest.raises(IndexError):
        world[len(world)]
    with pytest.raises(TypeError, match="item index must be an int"):
        world["0"]
    with pytest.raises(IndexError):
        world.scene_image(world.n_images)
    with pytest.raises(TypeError, match="scene index must be an int"):
        world.scene_image(True)
    assert world[-1]["label"] == world[len(world) - 1]["label"]  # negatives count from the end
    with pytest.raises(ValueError, match="split"):
        world.to_coco("/tmp/never-written", split="a/b")
    with pytest.raises(ValueError, match="image_format"):
        world.to_coco("/tmp/never-written", image_format="gif")


# ------------------------------------------------------------------ the figure


def test_plot_scenes_draws_a_grid(world):
    figure = plot_scenes(world, n=6, columns=3)
    assert isinstance(figure, Figure)
    drawn = [ax for ax in figure.axes if ax.images]
    assert len(drawn) == 6
    assert all(ax.get_title().split(" ")[0] in world.classes for ax in drawn)
    assert len(plot_scenes(world, indices=[0, 1]).axes) == 2
    with pytest.raises(ValueError, match="n must"):
        plot_scenes(world, n=0)
    with pytest.raises(ValueError, match="out of range"):
        plot_scenes(world, indices=[len(world)])


def test_a_speck_is_a_dark_square_in_a_pale_outline_that_a_tight_crop_stays_inside():
    """The outline keeps the terrain out of the box plus the 10% margin of ``crop``."""
    for size in (32, 48, 64, 128):
        world = ContextShapes(4, size, seed=0)
        item = int(np.flatnonzero(world.small)[0])
        x, y, w, h = world.box(item)
        assert w == h == 2 * world.speck_half + 1 and world.areas[item] == w * h
        # crop's box grows by 10% a side; its bilinear samples reach half a pixel further
        assert world.rim_half - world.speck_half >= 0.1 * w + 0.5
        image = world.scene_image(int(world.scene_of[item])).astype(float)
        ring = image[y - 1 : y + h + 1, x - 1 : x + w + 1].copy()
        ring[1:-1, 1:-1] = np.nan  # keep only the one-pixel ring around the speck
        ring = ring.reshape(-1, 3)
        ring = ring[~np.isnan(ring).any(axis=1)]
        assert np.abs(ring.mean(axis=0) - RIM_COLOUR).max() < 15


def test_a_tight_crop_of_a_speck_shows_no_terrain():
    """What ``crop`` sees of a speck is its dark square and pale outline, nothing of its home."""
    from roiattn.models import build_model

    world = ContextShapes(30, 48, seed=0)
    crop = build_model("crop", "resnet18", len(world.classes))
    dark, pale = np.array([20.0, 20, 20]), np.array(RIM_COLOUR, dtype=float)
    grey_homes = {world.terrains.index("rock"), world.terrains.index("snow")}
    checked = 0
    for item in np.flatnonzero(world.small):
        if world.labels[item] in grey_homes:  # grey on grey: nothing to tell apart by colour
            continue
        sample = world[int(item)]
        pixels = denormalize(crop.crop(sample["image"][None], sample["mask"][None])[0])
        pixels = pixels.reshape(-1, 3) * 255
        along = np.clip((pixels - dark) @ (pale - dark) / ((pale - dark) @ (pale - dark)), 0, 1)
        off_grey = np.linalg.norm(pixels - (dark + along[:, None] * (pale - dark)), axis=1)
        assert off_grey.max() < 45, f"item {item}: the crop shows a coloured (terrain) pixel"
        checked += 1
    assert checked > 30


def test_plot_method_inputs_shows_what_each_kind_of_method_gets(world):
    from roiattn.models import build_model
    from roiattn.plots import plot_method_inputs

    picked = [int(i) for i in np.flatnonzero(world.small)[:3]]
    figure = plot_method_inputs(world, picked)
    panels = [ax for ax in figure.axes if ax.images]
    assert len(panels) == 3 * len(picked)
    item = world[picked[0]]
    size = item["image"].shape[-1]  # the outlined row spans the outline's pixel-edge coordinates
    edges = {tuple(ax.images[0].get_extent()) for ax in panels[: len(picked)]}
    assert edges == {(0, size, size, 0)}
    whole, hard, crop = (panels[row * len(picked)].images[0].get_array() for row in range(3))
    np.testing.assert_allclose(whole, denormalize(item["image"]), atol=1e-6)
    outside = ~world.object_mask(picked[0])
    mean = np.array([0.485, 0.456, 0.406])  # the background of hard@input: the mean colour
    np.testing.assert_allclose(hard[outside], np.broadcast_to(mean, hard[outside].shape), atol=1e-6)
    cropper = build_model("crop", "resnet18", len(world.classes))
    expected = denormalize(cropper.crop(item["image"][None], item["mask"][None])[0])
    np.testing.assert_allclose(crop, expected, atol=1e-6)
    with pytest.raises(ValueError, match="indices"):
        plot_method_inputs(world, [])


def test_a_drawn_scene_is_kept_and_handed_out_as_a_copy():
    world = ContextShapes(6, 48, seed=5)
    first = world.scene_image(2)
    first[:] = 0  # the caller's copy: the world is unchanged
    again = world.scene_image(2)
    assert again.any() and np.array_equal(again, ContextShapes(6, 48, seed=5).scene_image(2))
    assert torch.equal(world[world.scene_items(2)[0]]["image"], normalize(again))
    assert pickle.loads(pickle.dumps(world))._scenes == {}  # workers draw their own
