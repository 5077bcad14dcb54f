"""The command line: ``python -m roiattn {train,evaluate,compare,predict,bench}``.

Every command works on one of the book's experiments (``--experiment coco`` or ``shapes``, in
``--profile quick``, ``colab`` or ``paper``), defined once in :mod:`roiattn.experiments`:
``compare`` with no other option gives the very table a chapter shows. Options change the experiment
(``--epochs 8``, ``--branch-lr-scale 10``, ``--coco-root DIR``, ...), and a changed experiment is
saved under a name of its own. A bad argument or a missing file ends with one clear line and
exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from roiattn import profiles
from roiattn.errors import (
    CheckpointError,
    DataFileError,
    DownloadError,
    UsageError,
    WeightsUnavailableError,
)
from roiattn.experiments.definitions import EXPERIMENTS
from roiattn.masks import RESIZE_MODES
from roiattn.train.settings import OPTIMIZERS, SCHEDULES

BENCHMARKS = {
    "overhead": "training-step time of attn-add@conv1 against its plain backbone",
    "train": "training throughput (images/s) of attn-add@conv1 against its backbone",
}


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


def _names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise argparse.ArgumentTypeError("give names separated by commas")
    return names


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in _names(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"give seeds as ints separated by commas: {text!r}"
        ) from None
    if any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"seeds must be >= 0, got {text}")
    return seeds


# -- option groups -----------------------------------------------------------------------------
# flag -> the experiment setting it changes (see Experiment.replace)
SETTINGS: dict[str, str] = {
    "arch": "arch", "weights": "weights", "epochs": "epochs", "batch_size": "batch_size",
    "lr": "lr", "branch_lr_scale": "branch_lr_scale", "weight_decay": "weight_decay",
    "optimizer": "optimizer", "schedule": "schedule", "max_steps": "max_steps",
    "grad_clip": "grad_clip", "amp": "amp", "channels_last": "channels_last",
    "workers": "num_workers", "seeds": "seeds", "mask_resize": "mask_resize",
    "image_size": "image_size", "max_train": "max_train", "max_test": "max_test",
    "categories": "categories", "coco_root": "root", "train_scenes": "train_scenes",
    "test_scenes": "test_scenes",
}  # fmt: skip


def _experiment_options(parser: argparse.ArgumentParser, *, training: bool = True) -> None:
    group = parser.add_argument_group("the experiment (defaults: its definition in the profile)")
    group.add_argument("--experiment", choices=sorted(EXPERIMENTS), help="default: coco")
    group.add_argument(
        "--profile",
        choices=sorted(profiles.PROFILES),
        help="default: $ROIATTN_PROFILE, else colab with CUDA, else quick",
    )
    group.add_argument("--coco-root", type=Path, help="a COCO folder to read (coco)")
    group.add_argument("--image-size", type=positive_int, help="region side in pixels (coco)")
    group.add_argument("--categories", type=_names, help="COCO category names, comma-separated")
    group.add_argument("--max-test", type=positive_int, help="cap on test regions (coco)")
    group.add_argument("--test-scenes", type=positive_int, help="test scenes (shapes)")
    if not training:
        return
    group.add_argument("--max-train", type=positive_int, help="cap on training regions (coco)")
    group.add_argument("--train-scenes", type=positive_int, help="training scenes (shapes)")
    group.add_argument("--arch", help="backbone: resnet18, resnet50, efficientnet_lite0, ...")
    group.add_argument(
        "--weights",
        type=_weights,
        default=argparse.SUPPRESS,
        help="pretrained backbone: DEFAULT, IMAGENET1K_V2, ... or none for random init",
    )
    group.add_argument("--epochs", type=positive_int)
    group.add_argument("--batch-size", type=positive_int)
    group.add_argument("--lr", type=positive_float, help="learning rate")
    group.add_argument(
        "--branch-lr-scale", type=positive_float, help="the mask branch's rate over --lr"
    )
    group.add_argument("--weight-decay", type=non_negative_float)
    group.add_argument("--optimizer", choices=OPTIMIZERS)
    group.add_argument("--schedule", choices=SCHEDULES)
    group.add_argument("--max-steps", type=positive_int, help="stop after this many steps")
    group.add_argument("--grad-clip", type=positive_float, help="max gradient norm")
    group.add_argument("--seeds", type=_seeds, help="training seeds, comma-separated")
    group.add_argument("--mask-resize", choices=RESIZE_MODES)
    group.add_argument("--amp", action=argparse.BooleanOptionalAction, help="mixed precision")
    group.add_argument(
        "--channels-last", action=argparse.BooleanOptionalAction, help="NHWC layout on CUDA"
    )
    group.add_argument("--workers", type=non_negative_int, help="DataLoader worker processes")


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bars"
    )


def experiment_from(args: argparse.Namespace, default: str = "coco"):
    """The experiment the command asks for, with every option given applied to it."""
    from roiattn import experiments
    from roiattn.models import ARCHS

    experiment = experiments.get(args.experiment or default, args.profile)
    changes = {
        setting: getattr(args, flag)
        for flag, setting in SETTINGS.items()
        if getattr(args, flag, None) is not None
    }
    if hasattr(args, "weights"):  # given on the command line ("none" gives None)
        changes["weights"] = args.weights
    if "arch" in changes and changes["arch"] not in ARCHS:
        raise UsageError(f"unknown --arch {changes['arch']!r}: choose one of {ARCHS}")
    return experiment.replace(**changes) if changes else experiment


# -- commands ----------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    from roiattn import distributed
    from roiattn.evaluate import evaluate
    from roiattn.experiments.runner import method_slug
    from roiattn.train import fit

    experiment = experiment_from(args)
    experiment.model(args.method, 2)  # a wrong method id fails before any data is read
    group = distributed.init()
    try:
        say = print if group.is_main else (lambda *a, **k: None)
        regions = _regions_once(experiment, group)
        out = args.out or Path("runs") / method_slug(args.method)
        say(experiment.summary())
        say(f"data: {regions.source.note}")
        say(f"train: {regions.train.description}")
        processes = f", {group.world_size} processes" if group.distributed else ""
        say(f"checkpoints: {out}/last.pt{processes}")
        model = experiment.model(args.method, len(regions.train.classes))
        history = fit(model, regions.train, experiment.settings(),
                      sampler=experiment.sampler(regions.train), device=args.device,
                      checkpoint_dir=out, checkpoint_every=args.checkpoint_every,
                      resume=args.resume, progress=args.progress)  # fmt: skip
        if not group.is_main:
            return 0
        out.mkdir(parents=True, exist_ok=True)
        (out / "history.json").write_text(json.dumps(history.to_dict(), indent=1))
        say(repr(history))
        if args.evaluate:
            say(f"test: {regions.test.description}")
            report = evaluate(model, regions.test, device=args.device, bins=experiment.bins,
                              progress=args.progress,
                              **experiment.training.evaluation())  # fmt: skip
            (out / "report.json").write_text(json.dumps(report.to_dict(), allow_nan=False))
            say(report.to_markdown())
        return 0
    finally:
        distributed.shutdown()


def _regions_once(experiment, group):
    """The regions, under torchrun found by rank 0 first, so a download or a synthetic folder
    is made once, then read by the others."""
    failed, regions = None, None
    if group.is_main:
        try:
            regions = experiment.regions()
        except Exception as error:  # reach the barrier anyway: the others must not wait forever
            failed = error
    group.barrier()
    if failed is not None:
        raise failed
    return regions if group.is_main else experiment.regions(download=False)


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
    trained_on = str(model.meta.get("data") or "")
    experiment = experiment_from(
        args, "shapes" if trained_on.startswith("ContextShapes") else "coco"
    )
    if model.meta.get("image_size") and args.image_size is None:  # the size it was trained at
        experiment = experiment.replace(image_size=model.meta["image_size"])
    regions = experiment.regions()
    test = regions.test
    print(f"data: {regions.source.note}")
    print(f"model: {model.method} ({model.arch}) from {args.checkpoint}")
    print(f"test: {test.description}")
    report = evaluate(
        model,
        test,
        batch_size=args.batch_size or experiment.training.eval_batch_size,
        device=args.device,
        bins=bins if bins is not None else experiment.bins,
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

    if distributed.launched_by_torchrun():
        raise UsageError("compare runs in one process: use torchrun with 'train' instead")
    experiment = experiment_from(args)
    print(experiment.summary())
    regions = experiment.regions()
    print(f"data: {regions.source.note}")
    comparison = experiment.run(args.methods or None, regions=regions, results_dir=args.results,
                                retrain=args.retrain, save_models=args.save_models,
                                device=args.device, jobs=args.jobs,
                                progress=args.progress)  # fmt: skip
    print(comparison.to_markdown(metric=args.metric))
    print(f"saved {comparison.path}")
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
    from roiattn.predict import load_model, predict
    from roiattn.widgets import box_mask

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
        mask = box_mask((height, width), args.box).numpy() > 0
    for name, probability in predict(model, image, mask, top_k=args.top_k):
        print(f"{probability:7.3f}  {name}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    return importlib.import_module(f"roiattn.benchmarks.{args.which}").main(args.rest)


# -- the parser --------------------------------------------------------------------------------
def _command(
    commands: Any, name: str, run: Callable[[argparse.Namespace], int], help: str, description: str
) -> argparse.ArgumentParser:
    """A sub-command ``name`` that calls ``run`` with the parsed arguments."""
    parser = commands.add_parser(name, help=help, description=description)
    parser.set_defaults(func=run)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m roiattn",
        description="Region classification with an ROI mask as a second input (Eppel 2018).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = _command(
        commands,
        "train",
        _train,
        help="train one method (several GPUs: torchrun --nproc_per_node=N -m roiattn train)",
        description="Train a region classifier on an experiment's regions; checkpoints go to "
        "--out and --resume goes on from them. Under torchrun it trains with "
        "DistributedDataParallel.",
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
    _experiment_options(train)
    _run_options(train)

    evaluate = _command(
        commands,
        "evaluate",
        _evaluate,
        help="evaluate a checkpoint per size bin",
        description="Accuracy of a saved model overall, per class and per segment-size bin, on "
        "the test regions of the experiment it was trained on (or --experiment).",
    )
    evaluate.add_argument("checkpoint", type=Path, help="checkpoint file or training folder")
    evaluate.add_argument("--batch-size", type=positive_int, help="evaluation batch size")
    evaluate.add_argument("--bins", help="paper (default), coco, or upper edges: 1000,4000")
    evaluate.add_argument("--per-class", action="store_true", help="also a table per class")
    evaluate.add_argument("--json", type=Path, help="save the report as JSON here")
    _experiment_options(evaluate, training=False)
    _run_options(evaluate)

    compare = _command(
        commands,
        "compare",
        _compare,
        help="train and evaluate an experiment's methods: one table",
        description="Train each method on the same regions, budget and seeds, evaluate each per "
        "size bin, and save the table with its provenance; runs made before (by a chapter too) "
        "are reused. With no option it is the table of the experiment's chapter.",
    )
    compare.add_argument("methods", nargs="*", help="method ids (default: the experiment's)")
    compare.add_argument(
        "--results", type=Path, help="results folder (default $ROIATTN_DATA/results)"
    )
    compare.add_argument("--retrain", action="store_true", help="ignore runs made before")
    compare.add_argument("--save-models", action="store_true", help="keep each trained model")
    compare.add_argument(
        "--jobs", type=positive_int,
        help="runs trained at once on a Linux CPU (default: one per CPU thread; 1 on a GPU)",
    )  # fmt: skip
    compare.add_argument(
        "--metric", choices=("mean_class", "accuracy"), default="mean_class",
        help="what the size-bin columns show (default mean_class)",
    )  # fmt: skip
    _experiment_options(compare)
    _run_options(compare)

    predict = _command(
        commands,
        "predict",
        _predict,
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

    bench = _command(
        commands,
        "bench",
        _bench,
        help="run a benchmark",
        description="Benchmarks: "
        + "; ".join(f"{name}: {what}" for name, what in BENCHMARKS.items()),
    )
    bench.add_argument("which", choices=sorted(BENCHMARKS), help="which benchmark")
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="its own options (try --help)")
    return parser


# What a user's input can cause: reported as one line, not a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
    CheckpointError, DataFileError, DownloadError, UsageError, WeightsUnavailableError,
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (2 for a bad argument or a missing file)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted (train again with --resume to go on)", file=sys.stderr)
        return 130
    except USER_ERRORS as error:
        print(f"{parser.prog} {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
