"""download_coco_subset and find_coco, end to end against a local HTTP mirror of coco-mini (or
of the synthetic COCO folder): a zip of its annotations, as the official archive is laid out, and
its images. The mirror can cut connections mid-file, ignore Range requests and lose files."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
import time
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
import torchvision
from pycocotools.coco import COCO

from conftest import make_synthetic_coco
from roiattn import experiments
from roiattn.data import (
    COCORegions,
    ContextShapes,
    SyntheticSize,
    download_coco_subset,
    find_coco,
)
from roiattn.data import sources as data_sources
from roiattn.data.download import (
    COCO_ANNOTATIONS_URL,
    COCO_IMAGES_URL,
    _image_check,
    choose_images,
    fetch,
    subset_document,
    subset_settings,
)
from roiattn.errors import DownloadError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
ARCHIVE = "annotations/annotations_trainval2017.zip"


class Mirror:
    """A threaded HTTP server on 127.0.0.1 serving a folder, with faults to order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.reset()
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                self.respond(body=False)

            def do_GET(self) -> None:
                self.respond(body=True)

            def respond(self, body: bool) -> None:
                path = self.path.split("?")[0].lstrip("/")
                ranged = self.headers.get("Range")
                with mirror.lock:
                    mirror.requests.append((path, ranged))
                    served = mirror.served.get(path, 0)
                    mirror.served[path] = served + 1
                file = mirror.folder / path
                if path in mirror.missing or not file.is_file():
                    self.send_error(404)
                    return
                data = file.read_bytes()
                start = 0
                if ranged and mirror.wrong_range:  # answers a range, but not the one asked
                    start = int(ranged.removeprefix("bytes=").split("-")[0]) // 2
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                elif ranged and not mirror.ignore_range:
                    start = int(ranged.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if not body:
                    return
                payload = data[start:]
                if served < mirror.cut_first:  # cut the connection halfway through
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        self.served: dict[str, int] = {}
        self.cut_first = 0  # cut the first N responses of every file
        self.ignore_range = False
        self.wrong_range = False
        self.missing: set[str] = set()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def mirror(coco_root, tmp_path_factory):
    server = Mirror(mirror_folder(coco_root, tmp_path_factory.mktemp("mirror"), ["val2017"]))
    yield server
    server.close()


def mirror_folder(coco_root: Path, folder: Path, splits: list[str]) -> Path:
    """``folder`` laid out as images.cocodataset.org: the annotation archive of ``coco_root``
    and its image folders of ``splits``."""
    (folder / "annotations").mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / ARCHIVE, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((coco_root / "annotations").glob("instances_*.json")):
            archive.write(path, f"annotations/{path.name}")
    for split in splits:
        (folder / split).symlink_to(coco_root / split)
    return folder


@pytest.fixture
def server(mirror):
    mirror.reset()
    return mirror


def options(server: Mirror, tmp_path: Path, **changes) -> dict:
    return {
        "split": "val2017",
        "max_images": 8,
        "annotations_url": f"{server.url}/{ARCHIVE}",
        "images_base_url": server.url,
        "cache_dir": tmp_path / "cache",
        "workers": 4,
        "retries": 3,
        "backoff": 0.01,
        "timeout": 10.0,
        "progress": False,
        **changes,
    }


def closed_port() -> str:
    """A base URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def closed_port_url() -> str:
    return f"{closed_port()}/{ARCHIVE}"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def check_subset(root: Path, source: Path, count: int) -> dict:
    """The folder is a standard COCO subset of ``source``: images byte for byte, every
    annotation of those images, nothing else."""
    subset = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    original = json.loads((source / "annotations" / "instances_val2017.json").read_text())
    ids = {image["id"] for image in subset["images"]}
    assert len(ids) == count
    expected = [a for a in original["annotations"] if a["image_id"] in ids]
    assert subset["annotations"] == expected
    assert subset["categories"] == original["categories"]
    for image in subset["images"]:
        name = image["file_name"]
        assert (root / "val2017" / name).read_bytes() == (source / "val2017" / name).read_bytes()
    assert not list(root.rglob("*.part"))
    return subset


def images_requested(server: Mirror) -> list[str]:
    return [path for path, _ in server.requests if path.startswith("val2017/")]


# ---------------------------------------------------------------------------- the download


def test_downloads_a_subset_that_coco_regions_reads(server, coco_root, tmp_path):
    root = download_coco_subset(tmp_path / "coco", **options(server, tmp_path))
    assert root == tmp_path / "coco"
    subset = check_subset(root, coco_root, 8)
    assert len(images_requested(server)) == 8
    assert (tmp_path / "cache" / "annotations_trainval2017.zip").is_file()

    ids = [image["id"] for image in subset["images"]]
    source = COCO(str(coco_root / "annotations" / "instances_val2017.json"))
    expected = source.getAnnIds(imgIds=ids, areaRng=[0, float("inf")], iscrowd=False)
    dataset = COCORegions(root, "val2017", image_size=32)
    assert sorted(dataset.instance_ids.tolist()) == sorted(expected)
    assert dataset[0]["mask"].sum() > 0
    assert subset_settings(root, "val2017")["max_images"] == 8

    # the same call again: nothing is fetched, not even the cached archive
    server.reset()
    download_coco_subset(tmp_path / "coco", **options(server, tmp_path))
    assert server.requests == []
    # a larger subset with the same seed keeps the smaller one's images and adds the rest
    download_coco_subset(tmp_path / "coco", **options(server, tmp_path, max_images=11))
    assert len(images_requested(server)) == 3
    check_subset(root, coco_root, 11)


def test_connections_cut_mid_file_are_resumed(server, coco_root, tmp_path):
    server.cut_first = 1  # every file's first response stops halfway
    root = download_coco_subset(tmp_path / "coco", **options(server, tmp_path))
    check_subset(root, coco_root, 8)
    assert md5(tmp_path / "cache" / "annotations_trainval2017.zip") == md5(server.folder / ARCHIVE)
    resumed = [path for path, ranged in server.requests if ranged and ranged != "bytes=0-"]
    assert len(resumed) == 9  # the archive and every image continued where it stopped


def test_a_server_ignoring_ranges_still_gives_whole_files(server, coco_root, tmp_path):
    server.cut_first = 1
    server.ignore_range = True
    root = download_coco_subset(tmp_path / "coco", **options(server, tmp_path))
    check_subset(root, coco_root, 8)


def test_a_range_answered_wrongly_is_discarded(server, coco_root, tmp_path):
    server.cut_first = 1
    server.wrong_range = True
    root = download_coco_subset(tmp_path / "coco", **options(server, tmp_path))
    check_subset(root, coco_root, 8)
    assert md5(tmp_path / "cache" / "annotations_trainval2017.zip") == md5(server.folder / ARCHIVE)


def test_partial_files_from_an_earlier_run_are_continued(server, coco_root, tmp_path):
    archive = (server.folder / ARCHIVE).read_bytes()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "annotations_trainval2017.zip.part").write_bytes(archive[:1000])
    choice = choose_images(
        json.loads((coco_root / "annotations/instances_val2017.json").read_text()), 8
    )
    source = json.loads((coco_root / "annotations/instances_val2017.json").read_text())
    name = next(i["file_name"] for i in source["images"] if i["id"] == choice[0])
    (tmp_path / "coco" / "val2017").mkdir(parents=True)
    image = (coco_root / "val2017" / name).read_bytes()
    (tmp_path / "coco" / "val2017" / f"{name}.part").write_bytes(image[:500])

    root = download_coco_subset(
        tmp_path / "coco", **options(server, tmp_path, annotations_md5=md5(server.folder / ARCHIVE))
    )
    check_subset(root, coco_root, 8)
    assert (ARCHIVE, "bytes=1000-") in server.requests
    assert (f"val2017/{name}", "bytes=500-") in server.requests


def test_a_wrong_checksum_is_refused(server, tmp_path):
    with pytest.raises(DownloadError, match="MD5 differs"):
        download_coco_subset(
            tmp_path / "coco", **options(server, tmp_path, annotations_md5="0" * 32, retries=1)
        )
    assert not (tmp_path / "cache" / "annotations_trainval2017.zip").exists()
    assert not list((tmp_path / "cache").glob("*.part"))


def test_offline_names_the_url_and_what_to_do(tmp_path):
    url = closed_port_url()
    start = time.perf_counter()
    with pytest.raises(DownloadError) as error:
        download_coco_subset(
            tmp_path / "coco",
            annotations_url=url,
            cache_dir=tmp_path,
            retries=2,
            backoff=0.01,
            progress=False,
        )
    message = str(error.value)
    assert url in message and "offline" in message and "ROIATTN_COCO_ROOT" in message
    assert time.perf_counter() - start < 10


def test_a_missing_file_is_not_retried(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(f"{server.url}/nothing.zip", tmp_path / "nothing.zip", retries=3, backoff=0.01)
    assert len(server.requests) == 1


def test_failed_images_are_reported_and_fetched_on_the_next_run(server, coco_root, tmp_path):
    source = json.loads((coco_root / "annotations" / "instances_val2017.json").read_text())
    first = choose_images(source, 8)[0]
    name = next(i["file_name"] for i in source["images"] if i["id"] == first)
    server.missing = {f"val2017/{name}"}
    with pytest.raises(
        DownloadError,
        match=r"1 of 8 images could not be downloaded, e\.g\. cannot download .*HTTP 404.*\. "
        r"Run again with the same arguments: the 7 images already here are kept$",
    ):
        download_coco_subset(tmp_path / "coco", **options(server, tmp_path))
    assert not (tmp_path / "coco" / "annotations" / "instances_val2017.json").exists()
    assert len(list((tmp_path / "coco" / "val2017").iterdir())) == 7

    server.reset()
    root = download_coco_subset(tmp_path / "coco", **options(server, tmp_path))
    assert images_requested(server) == [f"val2017/{name}"]
    check_subset(root, coco_root, 8)


def test_an_image_of_the_wrong_size_is_refused(server, coco_root, tmp_path):
    source = json.loads((coco_root / "annotations" / "instances_val2017.json").read_text())
    record = source["images"][0]
    with pytest.raises(DownloadError, match="expected"):
        fetch(
            f"{server.url}/val2017/{record['file_name']}",
            tmp_path / "x.jpg",
            check=_image_check(1, 1),
            retries=0,
        )
    assert not (tmp_path / "x.jpg").exists()


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"max_images": 0}, "max_images"),
        ({"workers": 0}, "workers"),
        ({"retries": -1}, "retries"),
        ({"split": "../val2017"}, "split"),
    ],
)
def test_bad_arguments(tmp_path, changes, words):
    with pytest.raises(ValueError, match=words):
        download_coco_subset(tmp_path, **changes)


# ---------------------------------------------------------------------------- choosing images


@pytest.fixture(scope="module")
def document(coco_root):
    return json.loads((coco_root / "annotations" / "instances_val2017.json").read_text())


def categories_in(document, image_ids):
    ids = set(image_ids)
    return {
        a["category_id"]
        for a in document["annotations"]
        if a["image_id"] in ids and not a["iscrowd"]
    }


def test_choice_is_seeded_and_nested(document):
    small = choose_images(document, 4, seed=1)
    assert small == choose_images(document, 4, seed=1)
    assert small != choose_images(document, 4, seed=2)
    assert set(small) <= set(choose_images(document, 6, seed=1))
    holding = {a["image_id"] for a in document["annotations"] if not a["iscrowd"] and a["area"] > 0}
    assert choose_images(document, None) == sorted(holding)


def test_balanced_choice_gives_every_class_its_turn(document):
    """With as many images as classes, each class has had a turn, so each is in the subset."""
    present = categories_in(document, [image["id"] for image in document["images"]])
    for seed in range(3):
        chosen = choose_images(document, len(present), seed=seed)
        assert len(chosen) == len(present)
        assert categories_in(document, chosen) == present


def test_chosen_categories_only(server, coco_root, document, tmp_path):
    wanted = sorted(document["categories"], key=lambda c: c["id"])[1]
    chosen = choose_images(document, 3, categories=[wanted["name"]])
    assert all(wanted["id"] in categories_in(document, [i]) for i in chosen)
    available = len(
        {
            a["image_id"]
            for a in document["annotations"]
            if a["category_id"] == wanted["id"] and not a["iscrowd"]
        }
    )
    with pytest.warns(UserWarning, match=f"only {available} images"):
        root = download_coco_subset(
            tmp_path / "coco",
            **options(server, tmp_path, max_images=500, categories=[wanted["id"]]),
        )
    subset = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    assert subset["categories"] == [wanted]
    assert {a["category_id"] for a in subset["annotations"]} == {wanted["id"]}
    assert COCORegions(root, "val2017").classes == [wanted["name"]]
    with pytest.raises(ValueError, match="unknown category"):
        choose_images(document, 3, categories=["unicorn"])


# ---------------------------------------------------------------------------- the subset


def test_subset_document_keeps_the_chosen_images_and_their_regions(document, tmp_path):
    chosen = choose_images(document, 6, seed=3)
    subset = subset_document(document, 6, None, True, 3, tmp_path / "archive.zip")
    assert [image["id"] for image in subset["images"]] == [
        image["id"] for image in document["images"] if image["id"] in set(chosen)
    ]
    assert subset["annotations"] == [a for a in document["annotations"] if a["image_id"] in chosen]
    assert subset["categories"] == document["categories"]
    assert subset["info"] == document.get("info", {}) and subset["info"] is not document["info"]

    wanted = sorted(document["categories"], key=lambda c: c["id"])[0]
    only = subset_document(document, 3, [wanted["name"]], True, 0, tmp_path / "archive.zip")
    assert only["categories"] == [wanted]
    assert {a["category_id"] for a in only["annotations"]} == {wanted["id"]}
    assert len(only["images"]) == 3
    with pytest.warns(UserWarning, match=r"only \d+ images hold the chosen categories"):
        subset_document(document, 10_000, None, True, 0, tmp_path / "archive.zip")


# ---------------------------------------------------------------------------- find_coco


@pytest.fixture
def no_coco_env(monkeypatch, tmp_path):
    """No COCO folder named, an empty data folder, no mirror, a home of its own."""
    monkeypatch.delenv("ROIATTN_COCO_ROOT", raising=False)
    monkeypatch.delenv("ROIATTN_COCO_MIRROR", raising=False)
    monkeypatch.setenv("ROIATTN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "data"


SMALL = SyntheticSize(train=4, test=3, image_size=64)


def test_find_coco_prefers_the_environment(monkeypatch, coco_root):
    monkeypatch.setenv("ROIATTN_COCO_ROOT", str(coco_root))
    found = find_coco("val2017", download_images=5, synthetic=SMALL, download=False)
    assert (found.root, found.kind) == (coco_root, "env")
    assert found.note == "COCO val2017 from $ROIATTN_COCO_ROOT"  # no machine path
    monkeypatch.setenv("ROIATTN_COCO_ROOT", str(coco_root / "val2017"))
    with pytest.raises(FileNotFoundError, match="ROIATTN_COCO_ROOT"):
        find_coco("val2017", download_images=5, synthetic=SMALL)


def test_coco_urls_follow_the_mirror(monkeypatch):
    monkeypatch.delenv("ROIATTN_COCO_MIRROR", raising=False)
    assert data_sources.coco_urls() == (COCO_ANNOTATIONS_URL, COCO_IMAGES_URL)
    monkeypatch.setenv("ROIATTN_COCO_MIRROR", " http://mirror.example/coco/ ")
    assert data_sources.coco_urls() == (
        "http://mirror.example/coco/annotations/annotations_trainval2017.zip",
        "http://mirror.example/coco",
    )


def test_find_coco_downloads_through_the_mirror_then_reuses(
    server, no_coco_env, monkeypatch, capsys
):
    monkeypatch.setenv("ROIATTN_COCO_MIRROR", server.url)
    seen = {}

    def download(*args, **kwargs):  # what was printed and asked for before the download began
        seen["out"], seen["requests"] = capsys.readouterr().out, list(server.requests)
        return download_coco_subset(*args, **kwargs)

    monkeypatch.setattr(data_sources, "download_coco_subset", download)
    found = find_coco("val2017", download_images=5, synthetic=SMALL)
    assert found.kind == "download" and found.root == no_coco_env / "coco"
    assert found.note == "COCO val2017: 5 images downloaded (class-balanced, seed 0)"
    assert seen["out"] == (
        "downloading the annotation archive (241 MB, once) and 5 COCO val2017 images (about "
        "1 MB) to $ROIATTN_DATA/coco\n"
    )
    assert seen["requests"] == [(ARCHIVE, None)]  # only the probe came before the line
    assert (ARCHIVE, None) in server.requests[1:] and len(images_requested(server)) == 5
    assert (no_coco_env / "annotations_trainval2017.zip").is_file()
    assert subset_settings(found.root, "val2017")["max_images"] == 5
    assert len(COCORegions(found.root, "val2017").image_ids) > 0

    server.reset()
    again = find_coco("val2017", download_images=5, synthetic=SMALL)
    assert (again.root, again.kind) == (found.root, "cache")
    assert again.note == "COCO val2017 from an earlier download in $ROIATTN_DATA/coco (5 images)"
    assert server.requests == [] and capsys.readouterr().out == ""
    # a larger download is wanted, but downloads are off: the smaller one serves
    assert find_coco("val2017", download_images=7, download=False).kind == "cache"
    assert server.requests == []

    # a larger one with downloads on: the archive is kept, only the new images come
    larger = find_coco("val2017", download_images=7, synthetic=SMALL)
    assert (larger.root, larger.kind) == (found.root, "download")
    assert seen["out"] == "downloading 7 COCO val2017 images (about 1 MB) to $ROIATTN_DATA/coco\n"
    assert ARCHIVE not in [path for path, _ in server.requests[1:]]
    assert len(images_requested(server)) == 2


def test_find_coco_falls_back_to_an_earlier_download_when_one_fails(
    server, no_coco_env, document, monkeypatch
):
    monkeypatch.setenv("ROIATTN_COCO_MIRROR", server.url)
    find_coco("val2017", download_images=4, synthetic=SMALL)
    new = set(choose_images(document, 6)) - set(choose_images(document, 4))
    names = {i["id"]: i["file_name"] for i in document["images"]}
    server.missing = {f"val2017/{names[i]}" for i in new}
    with pytest.warns(UserWarning, match="COCO download failed, falling back"):
        found = find_coco("val2017", download_images=6, synthetic=SMALL)
    assert (found.root, found.kind) == (no_coco_env / "coco", "cache")
    assert found.note == "COCO val2017 from $ROIATTN_DATA/coco (download failed)"
    assert subset_settings(found.root, "val2017")["max_images"] == 4  # the earlier one, whole
    assert len(COCORegions(found.root, "val2017")) > 0


def test_find_coco_falls_back_to_synthetic_data_with_both_splits_in_one_folder(
    no_coco_env, monkeypatch
):
    """No COCO folder, no download, no network: one synthetic folder holds train2017 (scenes
    from ``seed``) and val2017 (other scenes, from ``seed + 1``), so a reader can take both
    splits from the folder find_coco named for either."""
    monkeypatch.setenv("ROIATTN_COCO_MIRROR", closed_port())
    # the note says it (every chapter and command prints it); no warning with a source path
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train = find_coco("train2017", synthetic=SMALL, seed=0, probe_timeout=1)
        test = find_coco("val2017", synthetic=SMALL, seed=0, probe_timeout=1)
    assert train.note.startswith("SYNTHETIC DATA") and test.note.startswith("SYNTHETIC DATA")
    folder = no_coco_env / "context-shapes" / "4-3x64px-seed0"
    assert train.root == test.root == folder
    assert train.kind == test.kind == "synthetic"
    for found in (train, test):
        assert "not COCO results" in found.note and "no network" in found.note
        assert "written as COCO to $ROIATTN_DATA/context-shapes/4-3x64px-seed0." in found.note
        assert str(no_coco_env) not in found.note
    assert "train2017 is 4 ContextShapes scenes (64px, seed 0)" in train.note
    assert "val2017 is 3 ContextShapes scenes (64px, seed 1)" in test.note

    for split, world in [
        ("train2017", ContextShapes(4, 64, seed=0)),
        ("val2017", ContextShapes(3, 64, seed=1)),
    ]:
        dataset = COCORegions(train.root, split, image_size=32)  # both from the train's folder
        assert len(dataset) == len(world) > 0 and dataset[0]["mask"].sum() > 0
        assert dataset.classes == world.classes
        assert dataset.labels.tolist() == world.labels.tolist()
        assert dataset.areas.tolist() == world.areas.tolist()

    stamp = (folder / "annotations" / "instances_val2017.json").stat().st_mtime_ns
    again = find_coco("val2017", synthetic=SMALL, download=False)
    assert again.root == folder and "downloads off" in again.note
    assert again.note.startswith("SYNTHETIC DATA")
    assert (folder / "annotations" / "instances_val2017.json").stat().st_mtime_ns == stamp
    # another seed or size: another folder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        other = find_coco("val2017", synthetic=SMALL, seed=1, download=False)
    assert other.root == no_coco_env / "context-shapes" / "4-3x64px-seed1"


@pytest.mark.slow
def test_the_colab_profile_runs_end_to_end_offline(no_coco_env, monkeypatch, tmp_path):
    """The GPU path, exercised on this machine at tiny sizes: the colab profile's COCO experiment
    downloads both splits from a mirror (a server on 127.0.0.1: nothing outside is reached),
    builds ResNet-50 with ``weights="DEFAULT"`` from a prepared torch hub cache, and trains and
    evaluates through the ``experiment.run()`` that chapter 6 calls."""
    source = tmp_path / "source"
    for split, seed in (("train2017", 1), ("val2017", 2)):
        make_synthetic_coco(source, split, n_images=8, seed=seed)
    folder = mirror_folder(source, tmp_path / "mirror", ["train2017", "val2017"])
    # a ResNet-50 state dict under the file name torchvision looks for: the loader of the real
    # ImageNet weights reads it (they cannot be downloaded here)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    name = torchvision.models.ResNet50_Weights.DEFAULT.url.rsplit("/", 1)[-1]
    torch.save(torchvision.models.resnet50().state_dict(), hub / name)
    server = Mirror(folder)
    monkeypatch.setenv("ROIATTN_COCO_MIRROR", server.url)
    experiment = experiments.coco("colab").replace(
        image_size=32, download_images=6, batch_size=4, max_steps=2, eval_batch_size=8,
        num_workers=0, seeds=(0,),
    )  # fmt: skip
    try:
        comparison = experiment.run(["hard@input", "attn-add@conv1"], progress=False)
    finally:
        server.close()
    made = comparison.provenance
    assert made["profile"] == "colab" and made["source_kind"] == "download"
    assert (made["experiment"]["arch"], made["experiment"]["weights"]) == ("resnet50", "DEFAULT")
    assert {path.split("/")[0] for path, _ in server.requests} == {
        "annotations", "train2017", "val2017"
    }  # fmt: skip
    images = {path for path, _ in server.requests if not path.startswith("annotations/")}
    assert len(images) == 12  # six images per split
    for method in comparison.methods:
        assert len(comparison.history(method).loss) == 2  # trained, two steps
        assert 0 <= comparison.accuracy(method, "overall", "accuracy") <= 1


# ----------------------------------------------------------------- the book's own image list


def test_the_book_ships_the_annotations_of_the_images_its_pages_were_made_on():
    """The list is coco-mini's, annotation for annotation: a reader who downloads it gets the
    very regions the published outputs were computed on."""
    from conftest import COCO_MINI

    for split in ("train2017", "val2017"):
        shipped = data_sources.BOOK_FILES / f"instances_{split}.json"
        assert shipped.read_bytes() == (COCO_MINI / "annotations" / shipped.name).read_bytes()
    assert experiments.coco("quick").data.download_images == data_sources.BOOK_IMAGES


@pytest.mark.slow
def test_the_quick_profile_downloads_the_books_images_and_gets_the_pages_regions(
    no_coco_env, monkeypatch
):
    """Without a COCO folder, the quick profile fetches exactly the listed images (from a server
    on 127.0.0.1 holding coco-mini's files, as images.cocodataset.org holds them), and no
    annotation archive; the regions are then those of coco-mini, to the fingerprint, which is
    what the shipped runs are keyed by."""
    from conftest import COCO_MINI

    server = Mirror(COCO_MINI)
    monkeypatch.setenv("ROIATTN_COCO_MIRROR", server.url)
    try:
        downloaded = experiments.coco("quick").regions()
        first = list(server.requests)
        again = experiments.coco("quick").regions()  # found on disk: nothing fetched
        assert len(server.requests) == len(first)
    finally:
        server.close()
    assert downloaded.source.kind == "download" and again.source.kind == "cache"
    assert "the book's images" in downloaded.source.note
    listed = {
        f"{split}/{record['file_name']}"
        for split in ("train2017", "val2017")
        for record in json.loads((data_sources.BOOK_FILES / f"instances_{split}.json").read_text())[
            "images"
        ]
    }
    assert {path for path, _ in first if path.endswith(".jpg")} == listed and len(listed) == 288
    assert not [path for path, _ in first if path.startswith("annotations")]  # no archive
    root = no_coco_env / data_sources.BOOK_FOLDER
    for path in sorted(listed)[::37]:
        assert (root / path).read_bytes() == (COCO_MINI / path).read_bytes()
    monkeypatch.setenv("ROIATTN_COCO_ROOT", str(COCO_MINI))
    pages = experiments.coco("quick").regions()
    for split in ("train", "test"):
        a, b = getattr(downloaded, split), getattr(pages, split)
        assert a.provenance()["fingerprint"] == b.provenance()["fingerprint"]
        assert a.provenance()["description"] != b.provenance()["description"]  # other folders
        assert torch.equal(a[0]["image"], b[0]["image"]) and torch.equal(a[0]["mask"], b[0]["mask"])
    # so a run has the same key on either: the runs the package ships are found on both
    from roiattn.experiments.runner import _run_key

    keys = [
        _run_key(experiments.coco("quick"), "image", 0,
                 {"train": r.train.provenance(), "test": r.test.provenance()}, "cpu")
        for r in (downloaded, pages)
    ]  # fmt: skip
    assert keys[0] == keys[1]
    other_view = experiments.coco("quick").replace(view="image").regions()
    assert _run_key(experiments.coco("quick"), "image", 0, {"train": other_view.train.provenance(),
                    "test": other_view.test.provenance()}, "cpu") != keys[0]  # fmt: skip


def test_the_sample_photos_download_by_their_shipped_list_too(no_coco_env, monkeypatch):
    """Chapters 1-3's photos come the same way as the book's images: fetched by the list that
    ships, from a mirror here, then the list is written last."""
    from conftest import COCO_MINI
    from roiattn.data.samples import SAMPLE_IMAGES, SAMPLES_FILE, sample_coco

    server = Mirror(COCO_MINI)
    monkeypatch.setenv("ROIATTN_COCO_MIRROR", server.url)
    try:
        found = sample_coco()
    finally:
        server.close()
    assert found.kind == "samples" and found.root == no_coco_env / "samples"
    assert len({path for path, _ in server.requests}) == len(SAMPLE_IMAGES)
    written = found.root / "annotations" / "instances_val2017.json"
    assert written.read_bytes() == SAMPLES_FILE.read_bytes()
    assert len(list((found.root / "val2017").glob("*.jpg"))) == len(SAMPLE_IMAGES)
