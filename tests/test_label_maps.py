"""LabelMapRegions and its connected components, on label maps the tests draw."""

from __future__ import annotations

import pickle
import time
import warnings
from collections import deque

import numpy as np
import pytest
import torch
from PIL import Image

from roiattn.data import LabelMapRegions, RegionDataset, WindowedRegions
from roiattn.data.label_maps import find_components, label_components
from roiattn.errors import DataFileError

CLASSES = ["wood", "glass", "fabric"]


def flood_fill(labels: np.ndarray, connectivity: int) -> np.ndarray:
    """Reference: breadth-first search from every unvisited non-zero pixel, in raster order."""
    steps = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    if connectivity == 8:
        steps += [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    h, w = labels.shape
    out = np.zeros((h, w), dtype=np.int32)
    count = 0
    for y in range(h):
        for x in range(w):
            if labels[y, x] == 0 or out[y, x]:
                continue
            count += 1
            out[y, x] = count
            queue = deque([(y, x)])
            while queue:
                cy, cx = queue.popleft()
                for dy, dx in steps:
                    ny, nx = cy + dy, cx + dx
                    if 0 <= ny < h and 0 <= nx < w and not out[ny, nx]:
                        if labels[ny, nx] == labels[cy, cx]:
                            out[ny, nx] = count
                            queue.append((ny, nx))
    return out


@pytest.mark.parametrize("connectivity", [4, 8])
def test_components_match_a_flood_fill(connectivity):
    rng = np.random.default_rng(connectivity)
    for _ in range(150):
        h, w = (int(v) for v in rng.integers(1, 25, 2))
        labels = rng.integers(0, int(rng.integers(1, 4)), (h, w))
        assert np.array_equal(
            label_components(labels, connectivity), flood_fill(labels, connectivity)
        )


@pytest.mark.parametrize("connectivity", [4, 8])
def test_component_fields_match_a_flood_fill(connectivity):
    """Value, area, box and runs of every component, against the reference's labelling."""
    rng = np.random.default_rng(10 + connectivity)
    for _ in range(100):
        h, w = (int(v) for v in rng.integers(1, 20, 2))
        labels = rng.integers(0, int(rng.integers(1, 5)), (h, w))
        reference = flood_fill(labels, connectivity)
        found = find_components(labels, connectivity)
        n = int(reference.max())
        assert len(found.value) == len(found.area) == len(found.box) == n
        assert found.run_bounds[0] == 0 and found.run_bounds[-1] == len(found.row)
        for k in range(n):
            ys, xs = np.nonzero(reference == k + 1)
            assert found.value[k] == labels[ys[0], xs[0]]
            assert found.area[k] == len(ys)
            assert found.box[k].tolist() == [
                xs.min(),
                ys.min(),
                xs.max() - xs.min() + 1,
                ys.max() - ys.min() + 1,
            ]
            a, b = found.run_bounds[k], found.run_bounds[k + 1]
            drawn = np.zeros((h, w), dtype=int)
            for r, start, end in zip(found.row[a:b], found.start[a:b], found.end[a:b], strict=True):
                assert start < end
                drawn[r, start:end] += 1
            assert np.array_equal(drawn, (reference == k + 1).astype(int))  # no run twice


def test_no_components_in_an_empty_map():
    found = find_components(np.zeros((4, 5), dtype=np.uint8))
    assert len(found.value) == len(found.row) == 0
    assert found.box.shape == (0, 4) and found.run_bounds.tolist() == [0]


def test_component_fields():
    labels = np.zeros((6, 8), dtype=np.uint8)
    labels[1:3, 1:4] = 2  # a 2x3 block
    labels[4, 6] = 1  # one pixel
    labels[5, 7] = 1  # touches it diagonally only
    four = find_components(labels, 4)
    assert four.value.tolist() == [2, 1, 1]
    assert four.area.tolist() == [6, 1, 1]
    assert four.box.tolist() == [[1, 1, 3, 2], [6, 4, 1, 1], [7, 5, 1, 1]]
    eight = find_components(labels, 8)
    assert eight.area.tolist() == [6, 2]
    assert eight.box.tolist()[1] == [6, 4, 2, 2]
    # a U shape joins only at the bottom: one component
    u = np.zeros((5, 5), dtype=np.uint8)
    u[:, 0] = u[:, 4] = u[4, :] = 1
    assert len(find_components(u).value) == 1


def test_components_are_fast_on_a_noisy_map():
    labels = np.random.default_rng(0).integers(0, 4, (480, 640))
    start = time.perf_counter()
    found = find_components(labels, 4)
    assert time.perf_counter() - start < 2.0
    assert found.area.sum() == (labels != 0).sum()


def test_bad_component_input():
    with pytest.raises(ValueError, match="connectivity"):
        find_components(np.ones((3, 3)), 6)
    with pytest.raises(ValueError, match="2-D"):
        find_components(np.ones(3))


def write_pair(folder, stem, labels, mode="L", image_size=None):
    """An image (noise, JPEG) and its label map (PNG in ``mode``)."""
    (folder / "images").mkdir(exist_ok=True)
    (folder / "labels").mkdir(exist_ok=True)
    h, w = labels.shape if image_size is None else image_size
    pixels = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "images" / f"{stem}.jpg")
    label_image = Image.fromarray(labels.astype(np.uint8), "L")
    if mode == "P":
        label_image = label_image.convert("P")
    elif mode == "RGB":
        label_image = label_image.convert("RGB")
    label_image.save(folder / "labels" / f"{stem}.png")


def scene(h=64, w=64):
    labels = np.zeros((h, w), dtype=np.uint8)
    labels[5:25, 5:30] = 1  # wood, 500 px
    labels[40:60, 10:20] = 1  # wood again, apart: 200 px
    labels[30:34, 40:44] = 2  # glass, 16 px
    labels[50, 50] = 3  # fabric, one pixel
    return labels


@pytest.fixture
def maps(tmp_path):
    write_pair(tmp_path, "a", scene())
    other = np.zeros((48, 80), dtype=np.uint8)
    other[:, :40] = 3
    other[10:20, 50:70] = 2
    write_pair(tmp_path, "b", other, mode="P")
    return tmp_path


def test_one_item_per_component_with_min_area(maps):
    data = LabelMapRegions(maps / "images", maps / "labels", CLASSES, image_size=32)
    assert data.classes == CLASSES
    assert len(data) == 6
    assert data.labels.tolist() == [0, 1, 0, 2, 2, 1]
    assert data.areas.tolist() == [500, 16, 200, 1, 1920, 200]  # raster order
    assert data.image_ids.tolist() == [0, 0, 0, 0, 1, 1]
    big = LabelMapRegions(maps / "images", maps / "labels", CLASSES, min_area=16)
    assert big.areas.tolist() == [500, 200, 1920, 200]
    assert "6 regions of 3 classes in 2 images" in data.description


@pytest.mark.parametrize("view", ["image", "context"])
def test_items_follow_the_contract(maps, view):
    data = LabelMapRegions(maps / "images", maps / "labels", CLASSES, image_size=32, view=view)
    for index in range(len(data)):
        item = data[index]
        assert item["image"].shape == (3, 32, 32) and item["mask"].shape == (1, 32, 32)
        assert item["mask"].sum() > 0  # the one-pixel region too
        assert item["label"] == data.labels[index] and item["area"] == data.areas[index]


def test_mask_is_exactly_the_component_at_native_size(maps):
    data = LabelMapRegions(maps / "images", maps / "labels", CLASSES, image_size=64, view="image")
    expected = label_components(scene())
    for index in range(4):  # image "a" is 64 x 64: no resizing at all
        assert torch.equal(data[index]["mask"][0], torch.from_numpy(expected == index + 1).float())


def test_context_window_masks_match_the_component(maps):
    """A window that cuts through other runs of the same component still draws it right."""
    labels = np.zeros((120, 120), dtype=np.uint8)
    labels[10:110:2, 5:115] = 1  # a comb: teeth joined by a spine
    labels[10:110, 5] = 1
    write_pair(maps, "comb", labels)
    data = LabelMapRegions(maps / "images", maps / "labels", CLASSES)
    index = int(
        np.flatnonzero(data.image_ids == data.image_files.index(maps / "images/comb.jpg"))[0]
    )
    for window in [(0, 0, 120, 120), (30, 20, 70, 50), (100, 0, 120, 11)]:
        x0, y0, x1, y1 = window
        assert np.array_equal(data.native_mask(index, *window), labels[y0:y1, x0:x1])


def test_classes_as_a_mapping(maps):
    data = LabelMapRegions(maps / "images", maps / "labels", {3: "fabric", 1: "wood", 2: "glass"})
    assert data.classes == ["wood", "glass", "fabric"]
    assert data.labels.tolist() == [0, 1, 0, 2, 2, 1]


def test_eight_connectivity_merges_diagonal_neighbours(tmp_path):
    labels = np.zeros((20, 20), dtype=np.uint8)
    labels[np.arange(20), np.arange(20)] = 1  # a diagonal line
    write_pair(tmp_path, "d", labels)
    four = LabelMapRegions(tmp_path / "images", tmp_path / "labels", ["line"], connectivity=4)
    eight = LabelMapRegions(tmp_path / "images", tmp_path / "labels", ["line"], connectivity=8)
    assert (len(four), len(eight)) == (20, 1)


def test_bad_label_maps_are_named(tmp_path):
    write_pair(tmp_path, "rgb", scene(), mode="RGB")
    with pytest.raises(DataFileError, match=r"rgb\.png has mode RGB"):
        LabelMapRegions(tmp_path / "images", tmp_path / "labels", CLASSES)


def test_unknown_class_values_are_named(maps):
    with pytest.raises(DataFileError, match=r"a\.png holds pixel values \[3\]"):
        LabelMapRegions(maps / "images", maps / "labels", ["wood", "glass"])


def test_size_mismatch_and_missing_image(tmp_path):
    write_pair(tmp_path, "a", scene(), image_size=(60, 64))
    with pytest.raises(DataFileError, match="64x60 but its label map"):
        LabelMapRegions(tmp_path / "images", tmp_path / "labels", CLASSES)
    write_pair(tmp_path, "a", scene())
    write_pair(tmp_path, "b", scene())
    (tmp_path / "images" / "b.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"b\.png has no image"):
        LabelMapRegions(tmp_path / "images", tmp_path / "labels", CLASSES)
    with pytest.warns(UserWarning, match="no image"):
        data = LabelMapRegions(
            tmp_path / "images", tmp_path / "labels", CLASSES, skip_bad_files=True
        )
    assert len(data.bad_files) == 1 and len(data) == 4


def test_bad_arguments(maps, tmp_path):
    images, labels = maps / "images", maps / "labels"
    for kwargs, words in [
        ({"classes": []}, "non-empty"),
        ({"classes": "wood"}, "list of names"),
        ({"classes": {0: "none"}}, "ints >= 1"),
        ({"view": "crop"}, "view"),
        ({"image_size": -3}, "image_size"),
        ({"min_area": -1}, "min_area"),
        ({"connectivity": 6}, "connectivity"),
        ({"context": 0.5}, "context"),
        ({"min_window": 0}, "min_window"),
        ({"image_size": 32.0}, "image_size"),
    ]:
        with pytest.raises(ValueError, match=words):
            LabelMapRegions(images, labels, **{"classes": CLASSES, **kwargs})
    with pytest.raises(FileNotFoundError, match="label_dir"):
        LabelMapRegions(images, tmp_path / "nowhere", CLASSES)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no label-map PNGs"):
        LabelMapRegions(images, tmp_path / "empty", CLASSES)
    data = LabelMapRegions(images, labels, CLASSES)
    with pytest.raises(IndexError):
        data[len(data)]


# ---------------------------------------------------------------------------- the shared reader


def test_where_each_item_comes_from(maps):
    data = LabelMapRegions(maps / "images", maps / "labels", CLASSES, image_size=32)
    assert isinstance(data, WindowedRegions) and isinstance(data, RegionDataset)
    assert data.image_files == [maps / "images" / "a.jpg", maps / "images" / "b.jpg"]
    assert [data.image_path(i).name for i in range(len(data))] == ["a.jpg"] * 4 + ["b.jpg"] * 2
    assert data.native_size(0) == (64, 64) and data.native_size(5) == (80, 48)
    assert data.item_fields(3) == {"instance_id": 3}
    item = data[5]
    assert set(item) == {"image", "mask", "label", "area", "image_id", "instance_id", "box"}
    assert (item["image_id"], item["instance_id"]) == (1, 5)
    assert item["box"].tolist() == [50, 10, 20, 10]
    assert data.boxes.tolist()[0] == [5, 5, 25, 20]


def test_a_bad_image_is_named_when_read_or_skipped(maps):
    """The shared reader's skip_bad_files: an image that goes bad after the index was built is
    an error naming it, or (skipping) a warning and the next good item in its place."""
    data = LabelMapRegions(maps / "images", maps / "labels", CLASSES, image_size=32)
    victim = maps / "images" / "a.jpg"
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 3])  # truncated JPEG
    with pytest.raises(DataFileError, match=r"a\.jpg.*skip_bad_files=True"):
        data[0]
    assert data.bad_files == []

    skipping = LabelMapRegions(
        maps / "images", maps / "labels", CLASSES, image_size=32, skip_bad_files=True
    )
    assert len(skipping) == 6 and skipping.bad_files == []  # its header still reads
    with pytest.warns(UserWarning, match=r"skipping a bad file.*a\.jpg"):
        item = skipping[1]
    assert (item["image_id"], item["instance_id"]) == (1, 4)  # the next good item, in b.jpg
    assert item["label"] == skipping.labels[4] and item["mask"].sum() > 0
    assert skipping.bad_files == [str(victim)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert skipping[0]["instance_id"] == 4  # known bad: skipped silently
        assert skipping[5]["instance_id"] == 5  # a good item is itself
    (maps / "images" / "b.jpg").unlink()  # a missing file is skipped the same way
    with pytest.warns(UserWarning, match=r"b\.jpg is missing"):
        with pytest.raises(DataFileError, match="every image of LabelMapRegions"):
            skipping[4]
    assert skipping.bad_files == [str(victim), str(maps / "images" / "b.jpg")]


def test_description_shows_the_folders_without_machine_paths(maps, monkeypatch):
    monkeypatch.setenv("HOME", str(maps / "home"))  # wherever the temporary folder is
    monkeypatch.delenv("ROIATTN_COCO_ROOT", raising=False)
    monkeypatch.setenv("ROIATTN_DATA", str(maps))
    data = LabelMapRegions(maps / "images", maps / "labels", CLASSES)
    assert data.description.startswith(
        "LabelMapRegions $ROIATTN_DATA/labels (images $ROIATTN_DATA/images): 6 regions"
    )
    monkeypatch.setenv("ROIATTN_DATA", str(maps / "elsewhere"))
    data = LabelMapRegions(maps / "images", maps / "labels", CLASSES)
    assert f".../{maps.name}/labels (images .../{maps.name}/images)" in data.description
    assert str(maps) not in data.description and repr(data) == data.description


def test_subset_and_cache_keep_the_metadata_and_the_items(maps):
    data = LabelMapRegions(maps / "images", maps / "labels", CLASSES, image_size=32)
    for narrowed, indices in [(data.subset([5, 1, 2]), [5, 1, 2]), (data.cached(), range(6))]:
        indices = list(indices)
        assert narrowed.classes == CLASSES and narrowed.image_size == 32
        assert narrowed.view == "context" and narrowed.size_bins is None
        assert narrowed.labels.tolist() == data.labels[indices].tolist()
        assert narrowed.areas.tolist() == data.areas[indices].tolist()
        assert narrowed.image_ids.tolist() == data.image_ids[indices].tolist()
        for position, index in enumerate(indices):
            ours, theirs = narrowed[position], data[index]
            assert ours["instance_id"] == theirs["instance_id"] == index
            assert torch.equal(ours["mask"], theirs["mask"])
            assert torch.equal(ours["image"], theirs["image"])
    copy = pickle.loads(pickle.dumps(data.subset([2])))
    assert torch.equal(copy[0]["mask"], data[2]["mask"])
