"""``python -m roiattn bench data``: how fast COCORegions serves items, against bare decoding.

For each image size ``S`` (224 and 96 by default) it times, over the same sample of items:
``bare`` (PIL open + convert to RGB + resize the whole image to ``S x S``: the least any loader
must do), ``COCORegions(view="context")`` and ``COCORegions(view="image")`` (decode, window,
mask, normalise). Interleaved rounds in one process, medians reported; the ratio is COCORegions'
items/s over bare's (the issue's target: at least 0.7).

Runs single-process with one torch thread by default, as a ``DataLoader`` worker does;
``--workers N`` also times a ``DataLoader`` with ``N`` workers.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import PIL
import torch
from PIL import Image, features

from roiattn.benchmarks.timing import interleaved, median, torch_threads
from roiattn.data.coco import COCORegions
from roiattn.data.paths import COCO_ROOT_ENV, default_data_dir, display_path
from roiattn.data.sources import has_split

TARGET = 0.7


def default_root() -> Path | None:
    """``$ROIATTN_COCO_ROOT``, else a COCO folder downloaded earlier, else None (a benchmark
    downloads nothing)."""
    if os.environ.get(COCO_ROOT_ENV, "").strip():
        return Path(os.environ[COCO_ROOT_ENV]).expanduser()
    downloaded = default_data_dir() / "coco"
    return downloaded if has_split(downloaded, "val2017") else None


def bare_decode(paths: list[Path], size: int):
    """The baseline: decode every image whole, convert to RGB, resize to ``size x size``."""

    def run() -> None:
        for path in paths:
            with Image.open(path) as image:
                image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)

    return run


def read_items(dataset: COCORegions, indices: list[int]):
    def run() -> None:
        for index in indices:
            dataset[index]

    return run


def loader_rate(dataset: COCORegions, indices: list[int], workers: int, batch: int) -> float:
    """Items/s through a DataLoader with ``workers`` processes (start-up included once, warm)."""
    from torch.utils.data import DataLoader

    from roiattn.data.regions import collate_regions

    loader = DataLoader(
        dataset.subset(indices),
        batch_size=batch,
        num_workers=workers,
        collate_fn=collate_regions,
        persistent_workers=workers > 0,
    )
    for _ in loader:  # warm: start the workers, fill the file cache
        pass
    start = time.perf_counter()
    for _ in loader:
        pass
    return len(indices) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m roiattn bench data", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--root", type=Path, default=None,
        help=f"COCO folder (default: ${COCO_ROOT_ENV}, else an earlier download)",
    )  # fmt: skip
    parser.add_argument("--split", default="val2017", help="split to read")
    parser.add_argument("--items", type=int, default=200, help="items per timed pass")
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 96], help="image sizes S")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per contender")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (as in a worker)")
    parser.add_argument("--workers", type=int, default=0, help="also time a DataLoader")
    parser.add_argument("--batch", type=int, default=32, help="DataLoader batch size")
    parser.add_argument("--seed", type=int, default=0, help="which items are sampled")
    parser.add_argument(
        "--min-ratio", type=float, default=None, help="exit 1 if a ratio falls below this"
    )
    args = parser.parse_args(argv)
    if args.items < 1 or args.rounds < 1 or args.threads < 1 or args.workers < 0:
        parser.error("--items, --rounds, --threads must be >= 1 and --workers >= 0")
    if any(size < 8 for size in args.sizes):
        parser.error("--sizes must be >= 8")
    root = args.root or default_root()
    if root is None:
        parser.error(f"no COCO folder found: pass --root or set {COCO_ROOT_ENV}")

    with torch_threads(args.threads):
        return _measure(args, root)


def _measure(args: argparse.Namespace, root: Path) -> int:
    """Time every contender and print the table; 1 when a ratio is below ``--min-ratio``."""
    datasets = {
        (size, view): COCORegions(root, args.split, image_size=size, view=view)
        for size in args.sizes
        for view in ("context", "image")
    }
    first = next(iter(datasets.values()))
    rng = np.random.default_rng(args.seed)
    count = min(args.items, len(first))
    indices = sorted(int(i) for i in rng.choice(len(first), size=count, replace=False))
    paths = [first.image_path(i) for i in indices]

    steps = {}
    for size in args.sizes:
        steps[(size, "bare")] = bare_decode(paths, size)
        for view in ("context", "image"):
            steps[(size, view)] = read_items(datasets[(size, view)], indices)
    turbo = "libjpeg-turbo" if features.check_feature("libjpeg_turbo") else "libjpeg"
    print(
        f"COCORegions against bare decode + resize: {count} items ({len(set(paths))} images) of "
        f"{first.split} in {display_path(root)}, {args.rounds} interleaved rounds, medians; "
        f"{args.threads} torch thread(s), {os.cpu_count()} CPUs ({platform.processor() or '?'}), "
        f"load average {os.getloadavg()[0]:.1f}; Pillow {PIL.__version__} ({turbo}), "
        f"torch {torch.__version__}"
    )
    times = interleaved(steps, args.rounds, warmup=1)
    rate = {key: count / median(values) for key, values in times.items()}

    print(f"{'S':>5} {'view':>8} {'items/s':>9} {'bare items/s':>13} {'ratio':>6}")
    worst = float("inf")
    for size in args.sizes:
        bare = rate[(size, "bare")]
        for view in ("context", "image"):
            ratio = rate[(size, view)] / bare
            worst = min(worst, ratio)
            print(f"{size:>5} {view:>8} {rate[(size, view)]:>9.1f} {bare:>13.1f} {ratio:>6.2f}")
    verdict = "meets" if worst >= TARGET else "misses"
    print(f"lowest ratio {worst:.2f}: {verdict} the target of {TARGET} of bare decode")

    if args.workers:
        print(f"DataLoader, {args.workers} workers, batch {args.batch} (items/s):")
        for (size, view), dataset in datasets.items():
            speed = loader_rate(dataset, indices, args.workers, args.batch)
            print(f"{size:>5} {view:>8} {speed:>9.1f}")
    if args.min_ratio is not None and worst < args.min_ratio:
        return 1
    return 0
