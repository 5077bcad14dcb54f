"""``python -m roiattn bench overhead``: what the side branch costs in a training step.

Times forward + backward + optimizer step of ``attn-add@conv1`` against the plain torchvision
ResNet it is built on, same batch, interleaved in one run, and prints the ratio.
"""

from __future__ import annotations

import argparse
import platform

import torch
import torchvision

from roiattn.benchmarks.timing import interleaved, median
from roiattn.models import build_model


def training_step(model, images, masks, labels, optimizer, with_mask: bool):
    """One step; ``with_mask`` False calls the model as a plain torchvision classifier."""

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        logits = model(images, masks) if with_mask else model(images)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m roiattn bench overhead", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--method", default="attn-add@conv1", help="model to compare")
    parser.add_argument("--arch", default="resnet50", help="torchvision ResNet")
    parser.add_argument("--batch", type=int, default=8, help="batch size")
    parser.add_argument("--size", type=int, default=224, help="image height and width")
    parser.add_argument("--rounds", type=int, default=10, help="timed steps per model")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.size < 32 or args.rounds < 1:
        parser.error("--batch and --rounds must be >= 1 and --size >= 32")

    device = torch.device(args.device)
    torch.manual_seed(0)
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)
    masks = torch.zeros(args.batch, args.size, args.size, device=device)
    masks[:, args.size // 4 : args.size // 2, args.size // 3 : args.size // 2] = 1
    labels = torch.randint(0, 80, (args.batch,), device=device)

    attention = build_model(args.method, args.arch, num_classes=80).to(device).train()
    plain = torchvision.models.get_model(args.arch, num_classes=80).to(device).train()
    steps = {
        "plain": training_step(
            plain, images, masks, labels, torch.optim.AdamW(plain.parameters()), False
        ),
        args.method: training_step(
            attention, images, masks, labels, torch.optim.AdamW(attention.parameters()), True
        ),
    }
    print(
        f"{args.arch}, batch {args.batch} x {args.size}px, {args.rounds} interleaved training "
        f"steps each on {device} ({torch.get_num_threads()} threads, {platform.processor()}), "
        f"torch {torch.__version__}"
    )
    times = interleaved(steps, args.rounds, warmup=2, device=device)
    base = median(times["plain"])
    for name, values in times.items():
        print(
            f"  {name:>16}: median {median(values) * 1000:8.1f} ms/step, "
            f"{args.batch / median(values):7.1f} images/s"
        )
    ratio = median(times[args.method]) / base
    print(f"ratio {args.method} / plain: {ratio:.3f}")
    return 0
