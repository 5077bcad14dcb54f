"""``python -m roiattn bench train``: training throughput of ``attn-add@conv1`` against the plain
backbone (method ``image``, the mask ignored), with the COCO experiment's settings of a profile
(the colab profile's by default).

Each training step is ``fit``'s own (``roiattn.train.train_step``) with ``fit``'s choices of
mixed precision, memory layout and optimizer, on a batch already on the device, so it measures
the model and the step, not data loading. The two models alternate step by step in one run, so
drift of the machine falls on both alike. Prints images/s of each and their ratio.
"""

from __future__ import annotations

import argparse
import platform
from statistics import median

import torch

from roiattn import experiments, profiles
from roiattn.benchmarks.timing import interleaved, torch_threads
from roiattn.models import build_model
from roiattn.models.archs import make_backbone
from roiattn.runtime import choose_precision, describe_device, resolve_device, use_channels_last
from roiattn.train import make_optimizer, train_step

PLAIN = "backbone"


class PlainBackbone(torch.nn.Module):
    """The backbone itself (a torchvision ResNet, the small CPU ResNet, EfficientNet-Lite0),
    called like a region model: the mask is not even looked at, so it is the floor any region
    model's cost is measured against."""

    def __init__(self, arch: str) -> None:
        super().__init__()
        self.net = make_backbone(arch, num_classes=80)

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        return self.net(images)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def main(
    argv: list[str] | None = None,
    prog: str = "python -m roiattn bench train",
    description: str | None = None,
) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=description or __doc__.split("\n")[0])
    parser.add_argument("--profile", default="colab", choices=sorted(profiles.PROFILES),
                        help="settings to use (default colab: one Colab session's)")  # fmt: skip
    parser.add_argument("--method", default="attn-add@conv1", help="the model to measure")
    parser.add_argument(
        "--baseline",
        default="image",
        help=f"what to compare it with: a method id, or {PLAIN!r} for the bare backbone",
    )
    parser.add_argument(
        "--arch", help="backbone, any of roiattn.models.ARCHS (default: the profile's)"
    )
    parser.add_argument("--batch", type=_positive, help="batch size (default: the profile's)")
    parser.add_argument("--size", type=_positive, help="image side (default: the profile's)")
    parser.add_argument("--steps", type=_positive, default=20, help="timed steps per model")
    parser.add_argument("--warmup", type=_positive, default=3, help="untimed steps per model")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument(
        "--threads", type=_positive, help="CPU threads for torch (default: its own)"
    )
    args = parser.parse_args(argv)
    with torch_threads(args.threads):
        return _measure(args, parser)


def _models(args: argparse.Namespace, arch: str, seed: int) -> dict[str, torch.nn.Module]:
    models = {}
    for method in (args.baseline, args.method):
        torch.manual_seed(seed)
        models[method] = (
            PlainBackbone(arch) if method == PLAIN else build_model(method, arch, num_classes=80)
        )
    return models


def _batch(batch: int, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random images, regions of many sizes (as in a real batch) and labels."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, size, size, generator=generator)
    masks = torch.zeros(batch, 1, size, size)
    for i in range(batch):
        side = max(2, size * (i % 8 + 1) // 16)
        masks[i, :, size // 8 : size // 8 + side, size // 4 : size // 4 + side] = 1
    return images, masks, torch.randint(0, 80, (batch,), generator=generator)


def _measure(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Build both models, time their training steps and print (and save) the figures."""
    experiment = experiments.coco(args.profile)
    settings = experiment.training
    arch = args.arch or experiment.arch
    batch = args.batch or settings.batch_size
    size = args.size or experiment.data.image_size
    if size < 32:
        parser.error(f"--size must be >= 32 (a ResNet halves it five times), got {size}")
    try:
        device = resolve_device(args.device)
        models = _models(args, arch, experiment.seeds[0])
    except ValueError as error:
        parser.error(str(error))
    if len(models) != 2:
        parser.error("--method and --baseline must differ")
    precision = choose_precision(device, settings.amp)
    nhwc = use_channels_last(device, settings.channels_last)
    layout = torch.channels_last if nhwc else torch.contiguous_format
    images, masks, labels = _batch(batch, size)
    images, masks = images.to(device, memory_format=layout), masks.to(device, memory_format=layout)
    labels = labels.to(device)

    steps = {}
    for method, model in models.items():
        model.to(device, memory_format=layout).train()
        optimizer = make_optimizer(model, settings, device)
        scaler = torch.amp.GradScaler(device.type) if precision.scale_loss else None

        def step(model=model, optimizer=optimizer, scaler=scaler):
            return train_step(
                model, images, masks, labels, optimizer, scaler, precision, settings.grad_clip
            )

        steps[method] = step

    print(
        f"{arch}, batch {batch} x {size}px, {precision}, "
        f"{'channels_last' if nhwc else 'NCHW'}, {settings.optimizer}; "
        f"{args.steps} interleaved training steps each after {args.warmup} warm-up"
    )
    print(
        f"on {describe_device(device)}, {platform.platform(terse=True)}, torch {torch.__version__}"
        f" (settings of the {experiment.profile} profile's COCO experiment)"
    )
    times = interleaved(steps, args.steps, warmup=args.warmup, device=device)
    speed = {method: batch / median(values) for method, values in times.items()}
    for method, values in times.items():
        print(
            f"  {method:>16}: median {median(values) * 1000:8.1f} ms/step, "
            f"{speed[method]:8.1f} images/s"
        )
    ratio = speed[args.method] / speed[args.baseline]
    print(
        f"throughput ratio {args.method} / {args.baseline}: {ratio:.3f} "
        f"({(1 / ratio - 1) * 100:+.1f}% time per step)"
    )
    return 0
