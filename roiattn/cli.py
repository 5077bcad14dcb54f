"""The command line: ``python -m roiattn {train,evaluate,compare,predict,bench}``.

The same functions the notebooks use (``fit``, ``evaluate``, ``compare``, ``predict``), with
sizes from the active profile and every setting overridable. A bad argument or a missing file
ends with one clear line and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCHMARKS = {
    "overhead": "training-step time of attn-add@conv1 against its plain backbone",
    "data": "COCORegions items/s against bare JPEG decode + resize",
    "train": "training throughput (images/s) of attn-add@conv1 against its backbone",
}
DATA_KINDS = ("auto", "coco", "shapes")


class UsageError(ValueError):
    """A problem with what the user asked for, reported as one line."""


# -- argument types ----------------------------------------------------------------------------
def _number(kind: Callable[[str], Any], low: float, strict: bool) -> Callable[[str], Any]:
    relation = ">" if strict else ">="

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {relation} {low:g}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


positive_int = _number(int, 0, strict=True)
non_negative_int = _number(int, 0, strict=False)
positive_float = _number(float, 0, strict=True)
non_negative_float = _number(float, 0, strict=False)


def _weights(text: str) -> str | None:
    return None if text.lower() == "none" else text


def _categories(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give category names separated by commas")
    return names


# -- option groups -----------------------------------------------------------------------------
def _profile_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        choices=("quick", "full"),
        help="settings to start from (default: $ROIATTN_PROFILE, else full with CUDA, else quick)",
    )
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--workers", type=non_negative_int, help="DataLoader worker processes")
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bars"
    )


def _data_options(parser: argparse.ArgumentParser, *, training: bool = True) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data",
        choices=DATA_KINDS,
        default="auto",
        help="coco: a COCO folder; shapes: synthetic ContextShapes; auto (default): COCO from "
        "--coco-root, $ROIATTN_COCO_ROOT, the download cache or a download, else ContextShapes",
    )
    group.add_argument("--coco-root", type=Path, help="COCO folder (annotations/, <split>/)")
    if training:
        group.add_argument("--train-split", default="train2017", help="COCO training split")
    group.add_argument("--test-split", default="val2017", help="COCO split to evaluate on")
    group.add_argument(
        "--view", choices=("context", "image"), help="COCO view (default context, or the model's)"
    )
    group.add_argument("--image-size", type=positive_int, help="image side in pixels")
    group.add_argument(
        "--min-area", type=non_negative_float, default=0.0, help="skip smaller COCO regions"
    )
    group.add_argument(
        "--categories", type=_categories, help="COCO category names, comma-separated"
    )
    if training:
        group.add_argument("--max-train", type=positive_int, help="cap on training regions")
        group.add_argument("--shapes-train", type=positive_int, help="ContextShapes scenes")
    group.add_argument("--max-test", type=positive_int, help="cap on test regions")
    group.add_argument("--shapes-test", type=positive_int, help="ContextShapes test scenes")


def _training_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training (defaults from the profile)")
    group.add_argument("--arch", help="torchvision ResNet: resnet18, resnet50, ...")
    group.add_argument(
        "--weights",
        type=_weights,
        default=argparse.SUPPRESS,
        help="pretrained backbone: DEFAULT, IMAGENET1K_V2, ... or none for random init",
    )
    group.add_argument("--epochs", type=positive_int)
    group.add_argument("--batch-size", type=positive_int)
    group.add_argument("--lr", type=positive_float, help="learning rate")
    group.add_argument("--weight-decay", type=non_negative_float)
    group.add_argument("--optimizer", choices=("adamw", "adam", "sgd"))
    group.add_argument("--schedule", choices=("cosine", "constant"))
    group.add_argument("--max-steps", type=positive_int, help="stop after this many steps")
    group.add_argument("--grad-clip", type=positive_float, help="max gradient norm")
    group.add_argument("--seed", type=non_negative_int)
    group.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        help="mixed precision on CUDA (bf16 where supported, else fp16)",
    )
    group.add_argument(
        "--channels-last", action=argparse.BooleanOptionalAction, help="NHWC layout on CUDA"
    )
    group.add_argument(
        "--balanced",
        action="store_true",
        help="class-balanced sampling, the paper's (class, then image, then instance)",
    )


PROFILE_FLAGS = {
    "arch": "arch",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "weight_decay": "weight_decay",
    "optimizer": "optimizer",
    "schedule": "schedule",
    "max_steps": "max_steps",
    "grad_clip": "grad_clip",
    "seed": "seed",
    "amp": "amp",
    "channels_last": "channels_last",
    "workers": "num_workers",
    "image_size": "image_size",
    "max_train": "max_train_items",
    "max_test": "max_test_items",
    "shapes_train": "shapes_train",
    "shapes_test": "shapes_test",
}


def _profile(args: argparse.Namespace):
    """The profile asked for, with every flag given on the command line applied to it."""
    from roiattn import profiles

    profile = profiles.get(args.profile) if args.profile else profiles.current()
    changes = {
        field: getattr(args, flag)
        for flag, field in PROFILE_FLAGS.items()
        if getattr(args, flag, None) is not None
    }
    if hasattr(args, "weights"):  # given on the command line ("none" gives None)
        changes["weights"] = args.weights
    if "image_size" in changes:
        changes["shapes_image_size"] = changes["image_size"]
    return profile.replace(**changes)


# -- data --------------------------------------------------------------------------------------
def _cap(data, limit: int | None, seed: int):
    """At most ``limit`` items, a seeded random choice kept in dataset order."""
    import torch
    from torch.utils.data import Subset

    if limit is None or len(data) <= limit:
        return data
    chosen = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:limit]
    return Subset(data, sorted(chosen.tolist()))


def _shapes(profile, split: str, image_size: int | None = None):
    """ContextShapes scenes; train and test from seeds ``seed`` and ``seed + 1``, as
    ``roiattn.data.find_coco`` makes them."""
    from roiattn.data import ContextShapes

    train = split == "train"
    scenes = profile.shapes_train if train else profile.shapes_test
    size = image_size or profile.shapes_image_size
    return ContextShapes(scenes, size, profile.seed + (0 if train else 1))


def _coco_source(args, profile, split: str):
    """``(root, note)`` of a real COCO folder for ``split``, or None when only synthetic data
    is to be had (then ContextShapes is used directly)."""
    if args.coco_root is not None:
        return args.coco_root, f"COCO {split} from --coco-root {args.coco_root}"
    from roiattn.data import find_coco

    source = find_coco(split, profile)
    if source.kind == "synthetic":
        return None
    return source.root, source.note


def load_data(
    args: argparse.Namespace,
    profile,
    splits: tuple[str, ...],
    model_meta: dict | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """The datasets for ``splits`` (``train``, ``test``) from the source ``--data`` picks;
    where they come from is printed to stderr unless ``quiet``."""

    def note(text: str) -> None:
        if not quiet:
            print(text, file=sys.stderr)

    meta = model_meta or {}
    kind = args.data
    if kind == "auto" and str(meta.get("data") or "").startswith("ContextShapes"):
        kind = "shapes"  # evaluate a model on the kind of data it was trained on
    image_size = args.image_size or meta.get("image_size")
    if kind in ("auto", "coco"):
        from roiattn.data import COCORegions

        sources = {}
        for split in splits:
            folder_split = args.train_split if split == "train" else args.test_split
            sources[split] = (folder_split, _coco_source(args, profile, folder_split))
        if all(source is not None for _, source in sources.values()):
            found = {}
            for split, (folder_split, (root, source_note)) in sources.items():
                note(f"data: {source_note}")
                data = COCORegions(
                    root,
                    folder_split,
                    image_size=image_size or profile.image_size,
                    view=args.view or meta.get("view") or "context",
                    min_area=args.min_area,
                    categories=args.categories,
                )
                limit = profile.max_train_items if split == "train" else profile.max_test_items
                found[split] = _cap(data, limit, profile.seed)
            return found
        if kind == "coco":
            raise UsageError(
                "no COCO folder found: pass --coco-root DIR or set ROIATTN_COCO_ROOT "
                "(or use --data shapes for the synthetic ContextShapes)"
            )
        note(
            "note: no COCO data found (--coco-root, $ROIATTN_COCO_ROOT, the download cache, a "
            "download): the data is the synthetic ContextShapes"
        )
    return {split: _shapes(profile, split, image_size) for split in splits}


def _sampler(args: argparse.Namespace, data, seed: int):
    """The paper's class-balanced sampling (class, then image, then instance) when asked."""
    if not getattr(args, "balanced", False):
        return None
    import numpy as np

    from roiattn.data import ClassBalancedSampler
    from roiattn.runtime import dataset_labels, item_values

    labels = dataset_labels(data)
    image_ids = item_values(data, "image_ids")
    if image_ids is None:
        image_ids = item_values(data, "scene_of")
    if image_ids is None:
        image_ids = np.arange(len(labels))
    return ClassBalancedSampler(labels, image_ids, seed=seed)


# -- commands ----------------------------------------------------------------------------------
def _check_methods(methods: list[str], profile) -> None:
    """Fail on a wrong method id or arch before any data is read."""
    from roiattn.models import RESNET_ARCHS, build_model

    if profile.arch not in RESNET_ARCHS:
        raise UsageError(f"unknown --arch {profile.arch!r}: choose one of {RESNET_ARCHS}")
    for method in methods:
        build_model(method, "resnet18", num_classes=2)


def _slug(method: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", method)


def _load_once(args: argparse.Namespace, profile, splits: tuple[str, ...]) -> dict[str, Any]:
    """The data, under torchrun found by rank 0 first, so a download or a synthetic folder is
    made once, then read by the others."""
    from roiattn import distributed

    group = distributed.current()
    failed = None
    data: dict[str, Any] = {}
    if group.is_main:
        try:
            data = load_data(args, profile, splits)
        except Exception as error:  # reach the barrier anyway: the others must not wait forever
            failed = error
    distributed.barrier()
    if failed is not None:
        raise failed
    return data if group.is_main else load_data(args, profile, splits, quiet=True)


def _train(args: argparse.Namespace) -> int:
    import torch

    from roiattn import distributed
    from roiattn.evaluate import evaluate
    from roiattn.models import build_model
    from roiattn.runtime import dataset_classes
    from roiattn.train import fit

    profile = _profile(args)
    _check_methods([args.method], profile)
    group = distributed.init()
    try:
        say = print if group.is_main else (lambda *a, **k: None)
        data = _load_once(args, profile, ("train", "test") if args.evaluate else ("train",))
        classes = dataset_classes(data["train"])
        out = args.out or Path("runs") / _slug(args.method)
        say(profile.summary())
        say(f"train: {_describe(data['train'])}")
        processes = f", {group.world_size} processes" if group.distributed else ""
        say(f"checkpoints: {out}/last.pt{processes}")
        torch.manual_seed(profile.seed)
        model = build_model(args.method, profile.arch, len(classes), weights=profile.weights)
        history = fit(
            model,
            data["train"],
            sampler=_sampler(args, data["train"], profile.seed),
            epochs=profile.epochs,
            batch_size=profile.batch_size,
            lr=profile.lr,
            weight_decay=profile.weight_decay,
            optimizer=profile.optimizer,
            schedule=profile.schedule,
            device=args.device,
            num_workers=profile.num_workers,
            amp=None if profile.amp else False,
            channels_last=None if profile.channels_last else False,
            grad_clip=profile.grad_clip,
            seed=profile.seed,
            checkpoint_dir=out,
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
            max_steps=profile.max_steps,
            eval_batch_size=profile.eval_batch_size,
            progress=args.progress,
        )
        if not group.is_main:
            return 0
        out.mkdir(parents=True, exist_ok=True)
        (out / "history.json").write_text(json.dumps(history.to_dict(), indent=1))
        last = history.epochs[-1] if history.epochs else None
        if last is not None:
            say(
                f"trained {len(history.step)} steps: last epoch loss {last.train_loss:.3f}, "
                f"train accuracy {last.train_accuracy:.1%}, {last.images_per_second:.0f} images/s"
            )
        if args.evaluate:
            say(f"test: {_describe(data['test'])}")
            report = evaluate(
                model,
                data["test"],
                batch_size=profile.eval_batch_size,
                device=args.device,
                num_workers=profile.num_workers,
                progress=args.progress,
            )
            (out / "report.json").write_text(json.dumps(report.to_dict(), allow_nan=False))
            say(report.to_markdown())
        return 0
    finally:
        distributed.shutdown()


def _describe(data) -> str:
    from roiattn.runtime import describe_data

    info = describe_data(data)
    return f"{info['description']} ({info['count']} regions)"


def _evaluate(args: argparse.Namespace) -> int:
    from roiattn.checkpoints import load_checkpoint, model_from_checkpoint
    from roiattn.evaluate import evaluate

    bins = args.bins
    if bins is not None and bins not in ("paper", "coco"):
        try:
            bins = [float(edge) for edge in bins.split(",")]
        except ValueError:
            raise UsageError(
                f"--bins must be paper, coco or upper edges like 1000,4000,16000; got {bins!r}"
            ) from None
    model = model_from_checkpoint(load_checkpoint(args.checkpoint))
    profile = _profile(args)
    test = load_data(args, profile, ("test",), model.meta)["test"]
    print(f"model: {model.method} ({model.arch}) from {args.checkpoint}")
    print(f"test: {_describe(test)}")
    report = evaluate(
        model,
        test,
        batch_size=args.batch_size or profile.eval_batch_size,
        device=args.device,
        bins=bins,
        num_workers=profile.num_workers,
        classes=model.classes,
        progress=args.progress,
    )
    print(report.to_markdown(per_class=args.per_class))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), allow_nan=False))
        print(f"saved {args.json}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from roiattn import distributed
    from roiattn.experiments import compare

    if distributed.launched_by_torchrun():
        raise UsageError("compare runs in one process: use torchrun with 'train' instead")
    profile = _profile(args)
    _check_methods(args.methods, profile)
    data = load_data(args, profile, ("train", "test"))
    print(profile.summary())
    print(f"train: {_describe(data['train'])}\ntest: {_describe(data['test'])}")
    table = compare(
        args.methods,
        data["train"],
        data["test"],
        profile,
        sampler=_sampler(args, data["train"], profile.seed),
        results_dir=args.results,
        name=args.name,
        device=args.device,
        retrain=args.retrain,
        save_models=args.save_models,
        progress=args.progress,
    )
    print(table.to_markdown())
    print(f"saved {table.path}")
    return 0


def _read_image(path: Path, what: str):
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise FileNotFoundError(f"{what} file {path} not found")
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (UnidentifiedImageError, OSError) as error:
        raise UsageError(f"cannot read the {what} file {path} ({error})") from error


def _predict(args: argparse.Namespace) -> int:
    import numpy as np

    from roiattn.predict import load_model, predict

    if (args.mask is None) == (args.box is None):
        raise UsageError("give the region either as a MASK image or as --box X0 Y0 X1 Y1")
    model = load_model(args.checkpoint)
    image = _read_image(args.image, "image").convert("RGB")
    if args.mask is not None:
        mask = _read_image(args.mask, "mask")
    else:
        x0, y0, x1, y1 = args.box
        width, height = image.size
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise UsageError(
                f"--box {x0} {y0} {x1} {y1} must lie inside the {width}x{height} image with "
                "x0 < x1 and y0 < y1"
            )
        mask = np.zeros((height, width), bool)
        mask[y0:y1, x0:x1] = True
    for name, probability in predict(model, image, mask, top_k=args.top_k):
        print(f"{probability:7.3f}  {name}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(f"roiattn.benchmarks.{args.which}")
    except ModuleNotFoundError as error:
        if error.name == f"roiattn.benchmarks.{args.which}":
            raise UsageError(f"the {args.which} benchmark is not installed here") from None
        raise
    return module.main(args.rest)


# -- the parser --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m roiattn",
        description="Region classification with an ROI mask as a second input (Eppel 2018).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train",
        help="train one method (several GPUs: torchrun --nproc_per_node=N -m roiattn train)",
        description="Train a region classifier; checkpoints go to --out and --resume goes on "
        "from them. Under torchrun it trains with DistributedDataParallel.",
    )
    train.add_argument("method", help="method id, e.g. attn-add@conv1, hard@input, image, crop")
    train.add_argument("--out", type=Path, help="folder for checkpoints (default runs/<method>)")
    train.add_argument(
        "--checkpoint-every", type=positive_int, help="steps between checkpoints (and each epoch)"
    )
    train.add_argument("--resume", action="store_true", help="go on from --out/last.pt")
    train.add_argument(
        "--no-eval", dest="evaluate", action="store_false", help="skip the test evaluation"
    )
    _training_options(train)
    _data_options(train)
    _profile_options(train)
    train.set_defaults(func=_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a checkpoint per size bin",
        description="Accuracy of a saved model overall, per class and per segment-size bin.",
    )
    evaluate.add_argument("checkpoint", type=Path, help="checkpoint file or training folder")
    evaluate.add_argument("--batch-size", type=positive_int, help="evaluation batch size")
    evaluate.add_argument("--bins", help="paper (default), coco, or upper edges: 1000,4000")
    evaluate.add_argument("--per-class", action="store_true", help="also a table per class")
    evaluate.add_argument("--json", type=Path, help="save the report as JSON here")
    _data_options(evaluate, training=False)
    _profile_options(evaluate)
    evaluate.set_defaults(func=_evaluate)

    compare = commands.add_parser(
        "compare",
        help="train and evaluate several methods, one table",
        description="Train each method on the same data, budget and seed, evaluate each per "
        "size bin, and save the table with its provenance; runs made before are reused.",
    )
    compare.add_argument("methods", nargs="+", help="method ids")
    compare.add_argument(
        "--results", type=Path, default=Path("results"), help="results folder (default results)"
    )
    compare.add_argument("--name", default="comparison", help="table file name (without .json)")
    compare.add_argument("--retrain", action="store_true", help="ignore runs made before")
    compare.add_argument("--save-models", action="store_true", help="keep each trained model")
    _training_options(compare)
    _data_options(compare)
    _profile_options(compare)
    compare.set_defaults(func=_compare)

    predict = commands.add_parser(
        "predict",
        help="classify one region of one image",
        description="Top classes of the region a mask image (non-zero pixels) or a box marks.",
    )
    predict.add_argument("checkpoint", type=Path, help="checkpoint file or training folder")
    predict.add_argument("image", type=Path, help="image file")
    predict.add_argument("mask", type=Path, nargs="?", help="mask image: non-zero = the region")
    predict.add_argument(
        "--box", type=non_negative_int, nargs=4, metavar=("X0", "Y0", "X1", "Y1"),
        help="the region as a box in pixels, instead of a mask",
    )  # fmt: skip
    predict.add_argument("--top-k", type=positive_int, default=5, help="how many classes")
    predict.set_defaults(func=_predict)

    bench = commands.add_parser(
        "bench",
        help="run a benchmark",
        description="Benchmarks: "
        + "; ".join(f"{name}: {what}" for name, what in BENCHMARKS.items()),
    )
    bench.add_argument("which", choices=sorted(BENCHMARKS), help="which benchmark")
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="its own options (try --help)")
    bench.set_defaults(func=_bench)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a user's input can cause: reported as one line, not a traceback."""
    from roiattn.models import WeightsUnavailableError

    return (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
            PermissionError, WeightsUnavailableError)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (2 for a bad argument or a missing file)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted (train again with --resume to go on)", file=sys.stderr)
        return 130
    except _user_errors() as error:
        print(f"{parser.prog} {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
