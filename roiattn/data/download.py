"""download_coco_subset: a small, standard COCO folder for Colab and anyone with internet.

The official annotation archive (241 MB) is downloaded once into a cache and reused; a subset of
images is chosen from it (by count, by category, class-balanced, seeded) and only those images are
fetched, in parallel, from their ``coco_url``. The result is a standard COCO folder
(``annotations/instances_<split>.json`` holding just the subset, ``<split>/*.jpg``) that
:class:`~roiattn.data.COCORegions` and pycocotools read.

Interrupted downloads resume: every file is written to ``<name>.part`` and renamed only once its
size (``Content-Length``) and, for the archive, its MD5 are right, so a file under its final name
is always complete and is never fetched again; a ``.part`` file is continued with an HTTP
``Range`` request. The annotation file of the subset is written last, so a folder that has one is
complete.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.request
import warnings
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from roiattn.data.coco import select_categories
from roiattn.data.paths import default_data_dir
from roiattn.errors import DataFileError, DownloadError

COCO_ANNOTATIONS_URL = "http://images.cocodataset.org/annotations/annotations_trainval2017.zip"
COCO_ANNOTATIONS_MD5 = "f4bbac642086de4f52a3fdda2de5fa2c"
COCO_IMAGES_URL = "http://images.cocodataset.org"
SUBSET_KEY = "roiattn_subset"  # where the subset's settings are kept, under the JSON's "info"

_CHUNK = 1 << 20
_RETRY_STATUS = (408, 425, 429, 500, 502, 503, 504)
_TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _offline_hint(url: str, reason: object) -> str:
    return (
        f"cannot download {url} ({reason}): check the internet connection (offline?) and the "
        "URL, then run again (finished files are kept); or use a COCO folder you already have "
        "(set ROIATTN_COCO_ROOT, or pass its path to COCORegions)"
    )


def fetch(
    url: str,
    dest: str | os.PathLike,
    *,
    md5: str | None = None,
    check: Callable[[Path], None] | None = None,
    retries: int = 4,
    backoff: float = 1.0,
    timeout: float = 30.0,
    progress: bool = False,
) -> Path:
    """Download ``url`` to ``dest`` unless it is already there; returns ``dest``.

    Writes ``dest.part`` and renames it when complete: the byte count must match the server's
    ``Content-Length``, the MD5 ``md5`` (when given), and ``check(part)`` must not raise. A
    ``.part`` left by an interrupted run is continued with a ``Range`` request (a server that
    ignores ranges sends the whole file again, which is handled). Connection errors, truncated
    bodies and 5xx answers are retried ``retries`` times, waiting ``backoff * 2**k`` seconds.
    """
    dest = Path(dest)
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last_error: object = None
    for attempt in range(max(1, int(retries) + 1)):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        last_error = _receive(url, part, timeout, dest.name if progress else None)
        if last_error is None:
            last_error = _verify(part, md5, check)
        if last_error is None:
            os.replace(part, dest)
            return dest
    raise DownloadError(_offline_hint(url, last_error))


def _receive(url: str, part: Path, timeout: float, bar_name: str | None) -> object:
    """One attempt: append to ``part`` from where it stops (a ``Range`` request), or write it
    afresh. Returns None when the whole file arrived, else why not (to retry); raises
    :class:`DownloadError` for an answer that retrying cannot change."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "roiattn"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status == 206:
                first = response.headers.get("Content-Range", "").split(" ")[-1].split("-")[0]
                if first != str(offset):  # a range we did not ask for: start again
                    part.unlink(missing_ok=True)
                    return f"the server sent bytes from {first}, not from {offset}"
            else:
                offset = 0  # the whole file (the server ignores ranges, or we asked none)
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length is not None else None
            bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=bar_name,
                       disable=bar_name is None, leave=False)  # fmt: skip
            with bar, open(part, "ab" if offset else "wb") as file:
                while block := response.read(_CHUNK):
                    file.write(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as error:
        error.close()  # it holds the connection: release it now, not when collected
        if error.code == 416:  # our range starts at or past the end: start again
            part.unlink(missing_ok=True)
            return "HTTP 416 (stale partial file)"
        if error.code not in _RETRY_STATUS:
            raise DownloadError(
                f"cannot download {url}: HTTP {error.code} {error.reason}: check the URL "
                "(base URLs are parameters of download_coco_subset, or $ROIATTN_COCO_MIRROR)"
            ) from None
        return f"HTTP {error.code} {error.reason}"
    except _TRANSIENT as error:
        return getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
    size = part.stat().st_size
    if total is not None and size != total:
        return f"connection closed after {size} of {total} bytes"  # resumed from there
    return None


def _verify(part: Path, md5: str | None, check: Callable[[Path], None] | None) -> object:
    """None when ``part`` has the MD5 ``md5`` and passes ``check``; else it is deleted and the
    reason returned (to fetch it again)."""
    if md5 is not None and _md5(part) != md5.lower():
        part.unlink()
        return f"MD5 differs from {md5} (corrupt download, fetched again)"
    if check is not None:
        try:
            check(part)
        except (DataFileError, ValueError) as error:
            part.unlink()
            return error
    return None


def read_split_from_archive(archive: str | os.PathLike, split: str) -> dict[str, Any]:
    """The ``instances_<split>.json`` document inside the COCO annotation archive."""
    archive = Path(archive)
    member = f"annotations/instances_{split}.json"
    try:
        with zipfile.ZipFile(archive) as zipped:
            names = zipped.namelist()
            if member not in names:
                found = [n for n in names if "instances_" in n]
                raise ValueError(
                    f"{archive} has no {member} (it has {found}): choose a split it holds"
                )
            with zipped.open(member) as file:
                document = json.load(file)
    except (zipfile.BadZipFile, json.JSONDecodeError, EOFError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        archive.unlink(missing_ok=True)
        raise DataFileError(
            f"annotation archive {archive} is corrupt ({type(error).__name__}: {error}); it was "
            "deleted: run again to download it afresh"
        ) from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(document.get(key), list):
            raise DataFileError(f"{member} in {archive} is not a COCO instances file ({key})")
    return document


def choose_images(
    document: dict[str, Any],
    max_images: int | None,
    categories: Iterable[int | str] | None = None,
    balanced: bool = True,
    seed: int = 0,
) -> list[int]:
    """The ids of the subset's images, deterministic from ``seed``.

    Candidates are images with at least one non-crowd instance of the chosen ``categories``.
    ``balanced``: categories take turns (in COCO order), each adding a random image of its own
    not chosen yet, so rare categories get as many images as common ones while they last; else a
    random sample. Either way the first ``k`` picks do not depend on ``max_images``, so a larger
    subset contains a smaller one with the same seed.
    """
    chosen = select_categories(document["categories"], categories, Path("the annotations"))
    wanted = {int(c["id"]) for c in chosen}
    images_of: dict[int, set[int]] = {cid: set() for cid in sorted(wanted)}
    for ann in document["annotations"]:
        category = int(ann.get("category_id", -1))
        if category in wanted and not ann.get("iscrowd", 0) and float(ann.get("area", 0)) > 0:
            images_of[category].add(int(ann["image_id"]))
    listed = {int(record["id"]) for record in document["images"]}
    rng = np.random.default_rng(seed)
    pool = sorted(set().union(*images_of.values()) & listed)
    limit = len(pool) if max_images is None else min(max_images, len(pool))
    if not balanced:
        return sorted(int(i) for i in rng.permutation(np.array(pool, dtype=np.int64))[:limit])
    queues = {
        cid: [int(i) for i in rng.permutation(np.array(sorted(ids & listed), dtype=np.int64))]
        for cid, ids in images_of.items()
    }
    taken: set[int] = set()
    picks: list[int] = []
    while len(picks) < limit:
        for queue in queues.values():
            while queue and queue[-1] in taken:
                queue.pop()
            if queue and len(picks) < limit:
                taken.add(queue[-1])
                picks.append(queue.pop())
    return sorted(picks)


def _image_check(width: int, height: int) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        try:
            with Image.open(path) as image:
                size = image.size
        except (OSError, UnidentifiedImageError, SyntaxError) as error:
            raise DataFileError(f"not an image ({error})") from None
        if size != (width, height):
            raise DataFileError(f"image is {size[0]}x{size[1]}, expected {width}x{height}")

    return check


def download_coco_subset(
    root: str | os.PathLike,
    split: str = "val2017",
    max_images: int | None = 500,
    categories: Iterable[int | str] | None = None,
    balanced: bool = True,
    seed: int = 0,
    annotations_url: str = COCO_ANNOTATIONS_URL,
    images_base_url: str | None = None,
    workers: int = 8,
    retries: int = 4,
    cache_dir: str | os.PathLike | None = None,
    annotations_md5: str | None = None,
    backoff: float = 1.0,
    timeout: float = 30.0,
    progress: bool = True,
) -> Path:
    """Download a COCO 2017 subset into ``root`` (a standard COCO folder) and return ``root``.

    - ``max_images`` images of ``split`` (None: all) holding the chosen ``categories`` (names or
      ids; None: all 80), chosen by :func:`choose_images` from ``seed`` (``balanced``: the
      categories take turns). With ``categories`` the subset's annotation file lists only those
      categories and their instances, so ``COCORegions(root)`` sees just them.
    - The archive ``annotations_url`` is cached in ``cache_dir`` (default ``$ROIATTN_DATA`` or
      ``~/.cache/roiattn``) and checked against ``annotations_md5`` (default: the official
      archive's MD5 when the URL is the official one, else only its size).
    - Images come from their records' ``coco_url``, or from ``<images_base_url>/<split>/<file>``
      when a base URL (a mirror) is given; ``workers`` at a time, each retried ``retries`` times.
    - Run again after an interruption: complete files are kept, partial ones resumed. When
      ``root`` already holds this very subset nothing is downloaded (works offline).
    """
    _check_subset_arguments(split, max_images, workers, retries)
    root = Path(root)
    settings = {
        "split": split,
        "max_images": max_images,
        "categories": None if categories is None else sorted(map(str, categories)),
        "balanced": bool(balanced),
        "seed": int(seed),
        "annotations": annotations_url.rsplit("/", 1)[-1],
    }
    if _is_complete(root, split, settings):
        return root

    cache = Path(cache_dir) if cache_dir is not None else default_data_dir()
    if annotations_md5 is None and annotations_url == COCO_ANNOTATIONS_URL:
        annotations_md5 = COCO_ANNOTATIONS_MD5
    archive = fetch(
        annotations_url,
        cache / annotations_url.rsplit("/", 1)[-1],
        md5=annotations_md5,
        retries=retries,
        backoff=backoff,
        timeout=timeout,
        progress=progress,
    )
    subset = subset_document(
        read_split_from_archive(archive, split), max_images, categories, balanced, seed, archive
    )
    subset["info"][SUBSET_KEY] = settings
    jobs = _image_jobs(subset["images"], split, root / split, images_base_url)
    _fetch_images(jobs, f"COCO {split} images", workers, retries, backoff, timeout, progress)

    _write_whole(root / "annotations" / f"instances_{split}.json", json.dumps(subset).encode())
    return root


def download_listed_images(
    root: str | os.PathLike,
    split: str,
    annotation_file: str | os.PathLike,
    images_base_url: str = COCO_IMAGES_URL,
    what: str = "images",
    progress: bool = True,
) -> Path:
    """Fetch the images a COCO annotation file lists (``<images_base_url>/<split>/<file>``) into
    ``root/<split>``, then copy the file to ``root/annotations/instances_<split>.json`` (last, so
    a folder holding it is complete); returns ``root``. No annotation archive is needed: this is
    how the book's own image lists (its sample photos, the images its pages were made on)
    download. Run again after an interruption: the images already here are kept."""
    root = Path(root)
    listed = Path(annotation_file).read_bytes()
    jobs = _image_jobs(json.loads(listed)["images"], split, root / split, images_base_url)
    _fetch_images(jobs, what, 8, 4, 1.0, 30.0, progress)
    _write_whole(root / "annotations" / f"instances_{split}.json", listed)
    return root


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``path`` through a ``.part`` file, so that a file under its name is complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _image_jobs(
    records: Iterable[dict[str, Any]], split: str, folder: Path, images_base_url: str | None
) -> list[tuple[str, Path, int, int]]:
    """``(url, dest, width, height)`` of each image record, into ``folder`` (made here): from
    ``<images_base_url>/<split>/<file>``, or from the record's ``coco_url`` without a base."""
    folder.mkdir(parents=True, exist_ok=True)
    jobs = []
    for record in records:
        name = str(record["file_name"])
        if images_base_url is not None:
            url = f"{images_base_url.rstrip('/')}/{split}/{name}"
        else:
            url = record.get("coco_url") or f"{COCO_IMAGES_URL}/{split}/{name}"
        jobs.append((url, folder / name, int(record["width"]), int(record["height"])))
    return jobs


def _check_subset_arguments(split: str, max_images: int | None, workers: int, retries: int) -> None:
    if not isinstance(split, str) or not split or "/" in split or "\\" in split:
        raise ValueError(f"split must be a folder name such as 'val2017', got {split!r}")
    if max_images is not None and (
        isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 1
    ):
        raise ValueError(f"max_images must be a positive int or None, got {max_images!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an int >= 0, got {retries!r}")


def subset_settings(root: str | os.PathLike, split: str) -> dict[str, Any] | None:
    """The settings a folder's subset was downloaded with, or None (not one of ours, or none)."""
    path = Path(root) / "annotations" / f"instances_{split}.json"
    try:
        with open(path) as file:
            document = json.load(file)
        return dict(document["info"][SUBSET_KEY])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _is_complete(root: Path, split: str, settings: dict[str, Any]) -> bool:
    """Whether ``root`` holds exactly this subset, every image included."""
    if subset_settings(root, split) != settings:
        return False
    with open(root / "annotations" / f"instances_{split}.json") as file:
        document = json.load(file)
    return all((root / split / str(r["file_name"])).is_file() for r in document["images"])


def _fetch_images(
    jobs: list[tuple[str, Path, int, int]],
    what: str,
    workers: int,
    retries: int,
    backoff: float,
    timeout: float,
    progress: bool,
) -> None:
    """Fetch every ``(url, dest, width, height)`` not yet on disk, ``workers`` at a time; one
    error listing the failures (the files that came are kept for the next run)."""
    failures: list[tuple[str, str]] = []
    todo = [job for job in jobs if not job[1].is_file()]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            pool.submit(
                fetch,
                url,
                dest,
                check=_image_check(width, height),
                retries=retries,
                backoff=backoff,
                timeout=timeout,
            ): url
            for url, dest, width, height in todo
        }
        bar = tqdm(
            as_completed(futures),
            total=len(jobs),
            initial=len(jobs) - len(todo),
            unit="image",
            desc=what,
            disable=not progress,
        )
        for future in bar:
            try:
                future.result()
            except DownloadError as error:
                failures.append((futures[future], str(error)))
    if failures:
        raise DownloadError(
            f"{len(failures)} of {len(jobs)} images could not be downloaded, e.g. "
            f"{failures[0][1]}. Run again with the same arguments: the "
            f"{len(jobs) - len(failures)} images already here are kept"
        )


def subset_document(
    document: dict[str, Any],
    max_images: int | None,
    categories: Iterable[int | str] | None,
    balanced: bool,
    seed: int,
    source: Path,
) -> dict[str, Any]:
    """The COCO instances document of the subset :func:`choose_images` picks from ``document``:
    its images, their instances of the chosen categories, those categories, the licences."""
    chosen_ids = set(choose_images(document, max_images, categories, balanced, seed))
    if max_images is not None and len(chosen_ids) < max_images:
        warnings.warn(
            f"only {len(chosen_ids)} images hold the chosen categories ({max_images} asked for)",
            stacklevel=3,
        )
    category_ids = {
        int(c["id"]) for c in select_categories(document["categories"], categories, source)
    }
    return {
        "info": dict(document.get("info") or {}),
        "licenses": document.get("licenses", []),
        "images": [r for r in document["images"] if int(r["id"]) in chosen_ids],
        "annotations": [
            a
            for a in document["annotations"]
            if int(a["image_id"]) in chosen_ids
            and (categories is None or int(a["category_id"]) in category_ids)
        ],
        "categories": [
            c for c in document["categories"] if categories is None or int(c["id"]) in category_ids
        ],
    }
