"""COCORegions on coco-mini (or the synthetic COCO folder when it is absent), and every bad
input it must report clearly."""

from __future__ import annotations

import json
import pickle
import shutil
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools.coco import COCO
from torch.utils.data import DataLoader

from roiattn.data import (
    COCORegions,
    RegionDataset,
    collate_regions,
    denormalize,
    require_regions,
)
from roiattn.data.paths import display_path
from roiattn.data.windows import MEAN_RGB, region_window
from roiattn.errors import DataFileError
from roiattn.masks import resize_mask

INF = float("inf")
# pycocotools 2.0.x under numpy 2 warns on every decode; nothing here can act on it
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def pycoco(coco_root):
    return COCO(str(coco_root / "annotations" / "instances_val2017.json"))


@pytest.fixture
def broken_copy(synthetic_coco, tmp_path):
    """A private copy of the synthetic folder, to break."""
    return shutil.copytree(synthetic_coco, tmp_path / "coco")


def annotation_path(root):
    return root / "annotations" / "instances_val2017.json"


def edit_annotations(root, change):
    document = json.loads(annotation_path(root).read_text())
    change(document)
    annotation_path(root).write_text(json.dumps(document))


# ---------------------------------------------------------------------------- counts, labels


@pytest.mark.parametrize("min_area", [0, 100, 32**2, 96**2])
def test_counts_agree_with_pycocotools(coco_root, pycoco, min_area):
    dataset = COCORegions(coco_root, "val2017", min_area=min_area)
    expected = pycoco.getAnnIds(areaRng=[min_area, INF], iscrowd=False)
    assert len(dataset) == len(expected) > 0
    assert sorted(dataset.instance_ids.tolist()) == sorted(expected)
    assert (dataset.areas > min_area).all()


def test_crowd_regions_only_when_asked(coco_root, pycoco):
    without = COCORegions(coco_root, "val2017")
    with_crowd = COCORegions(coco_root, "val2017", include_crowd=True)
    crowd = pycoco.getAnnIds(areaRng=[0, INF], iscrowd=True)
    assert crowd, "the test data should hold crowd regions"
    assert not without.iscrowd.any()
    assert len(with_crowd) == len(without) + len(crowd)
    assert sorted(with_crowd.instance_ids[with_crowd.iscrowd].tolist()) == sorted(crowd)
    first_crowd = int(np.flatnonzero(with_crowd.iscrowd)[0])
    assert with_crowd[first_crowd]["mask"].sum() > 0


def test_train_split_counts_too(coco_root):
    path = coco_root / "annotations" / "instances_train2017.json"
    if not path.is_file():
        pytest.skip("no train2017 split in this COCO folder")
    expected = COCO(str(path)).getAnnIds(areaRng=[0, INF], iscrowd=False)
    assert len(COCORegions(coco_root, "train2017")) == len(expected)


def test_labels_are_contiguous_in_coco_order(coco_root, pycoco):
    dataset = COCORegions(coco_root, "val2017")
    cat_ids = sorted(pycoco.getCatIds())
    assert dataset.classes == [pycoco.loadCats(c)[0]["name"] for c in cat_ids]
    assert dataset.class_ids == cat_ids
    names = [dataset.classes[label] for label in dataset.labels]
    assert names == [pycoco.loadCats(int(c))[0]["name"] for c in dataset.category_ids]


def test_chosen_categories_by_name_or_id(coco_root, pycoco):
    cat_ids = sorted(pycoco.getCatIds())
    picked = [cat_ids[3], cat_ids[0]]  # out of order, one as a name
    name = pycoco.loadCats(cat_ids[0])[0]["name"]
    dataset = COCORegions(coco_root, "val2017", categories=[picked[0], name])
    assert dataset.class_ids == sorted(picked)
    assert set(dataset.labels.tolist()) <= {0, 1}
    expected = pycoco.getAnnIds(catIds=picked, areaRng=[0, INF], iscrowd=False)
    assert sorted(dataset.instance_ids.tolist()) == sorted(expected)


def test_synthetic_categories_follow_id_order_not_file_order(synthetic_coco):
    dataset = COCORegions(synthetic_coco, "val2017")
    assert dataset.class_ids == [1, 3, 7, 12]
    assert dataset.classes == ["disc", "square", "triangle", "bar"]


# ---------------------------------------------------------------------------- items


@pytest.mark.parametrize("view", ["context", "image"])
def test_every_item_has_the_contract_shape_and_a_mask(coco_root, pycoco, view):
    size = 32
    dataset = COCORegions(coco_root, "val2017", image_size=size, view=view)
    for index in range(len(dataset)):
        item = dataset[index]
        assert item["image"].shape == (3, size, size) and item["image"].dtype == torch.float32
        assert item["mask"].shape == (1, size, size) and item["mask"].dtype == torch.float32
        assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}
        assert item["mask"].sum() > 0, f"empty mask for annotation {item['instance_id']}"
        annotation = pycoco.loadAnns(item["instance_id"])[0]
        assert item["area"] == annotation["area"] == dataset.areas[index]
        assert item["label"] == dataset.labels[index]
        assert item["image_id"] == annotation["image_id"] == dataset.image_ids[index]
        assert item["box"].tolist() == pytest.approx(annotation["bbox"])


def test_image_view_matches_the_annotation_mask(coco_root, pycoco):
    """view="image": the mask is the annotation's mask resized, the picture the image resized."""
    size = 64
    dataset = COCORegions(coco_root, "val2017", image_size=size, view="image", min_area=2000)
    for index in range(0, len(dataset), max(1, len(dataset) // 25)):
        item = dataset[index]
        annotation = pycoco.loadAnns(item["instance_id"])[0]
        native = torch.from_numpy(pycoco.annToMask(annotation))
        expected = resize_mask(native, size, "area")[0, 0] >= 0.5
        ours = item["mask"][0] > 0
        iou = (ours & expected).sum() / (ours | expected).sum()
        assert iou > 0.9, f"annotation {item['instance_id']}: IoU {iou:.2f}"

        with Image.open(dataset.image_path(index)) as image:
            plain = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        difference = np.abs(denormalize(item["image"]) - np.asarray(plain) / 255).mean()
        assert difference < 0.04


def test_context_view_centres_the_region_with_its_surroundings(coco_root):
    size = 64
    dataset = COCORegions(coco_root, "val2017", image_size=size, view="context", min_area=100)
    checked = 0
    for index in range(len(dataset)):
        x, y, w, h = dataset.boxes[index]
        width, height = dataset._sizes[dataset._image_of[index]]
        side = max(3 * max(w, h), 96)
        fits = (
            side / 2 <= x + w / 2 <= width - side / 2 and side / 2 <= y + h / 2 <= height - side / 2
        )
        if not fits:  # moved or padded at the border: checked elsewhere
            continue
        mask = dataset[index]["mask"][0]
        rows, cols = torch.nonzero(mask, as_tuple=True)
        # centred, spanning a third of the window (or less, for the minimum window)
        assert abs((rows.min() + rows.max() + 1) / 2 - size / 2) <= 2.5
        assert abs((cols.min() + cols.max() + 1) / 2 - size / 2) <= 2.5
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= size / 3 + 2
        checked += 1
        if checked == 40:
            break
    assert checked >= 3


def test_context_window_geometry():
    # fits: square, contains the box, inside the image
    window = region_window((100, 50, 20, 10), 640, 480, "context", context=3, min_window=32)
    assert window.width == window.height == 60
    assert window.x <= 100 and window.x + 60 >= 120 and window.y <= 50 and window.y + 60 >= 60
    # small box: the minimum size; near a corner: moved inside, not cut
    window = region_window((0, 0, 4, 4), 640, 480, "context", min_window=96)
    assert window == (0, 0, 96, 96)
    # larger than the image along one axis: centred there, to be padded
    window = region_window((10, 10, 30, 30), 100, 60, "context", min_window=96)
    assert window == (0, -18, 96, 96)
    # never larger than the image's longer side
    assert region_window((10, 10, 30, 30), 80, 60, "context", min_window=200) == (0, -10, 80, 80)
    assert region_window((1, 2, 3, 4), 50, 40, "image") == (0, 0, 50, 40)
    with pytest.raises(ValueError, match="view"):
        region_window((1, 2, 3, 4), 50, 40, "crop")


def test_padding_is_the_mean_colour_and_never_masked(synthetic_coco):
    # synthetic images are 260-420 px wide, 200-320 high: a 400 px window pads them
    dataset = COCORegions(synthetic_coco, "val2017", image_size=64, min_window=400)
    width, height = dataset._sizes[dataset._image_of[0]]
    window = region_window(dataset.boxes[0], width, height, "context", 3, 400)
    pad = round(-window.y * 64 / window.height)  # rows of padding above the image
    assert pad >= 2
    item = dataset[0]
    top = denormalize(item["image"])[: pad - 1]
    assert np.abs(top * 255 - MEAN_RGB).max() <= 1.0
    assert item["mask"][0, : pad - 1].sum() == 0
    assert item["mask"].sum() > 0


def test_a_tiny_region_survives_resizing(synthetic_coco):
    for view in ("image", "context"):
        dataset = COCORegions(synthetic_coco, "val2017", image_size=16, view=view)
        tiny = int(np.flatnonzero(dataset.areas == dataset.areas.min())[0])
        assert dataset.areas[tiny] <= 4
        assert dataset[tiny]["mask"].sum() >= 1


def test_degenerate_polygons_fall_back_to_their_box(synthetic_coco):
    dataset = COCORegions(synthetic_coco, "val2017", image_size=32)
    assert dataset.degenerate == 1  # the two-point polygon; the collinear one rasterises empty
    for area in (4.0, 5.0):
        index = int(np.flatnonzero(dataset.areas == area)[0])
        assert dataset[index]["mask"].sum() >= 1
    assert 0.0 not in dataset.areas  # the zero-area annotation is left out


def test_grayscale_cmyk_and_palette_images_come_out_rgb(synthetic_coco):
    dataset = COCORegions(synthetic_coco, "val2017", image_size=32, view="image")
    modes = {}
    for index in range(len(dataset)):
        with Image.open(dataset.image_path(index)) as image:
            modes.setdefault(image.mode, index)
    assert {"L", "CMYK", "P", "RGB"} <= set(modes)
    for mode, index in modes.items():
        image = dataset[index]["image"]
        assert image.shape == (3, 32, 32), mode
        assert torch.isfinite(image).all()
    gray = denormalize(dataset[modes["L"]]["image"])
    assert np.abs(gray[..., 0] - gray[..., 1]).max() < 0.02
    assert np.abs(gray[..., 1] - gray[..., 2]).max() < 0.02


def test_rle_and_crowd_regions_decode(synthetic_coco):
    dataset = COCORegions(
        synthetic_coco, "val2017", image_size=64, view="image", include_crowd=True
    )
    for index in np.flatnonzero(dataset.areas >= 600):
        assert dataset[int(index)]["mask"].sum() > 0
    crowd = int(np.flatnonzero(dataset.iscrowd)[0])
    width, height = dataset._sizes[dataset._image_of[crowd]]
    expected = 800 / (width * height) * 64 * 64
    assert dataset[crowd]["mask"].sum() == pytest.approx(expected, rel=0.35)


def test_per_item_arrays_need_no_image(coco_root):
    dataset = COCORegions(coco_root, "val2017")
    n = len(dataset)
    for name in ("labels", "areas", "image_ids", "category_ids", "instance_ids"):
        assert len(getattr(dataset, name)) == n
    assert dataset.boxes.shape == (n, 4)
    # ordered by image, then annotation id
    keys = list(zip(dataset.image_ids.tolist(), dataset.instance_ids.tolist(), strict=True))
    assert keys == sorted(keys)
    text = dataset.description
    for part in ("val2017", display_path(coco_root), str(n), "view=context", "image_size=224"):
        assert part in text
    assert str(coco_root.absolute()) not in text  # no machine path in printed output


def test_pickles_small_and_loads_in_worker_processes(coco_root):
    dataset = COCORegions(coco_root, "val2017", image_size=32)
    copy = pickle.loads(pickle.dumps(dataset))
    assert torch.equal(copy[3]["mask"], dataset[3]["mask"])
    assert len(pickle.dumps(dataset)) < 4_000_000
    loader = DataLoader(
        dataset.subset(range(8)),
        batch_size=4,
        num_workers=2,
        collate_fn=collate_regions,
    )
    batches = list(loader)
    assert [b["image"].shape for b in batches] == [(4, 3, 32, 32)] * 2
    assert torch.equal(batches[0]["label"], torch.as_tensor(dataset.labels[:4]))


# ---------------------------------------------------------------------------- narrowed forms


def same_item(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a
    )


def test_subset_sample_and_cache_stay_region_datasets(synthetic_coco):
    dataset = COCORegions(synthetic_coco, "val2017", image_size=16)
    assert isinstance(dataset, RegionDataset)
    picked = [5, 0, 3, len(dataset) - 1]  # out of order: kept in the order given
    subset = dataset.subset(picked)
    sampled = dataset.sample(6, seed=2)
    cached = dataset.cached()
    for narrowed, indices in [
        (subset, picked),
        (sampled, sampled.indices.tolist()),
        (cached, list(range(len(dataset)))),
    ]:
        assert isinstance(narrowed, RegionDataset) and len(narrowed) == len(indices)
        assert narrowed.classes == dataset.classes
        assert (narrowed.image_size, narrowed.view) == (16, "context")
        assert narrowed.size_bins is dataset.size_bins
        assert narrowed.labels.tolist() == dataset.labels[indices].tolist()
        assert narrowed.areas.tolist() == dataset.areas[indices].tolist()
        assert narrowed.image_ids.tolist() == dataset.image_ids[indices].tolist()
        for position in (0, len(indices) - 1, -1):
            assert same_item(narrowed[position], dataset[indices[position]])
    # a seeded choice, in order; the same seed chooses the same items
    assert len(sampled.indices) == len(set(sampled.indices.tolist())) == 6
    assert sampled.indices.tolist() == sorted(sampled.indices.tolist())
    assert sampled.indices.tolist() == dataset.sample(6, seed=2).indices.tolist()
    assert sampled.indices.tolist() != dataset.sample(6, seed=3).indices.tolist()
    assert dataset.sample(None, seed=0) is dataset
    assert dataset.sample(len(dataset), seed=0) is dataset
    # a subset of a subset still points at the right items
    inner = subset.subset([2, 0])
    assert same_item(inner[0], dataset[3]) and same_item(inner[1], dataset[5])
    assert "[4 of " in subset.description and dataset.description in subset.description


def test_a_cache_reads_each_item_once_and_pickles_into_workers(synthetic_coco, monkeypatch):
    dataset = COCORegions(synthetic_coco, "val2017", image_size=16)
    reads = []
    original = COCORegions.read
    monkeypatch.setattr(COCORegions, "read", lambda self, i: reads.append(i) or original(self, i))
    cached = dataset.cached()
    first = cached[4]
    assert cached[4] is first and cached[-len(cached) + 4] is first
    assert reads == [4]
    assert repr(cached).startswith("RegionCache(") and "1 of" in repr(cached)
    assert same_item(first, dataset[4])
    with pytest.raises(IndexError):
        cached[len(cached)]
    with pytest.raises(TypeError):
        cached[1.0]


def test_a_subset_checks_its_indices(synthetic_coco):
    dataset = COCORegions(synthetic_coco, "val2017", image_size=16)
    with pytest.raises(IndexError, match=r"outside the \d+ items"):
        dataset.subset([0, len(dataset)])
    with pytest.raises(IndexError, match="outside"):
        dataset.subset([-1])
    subset = dataset.subset([1, 2])
    with pytest.raises(IndexError):
        subset[2]
    assert len(dataset.subset([])) == 0
    copy = pickle.loads(pickle.dumps(subset))
    assert same_item(copy[0], dataset[1])


def test_provenance_tells_subsets_apart(synthetic_coco):
    dataset = COCORegions(synthetic_coco, "val2017", image_size=16)
    whole = dataset.provenance()
    assert whole["description"] == dataset.description and whole["count"] == len(dataset)
    assert len(whole["fingerprint"]) == 16
    assert dataset.provenance() == whole
    assert dataset.cached().provenance() == whole
    first, second = dataset.subset([0, 1, 2]).provenance(), dataset.subset([1, 2, 3]).provenance()
    assert first["count"] == second["count"] == 3
    assert first["fingerprint"] != second["fingerprint"] != whole["fingerprint"]
    assert dataset.subset([0, 1, 2]).provenance() == first


def test_require_regions_says_what_a_region_dataset_is(synthetic_coco):
    dataset = COCORegions(synthetic_coco, "val2017", image_size=16)
    assert require_regions(dataset) is dataset
    subset = dataset.subset([0])
    assert require_regions(subset) is subset
    with pytest.raises(ValueError, match=r"must be a roiattn region dataset.*got list") as error:
        require_regions([dataset[0]], "training data")
    assert "training data" in str(error.value) and ".subset(" not in str(error.value)
    with pytest.raises(ValueError, match=r"got Subset \(for a subset, use dataset\.subset"):
        require_regions(torch.utils.data.Subset(dataset, [0, 1]))


def test_collate_regions_stacks_the_four_fields(synthetic_coco):
    dataset = COCORegions(synthetic_coco, "val2017", image_size=16)
    batch = collate_regions([dataset[0], dataset[1]])
    assert sorted(batch) == ["area", "image", "label", "mask"]  # ids and boxes left out
    assert batch["image"].shape == (2, 3, 16, 16) and batch["mask"].shape == (2, 1, 16, 16)
    assert batch["label"].tolist() == dataset.labels[:2].tolist()
    assert batch["area"].dtype == torch.float64
    assert batch["area"].tolist() == dataset.areas[:2].tolist()
    with pytest.raises(ValueError, match="no items"):
        collate_regions([])
    with pytest.raises(ValueError, match="must be dicts"):
        collate_regions([(1, 2)])
    with pytest.raises(ValueError, match=r"lack \['area'\]"):
        collate_regions([{"image": 0, "mask": 0, "label": 0}])


# ---------------------------------------------------------------------------- paths shown


@pytest.fixture
def places(monkeypatch, tmp_path):
    """A home, a data folder and a COCO folder, each in its own place under ``tmp_path``."""
    home, data, coco = tmp_path / "home", tmp_path / "data", tmp_path / "coco"
    for folder in (home, data, coco):
        folder.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ROIATTN_DATA", str(data))
    monkeypatch.setenv("ROIATTN_COCO_ROOT", str(coco))
    return home, data, coco


def test_display_path_shows_the_folders_a_reader_also_has(places, monkeypatch, tmp_path):
    home, data, coco = places
    assert display_path(coco) == "$ROIATTN_COCO_ROOT"
    assert display_path(coco / "val2017" / "1.jpg") == "$ROIATTN_COCO_ROOT/val2017/1.jpg"
    assert display_path(data / "coco") == "$ROIATTN_DATA/coco"
    assert display_path(data) == "$ROIATTN_DATA"
    assert display_path(home / "work" / "x") == "~/work/x"
    assert display_path("~/work/x") == "~/work/x"
    assert display_path(home) == "~"
    assert display_path(tmp_path / "elsewhere" / "deep" / "folder") == ".../deep/folder"
    # a relative path is taken from the working directory
    monkeypatch.chdir(home)
    assert display_path("notes") == "~/notes"
    # $ROIATTN_COCO_ROOT is tried before $ROIATTN_DATA, which may hold it
    monkeypatch.setenv("ROIATTN_COCO_ROOT", str(data / "coco"))
    assert display_path(data / "coco" / "annotations") == "$ROIATTN_COCO_ROOT/annotations"
    assert display_path(data / "other") == "$ROIATTN_DATA/other"


def test_display_path_without_the_variables(places, monkeypatch, tmp_path):
    home, data, coco = places
    monkeypatch.delenv("ROIATTN_COCO_ROOT")
    monkeypatch.setenv("ROIATTN_COCO_ROOT", "  ")  # blank counts as unset
    assert display_path(coco / "val2017") == ".../coco/val2017"
    monkeypatch.delenv("ROIATTN_DATA")
    # the default data folder lies under home: shown from there, never as $ROIATTN_DATA
    assert display_path(home / ".cache" / "roiattn" / "coco") == "~/.cache/roiattn/coco"
    assert display_path(data / "coco") == ".../data/coco"


def test_descriptions_hold_no_machine_path(synthetic_coco, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # wherever the temporary folders are
    monkeypatch.setenv("ROIATTN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ROIATTN_COCO_ROOT", str(synthetic_coco))
    dataset = COCORegions(synthetic_coco, "val2017", image_size=16)
    assert "at $ROIATTN_COCO_ROOT:" in dataset.description
    monkeypatch.delenv("ROIATTN_COCO_ROOT")
    dataset = COCORegions(synthetic_coco, "val2017", image_size=16)
    assert f"at .../{synthetic_coco.parent.name}/{synthetic_coco.name}:" in dataset.description
    assert str(synthetic_coco) not in dataset.description


# ---------------------------------------------------------------------------- bad input


def test_bad_arguments_are_value_errors(synthetic_coco):
    for kwargs, word in [
        ({"view": "crop"}, "view"),
        ({"image_size": 0}, "image_size"),
        ({"image_size": 32.0}, "image_size"),
        ({"min_area": -1}, "min_area"),
        ({"context": 0.5}, "context"),
        ({"min_window": 0}, "min_window"),
        ({"split": "../val2017"}, "split"),
        ({"categories": ["dics"]}, "did you mean"),
        ({"categories": [99]}, "unknown category"),
        ({"categories": []}, "empty"),
    ]:
        with pytest.raises(ValueError, match=word):
            COCORegions(synthetic_coco, **kwargs)


def test_missing_folder_and_annotation_file(synthetic_coco, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        COCORegions(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"instances_train2017\.json.*instances_val2017"):
        COCORegions(synthetic_coco, "train2017")


@pytest.mark.parametrize(
    "content, words",
    [
        ('{"images": [', "not valid JSON"),
        ("[1, 2]", "not a COCO instances document"),
        ('{"images": [], "annotations": []}', "lacks \\['categories'\\]"),
        ('{"images": {}, "annotations": [], "categories": []}', "'images' must be a list"),
    ],
)
def test_broken_annotation_files_name_the_file(broken_copy, content, words):
    annotation_path(broken_copy).write_text(content)
    with pytest.raises(DataFileError, match=words) as error:
        COCORegions(broken_copy)
    assert str(annotation_path(broken_copy)) in str(error.value)


def test_broken_annotations_are_named_or_skipped(broken_copy, synthetic_coco):
    def damage(document):
        document["annotations"][0]["image_id"] = 5
        document["annotations"][1]["bbox"] = [1, 2]
        del document["annotations"][2]["area"]
        document["annotations"][3]["segmentation"] = "polygon"
        document["annotations"][4]["segmentation"] = [["a", "b", "c", "d", "e", "f"]]

    edit_annotations(broken_copy, damage)
    with pytest.raises(DataFileError, match="refers to image 5") as error:
        COCORegions(broken_copy)
    assert "skip_bad_files=True" in str(error.value)
    with pytest.warns(UserWarning, match="left out 5 broken annotations"):
        clean = COCORegions(broken_copy, skip_bad_files=True)
    assert clean.skipped_annotations == 5
    # four of the five were kept before (the third is a crowd region)
    assert len(clean) == len(COCORegions(synthetic_coco)) - 4


def test_image_records_must_be_complete(broken_copy):
    edit_annotations(broken_copy, lambda d: d["images"][0].pop("width"))
    with pytest.raises(DataFileError, match="'width'"):
        COCORegions(broken_copy)


def test_a_missing_image_is_named_when_built_or_skipped(broken_copy):
    full = COCORegions(broken_copy)
    victim = full.image_path(0)
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=victim.name):
        COCORegions(broken_copy)
    with pytest.warns(UserWarning, match="missing"):
        partial = COCORegions(broken_copy, skip_bad_files=True)
    assert partial.bad_files == [str(victim)]
    assert len(partial) == len(full) - int((full.image_ids == full.image_ids[0]).sum())


def test_a_corrupt_image_is_named_when_read_or_skipped(broken_copy):
    dataset = COCORegions(broken_copy, image_size=32)
    victim = dataset.image_path(0)
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 3])  # truncated JPEG
    with pytest.raises(DataFileError, match=victim.name):
        dataset[0]
    victim.write_bytes(b"this is not a JPEG")
    with pytest.raises(DataFileError, match="corrupt or not an image"):
        dataset[0]

    skipping = COCORegions(broken_copy, image_size=32, skip_bad_files=True)
    with pytest.warns(UserWarning, match=victim.name):
        item = skipping[0]
    assert item["image_id"] != skipping.image_ids[0]  # the next good image's region
    assert skipping.bad_files == [str(victim)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        skipping[0]  # known bad: skipped silently the second time


def test_an_image_of_the_wrong_size_is_named(broken_copy):
    dataset = COCORegions(broken_copy, image_size=32)
    victim = dataset.image_path(0)
    with Image.open(victim) as image:
        image.convert("RGB").resize((50, 50)).save(victim, format="JPEG")
    with pytest.raises(DataFileError, match=r"50x50 pixels but its annotation says"):
        dataset[0]


def test_rle_of_the_wrong_size_is_named(broken_copy):
    def damage(document):
        for ann in document["annotations"]:
            if isinstance(ann["segmentation"], dict):
                ann["segmentation"]["size"] = [3, 3]

    edit_annotations(broken_copy, damage)
    with pytest.raises(DataFileError, match=r"RLE of size \[3, 3\]"):
        COCORegions(broken_copy, include_crowd=True)


def test_indexing_errors(synthetic_coco):
    dataset = COCORegions(synthetic_coco, image_size=16)
    with pytest.raises(IndexError):
        dataset[len(dataset)]
    with pytest.raises(TypeError):
        dataset["0"]
    assert torch.equal(dataset[-1]["mask"], dataset[len(dataset) - 1]["mask"])
