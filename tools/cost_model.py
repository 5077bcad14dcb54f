"""The cost model of the GPU profiles: how long each training chapter is expected to take on one
free Colab T4, written as the table in book/running.md (a test checks that the two agree).

    python tools/cost_model.py [PROFILE]      # default: colab

A chapter's time is the sum of what it does that takes time:

    download + reading + sum over its runs of (steps x step time + test regions x forward time)

- *steps* of a run: epochs x (training regions // batch), as ``fit`` counts them; a chapter's
  variants with fewer training regions (chapter 7's learning curve) are counted at full size, so
  the estimate errs long;
- *step time*: a batch's images over the T4's training throughput at that image size, which
  scales with the pixels of an image from its figure at 224 px, but never below a floor that a
  step's kernel launches cost however small its images;
- *forward time*: a third of a training step's per image (inference is about three times as
  fast as training on the same GPU);
- *reading*: every region decoded once (the colab profile keeps them in memory), at this
  machine's measured time per region on one core;
- *download*: the images the profile fetches, and COCO's annotation archive, at an assumed
  bandwidth.

Every rate below is an estimate from public figures or this machine, not a measurement on a
T4: the chapters time their own first steps on the reader's GPU and print their own projection
before they train (``roiattn.experiments.project``).
"""

from __future__ import annotations

import sys

from roiattn import experiments, profiles

# Training throughput on a T4 with fp16 autocast at 224 px, images a second: NVIDIA publishes
# about 1,190 images/s for ResNet-50 *inference* with mixed precision; training is about a
# third of that. EfficientNet-Lite0 does a tenth of ResNet-50's arithmetic but depthwise
# convolutions use a GPU poorly: assumed twice as fast.
# Chapter 9's 0.3 M-parameter transformer does a few percent of ResNet-50's arithmetic: assumed
# eight times as fast, which puts its steps at the floor at the book's image sizes.
T4_TRAIN_224 = {"resnet50": 250.0, "efficientnet_lite0": 500.0, "vit4_w96_p8": 2000.0}
STEP_FLOOR_SECONDS = 0.03  # a ResNet-50 step's kernel launches, whatever the image size
FORWARD_SPEEDUP = 3.0
READ_SECONDS = 0.003  # one region, decoded and cut: 2.6-3.4 ms on one core here, 48-160 px
REGIONS_PER_IMAGE = 7.3  # COCO 2017 train: about 860,000 non-crowd instances in 118,000 images
IMAGE_MB, ANNOTATIONS_MB, DOWNLOAD_MB_PER_SECOND = 0.16, 241.0, 20.0

# The runs each chapter trains, by experiment, counted from the runs a quick-profile execution of
# chapters 4 to 8 in order saved on 2026-12-04 (the colab profile has the same seeds, so the same
# runs; chapter 7 reuses chapter 6's base runs and, in the quick profile only, loads its nine
# pretrained runs from the package); chapter 4 trains outside compare (its own loop, fit, a
# killed and resumed run, two exercises). Chapter 9 counts runs at its experiment's steps: 13 of
# the transformer's (seven methods, five again on fresh scenes, one exercise), two at half and two
# at twice the steps (five in all), and of chapter 5's CNN one at half and one at twice its
# steps (its others are chapter 5's, loaded): 18 and 3 (2.5 rounded up).
CHAPTER_RUNS: dict[str, dict[str, int]] = {
    "4 Training on a COCO subset": {"coco": 5},
    "5 Context matters": {"shapes": 15},
    "6 Soft versus hard attention": {"coco": 23},
    "7 When does soft attention win?": {"coco": 20, "coco-pretrained": 9},
    "9 The region prompt in a vision transformer": {"shapes-vit": 18, "shapes": 3},
}


def step_seconds(arch: str, image_size: int, batch_size: int) -> float:
    images_per_second = T4_TRAIN_224[arch] * (224 / image_size) ** 2
    return max(STEP_FLOOR_SECONDS, batch_size / images_per_second)


def regions(experiment: experiments.Experiment) -> tuple[int, int]:
    """Training and test regions of a profile's experiment, as its data would give them."""
    data = experiment.data
    if isinstance(data, experiments.ShapesData):
        return 5 * data.train_scenes, 5 * data.test_scenes
    available = round(data.download_images * REGIONS_PER_IMAGE)
    train = min(available, data.max_train or available)
    return train, min(available, data.max_test or available)


def steps_of(experiment: experiments.Experiment) -> int:
    """The optimizer steps of one run, as ``fit`` counts them (module docstring)."""
    return experiment.training.epochs * (regions(experiment)[0] // experiment.training.batch_size)


def chapter_seconds(
    profile: profiles.Profile, runs: dict[str, int], download: bool
) -> dict[str, float]:
    """The parts of one chapter's time, in seconds (module docstring); ``download``: whether it
    is the first to read COCO, which later chapters then find on disk."""
    parts = {"download": 0.0, "reading": 0.0, "training": 0.0, "evaluation": 0.0}
    for name, count in runs.items():
        experiment = experiments.get(name, profile)
        train, test = regions(experiment)
        settings = experiment.training
        step = step_seconds(experiment.arch, experiment.data.image_size, settings.batch_size)
        parts["training"] += count * steps_of(experiment) * step
        parts["evaluation"] += count * test * step / settings.batch_size / FORWARD_SPEEDUP
        parts["reading"] += (train + test) * READ_SECONDS
        if download and isinstance(experiment.data, experiments.COCOData):
            images = 2 * experiment.data.download_images
            parts["download"] = (images * IMAGE_MB + ANNOTATIONS_MB) / DOWNLOAD_MB_PER_SECOND
    return parts


def table(profile: profiles.Profile) -> str:
    """The Markdown table of book/running.md for ``profile``."""
    lines = [
        f"| chapter ({profile.name} profile) | runs | steps a run | download | reading | "
        "training | evaluation | estimate |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    total = 0.0
    for index, (chapter, runs) in enumerate(CHAPTER_RUNS.items()):
        parts = chapter_seconds(profile, runs, download=index == 0)
        steps = [f"{steps_of(experiments.get(name, profile)):,}" for name in runs]
        minutes = sum(parts.values()) / 60
        total += minutes
        cells = " | ".join(f"{parts[k] / 60:.1f} min" for k in parts)
        lines.append(f"| {chapter} | {sum(runs.values())} | {' / '.join(steps)} | {cells} | "
                     f"**{minutes:.0f} min** |")  # fmt: skip
    lines.append(f"| all {len(CHAPTER_RUNS)} | | | | | | | **{total:.0f} min** |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(profiles.get(sys.argv[1] if len(sys.argv) > 1 else "colab")))
