"""Checks for the chapters' exercises.

Every exercise ends with a short check cell that tests a student's answer without giving the
solution away: it looks for the names the exercise asks the answer to be stored in and compares
them with what the chapter's own objects say they must be, as an autograder compares an answer
with a reference computed from the same inputs (nbgrader, otter-grader). In the book the worked
solution runs above it and the check passes; in the student edition
(``tools/make_student_edition.py``) the solution is gone and the check says what is missing until
the student has answered. ``tests/test_exercise_checks.py`` feeds every check typical mistakes
and requires each to be rejected.

:func:`check` runs a check; :func:`close` compares an answer with a reference; the ``expected_*``
functions compute the references from the chapter's objects (one or a few per chapter, in the
chapters' order), and the few predicates (:func:`acts_as_relu`, :func:`is_lowest`,
:func:`trained_as`, :func:`largest`) test what only a property can tell. They are the answers
in another form: a student who reads them has read the solution.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

# the models, data and statistics are imported where they are used: ``import roiattn`` imports
# this module first, and the checks need them only once a chapter has built its objects


class NotAnswered(AssertionError):
    """The exercise's answer has not been written yet (a name it asks for is not defined)."""


class WrongAnswer(AssertionError):
    """The answer is there but fails the check."""


def check(exercise: int | str, test: Callable[[], bool], wanted: str) -> None:
    """Run ``test`` (a function of no arguments that reads the student's names) and say whether
    exercise ``exercise``'s answer passes; ``wanted`` says what the answer should be, in the
    words of the exercise.

    Raises :class:`NotAnswered` when ``test`` reads a name that is not defined yet, and
    :class:`WrongAnswer` when it returns something false or cannot read the answer (another
    type or shape than the one asked for).
    """
    try:
        passed = test()
    except NameError as error:
        message = f"Exercise {exercise} is not answered yet ({error}). Wanted: {wanted}"
        raise NotAnswered(message) from None
    except Exception as error:  # an answer of another kind than the one asked for
        message = (
            f"Exercise {exercise}: the check cannot read the answer "
            f"({type(error).__name__}: {error}). Wanted: {wanted}"
        )
        raise WrongAnswer(message) from None
    if not passed:
        message = f"Exercise {exercise}: the answer does not pass the check. Wanted: {wanted}"
        raise WrongAnswer(message)
    print(f"Exercise {exercise}: the answer passes the check.")


def close(answer: Any, expected: Any, tolerance: float = 1e-6, relative: float = 0.0) -> bool:
    """Whether ``answer`` is ``expected``: numbers within ``tolerance + relative * |expected|``
    (NaN matches NaN), tensors and arrays of the same shape element by element, dicts with the
    same keys, sequences of the same length, dataclasses (a ``Gap``) field by field, anything
    else (a string, a truth value) exactly."""
    if dataclasses.is_dataclass(expected) and not isinstance(expected, type):
        return type(answer) is type(expected) and all(
            close(getattr(answer, f.name), getattr(expected, f.name), tolerance, relative)
            for f in dataclasses.fields(expected)
        )
    if isinstance(expected, Mapping):
        return (
            isinstance(answer, Mapping)
            and set(answer) == set(expected)
            and all(close(answer[k], expected[k], tolerance, relative) for k in expected)
        )
    if isinstance(expected, (str, bool, np.bool_)):
        return isinstance(answer, type(expected)) and answer == expected
    if isinstance(expected, (torch.Tensor, np.ndarray)):
        if not isinstance(answer, (torch.Tensor, np.ndarray)) or answer.shape != expected.shape:
            return False
        a, e = (np.asarray(torch.as_tensor(x).detach().cpu(), float) for x in (answer, expected))
        return bool(np.allclose(a, e, rtol=relative, atol=tolerance, equal_nan=True))
    if isinstance(expected, (list, tuple)):
        return (
            isinstance(answer, (list, tuple))
            and len(answer) == len(expected)
            and all(close(a, e, tolerance, relative) for a, e in zip(answer, expected, strict=True))
        )
    if isinstance(expected, (int, float, np.integer, np.floating)):
        if isinstance(answer, (str, bool, np.bool_)):
            return False
        try:
            value, wanted = float(answer), float(expected)
        except (TypeError, ValueError, RuntimeError):
            return False
        if math.isnan(wanted) or math.isnan(value):
            return math.isnan(wanted) and math.isnan(value)
        return abs(value - wanted) <= tolerance + relative * abs(wanted)
    return bool(answer == expected)


# -- chapter 1: masks -------------------------------------------------------------------------
def expected_squares_lost(
    image_size: int,
    cells: Sequence[int],
    side: int = 6,
    modes: Iterable[str] = ("nearest", "bilinear"),
) -> dict[str, int]:
    """At how many of the ``s × s`` positions of a ``side``-pixel square inside one patch of a
    ``cells`` grid (stride ``s``) each mode loses the square (the count does not depend on which
    patch: the sampling repeats every ``s`` pixels)."""
    from roiattn.masks import resize_mask

    stride = image_size // cells[0]
    start = stride * (image_size // 2 // stride)
    squares = torch.zeros(stride * stride, 1, image_size, image_size)
    for k, (dy, dx) in enumerate(itertools.product(range(stride), repeat=2)):
        squares[k, 0, start + dy : start + dy + side, start + dx : start + dx + side] = 1
    return {
        mode: int((resize_mask(squares, tuple(cells), mode).amax(dim=(1, 2, 3)) == 0).sum())
        for mode in modes
    }


def expected_antialiased_peaks(
    mask: torch.Tensor, sizes: Mapping[str, Sequence[int]]
) -> dict[str, float]:
    """The peak of ``mask`` resized bilinearly with antialiasing to every size of ``sizes``."""
    batch = mask.reshape(1, 1, *mask.shape[-2:]).float()
    return {
        point: torch.nn.functional.interpolate(
            batch, size=tuple(size), mode="bilinear", antialias=True
        )
        .max()
        .item()
        for point, size in sizes.items()
    }


# -- chapter 2: the attention branch ----------------------------------------------------------
def expected_branch_parameters(arch: str) -> dict[str, tuple[int, int]]:
    """``{merge point: (parameters of its branch, its channels)}`` of ``ROIAttentionNet(arch)``
    merged at every point (built on the meta device: counted, never allocated)."""
    from roiattn.models import MERGE_POINTS, ROIAttentionNet

    with torch.device("meta"):
        net = ROIAttentionNet(arch, num_classes=80, merge_at=MERGE_POINTS)
    return {
        point: (sum(p.numel() for p in branch.parameters()), branch.conv.out_channels)
        for point, branch in net.branches.items()
    }


@torch.no_grad()
def expected_padded_maps(
    attention: torch.nn.Module, channel: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor
) -> tuple[torch.Tensor, bool]:
    """For the inputs padded by one pixel on the right and at the bottom: the ``conv1`` map of
    the attention model, and whether it equals the mask channel's map (to 1e-5)."""
    pad = (0, 1, 0, 1)
    images, masks = torch.nn.functional.pad(images, pad), torch.nn.functional.pad(masks, pad)
    attention_map = attention.attention_maps(images, masks)["conv1"]
    return attention_map, bool(torch.allclose(attention_map, channel.mask_conv(masks), atol=1e-5))


# -- chapter 3: the no-op start ---------------------------------------------------------------
@torch.no_grad()
def acts_as_relu(block: torch.nn.Module) -> bool:
    """Whether the residual ``block``, in evaluation mode, computes exactly ``relu(x)`` (for a
    fixed random batch of its input's channels)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, block.conv1.in_channels, 16, 16, generator=generator)
    mode = block.training
    try:
        return torch.equal(block.eval()(x), torch.relu(x))
    finally:
        block.train(mode)


@torch.no_grad()
def expected_cut_logits(
    arch: str, backbone_state: Mapping[str, torch.Tensor], images: torch.Tensor, masks: torch.Tensor
) -> torch.Tensor:
    """The evaluation-mode logits of ``attn-mul@conv1`` on ``arch`` with ``backbone_state`` and
    its branch started at ``W = 0``, ``b = 0`` (so the map is 0 everywhere)."""
    from roiattn.models import build_model

    with torch.random.fork_rng(devices=[]):
        model = build_model("attn-mul@conv1", arch=arch, num_classes=80)
    model.backbone.load_state_dict(backbone_state)
    torch.nn.init.zeros_(model.branches["conv1"].conv.bias)
    return model.to(images.device).eval()(images, masks)


def expected_default_norm(arch: str) -> float:
    """The expected ``‖W‖`` of the ``conv1`` branch of ``attn-add@conv1`` on ``arch`` after
    PyTorch's default initialisation: uniform in ``±1/√fan_in``, so ``E[w²] = 1/(3 fan_in)``."""
    from roiattn.models import build_model

    with torch.device("meta"):
        model = build_model("attn-add@conv1", arch=arch, num_classes=80)
    weight = model.branches["conv1"].conv.weight
    return math.sqrt(weight.numel() / (3 * weight[0].numel()))


def expected_identities(
    dtypes: Iterable[torch.dtype] = (torch.float32, torch.float16, torch.bfloat16),
) -> dict[torch.dtype, tuple[bool, bool]]:
    """``{dtype: (x + 0 equals x, x * 1 equals x)}`` on numbers spread over many magnitudes."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(100_000, generator=generator)
    x = x * 10.0 ** torch.randint(-30, 30, (100_000,), generator=generator)
    found = {}
    for dtype in dtypes:
        y = x.to(dtype)
        found[dtype] = (torch.equal(y + 0.0, y), torch.equal(y * 1.0, y))
    return found


# -- chapter 4: training on COCO --------------------------------------------------------------
@torch.no_grad()
def expected_first_loss(
    experiment: Any, method: str, data: Any, sampler: Any, settings: Any, device: torch.device
) -> float:
    """The loss ``fit`` records at the first step of a run of ``experiment.model(method)`` on
    ``data`` with ``settings`` and ``sampler``: the model as it starts (in training mode), on
    the first batch of the first epoch."""
    from roiattn.data.regions import collate_regions
    from roiattn.train.steps import epoch_order

    with torch.random.fork_rng(devices=[]):
        model = experiment.model(method, len(data.classes)).to(device).train()
    first = epoch_order(data, sampler, settings.seed, 0)[: settings.batch_size]
    batch = collate_regions([data[i] for i in first])
    logits = model(batch["image"].to(device), batch["mask"].to(device))
    return torch.nn.functional.cross_entropy(logits.float(), batch["label"].to(device)).item()


def is_lowest(values: Mapping[Any, float] | Sequence[float], index: Any) -> bool:
    """Whether the ``index``-th of ``values`` (in their order) is the lowest of them, NaN (a
    class with no test region) left out."""
    values = np.asarray(list(values.values()) if isinstance(values, Mapping) else values, float)
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
        return False
    return 0 <= index < len(values) and values[index] == np.nanmin(values)


# -- chapters 5 to 7: experiments -------------------------------------------------------------
def _flat(settings: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple, Any]:
    """Nested settings as ``{path: value}``, JSON-normalised (tuples as lists)."""
    flat = {}
    for key, value in json.loads(json.dumps(settings)).items():
        if isinstance(value, dict):
            flat.update(_flat(value, (*prefix, key)))
        else:
            flat[(*prefix, key)] = value
    return flat


def trained_as(
    result: Any, experiment: Any, methods: Iterable[str], free: Iterable[str] = ()
) -> bool:
    """Whether the comparison ``result`` holds ``methods``, each trained with the seeds
    ``experiment`` gives it, and was made with every setting of ``experiment`` (data, network,
    training, model options), as its provenance records them. Settings named in ``free`` (by
    their own name: ``"seeds"``, ``"train_scenes"``, ...) may differ."""
    free = set(free)
    made, wanted = (
        {k: v for k, v in _flat(d).items() if k != ("variant",) and k[-1] not in free}
        for d in (result.provenance["experiment"], experiment.to_dict())
    )
    return made == wanted and all(
        method in result.methods
        and ("seeds" in free or result.seeds(method) == list(experiment.seeds_of(method)))
        for method in methods
    )


def expected_guess(train: Any, test: Any) -> tuple[int, float]:
    """The most frequent class of the training specks, and the share of the test specks that
    are of that class (the top-1 accuracy of always answering it)."""
    best = int(np.bincount(train.labels[train.small]).argmax())
    return best, float(np.mean(test.labels[test.small] == best))


def expected_speck_fates(world: Any, cells: int) -> tuple[float, float]:
    """For the specks of a ContextShapes ``world`` on a ``cells × cells`` grid: the share that
    bilinear resizing erases, and the share whose ``max`` cells hold another speck of their
    scene."""
    from roiattn.masks import resize_mask

    specks = np.flatnonzero(world.small)
    masks = _speck_masks(world)
    same_scene = world.scene_of[specks][:, None] == world.scene_of[specks][None, :]
    np.fill_diagonal(same_scene, False)
    erased = resize_mask(masks, cells, "bilinear").flatten(1).amax(1) == 0
    marked = (resize_mask(masks, cells, "max") > 0).flatten(1).float()
    shared = ((marked @ marked.T > 0).numpy() & same_scene).any(axis=1)
    return erased.float().mean().item(), float(shared.mean())


def expected_patch_counts(world: Any, patch: int) -> tuple[float, float]:
    """For the specks of a ContextShapes ``world`` cut into ``patch``-pixel patches: the mean
    number of patches a speck's mask touches, and the share that touch exactly one."""
    from roiattn.models.token_masks import region_tokens

    cells = world.image_size // patch
    counts = region_tokens(_speck_masks(world), (cells, cells)).sum(1)
    return counts.float().mean().item(), (counts == 1).float().mean().item()


def _speck_masks(world: Any) -> torch.Tensor:
    """The masks of a ContextShapes ``world``'s specks, ``(S, H, W)`` floats, in item order."""
    specks = np.flatnonzero(world.small)
    return torch.stack([torch.from_numpy(world.object_mask(int(i))) for i in specks]).float()


def expected_spreads(comparison: Any) -> dict[str, tuple[float, float]]:
    """``{method: (lowest, highest)}`` mean-class accuracy over the seeds of every method
    trained with several."""
    return {
        method: comparison.spread(method, "mean class")
        for method in comparison.methods
        if len(comparison.seeds(method)) > 1
    }


def expected_findings(comparison: Any, metric: str, margin: float) -> list:
    """The paper's findings checked on ``comparison`` with ``metric`` and ``margin`` (COCO's
    size bins, the library's resampling)."""
    from roiattn.experiments import check_findings

    return check_findings(comparison, metric=metric, scheme="coco", margin=margin)


def expected_mcnemar(a: Any, b: Any) -> tuple[int, int, float]:
    """From two reports on the same regions: how many only ``a`` gets right, how many only
    ``b``, and McNemar's exact two-sided p-value (a binomial test of the first count among
    both, at one half)."""
    right_a, right_b = a.correct.astype(bool), b.correct.astype(bool)
    only_a, only_b = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    n = only_a + only_b
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return only_a, only_b, min(1.0, 2 * tail)


def expected_gap(a: Any, b: Any, method: str, **options: Any) -> Any:
    """``method`` in comparison ``a`` minus ``method`` in comparison ``b``, paired over the
    seeds ``a`` holds (:func:`roiattn.evaluate.paired_gap` with ``options``)."""
    from roiattn.evaluate import paired_gap

    return paired_gap(a.reports(method), b.reports(method, a.seeds(method)), **options)


def expected_gaps(comparisons: Mapping[Any, Any], a: str, b: str, **options: Any) -> dict:
    """``{key: a − b}`` in each comparison, paired over seeds and images (``options`` as
    :func:`roiattn.evaluate.paired_gap` takes them)."""
    from roiattn.evaluate import paired_gap

    return {
        key: paired_gap(comparison.reports(a), comparison.reports(b), **options)
        for key, comparison in comparisons.items()
    }


# -- chapter 8: exploring ---------------------------------------------------------------------
def expected_box_answers(
    models: Mapping[str, torch.nn.Module],
    methods: Iterable[str],
    image: torch.Tensor,
    mask: torch.Tensor,
    classes: Sequence[str],
    scales: Iterable[float] = (1, 2, 4),
) -> dict[float, dict[str, tuple[str, float]]]:
    """``{scale: {method: (top class, its probability)}}`` of ``methods`` for the region's
    bounding box grown around its centre to ``scale`` times its width and height."""
    from roiattn import widgets

    chosen = {method: models[method] for method in methods}
    x0, y0, x1, y1 = widgets.mask_box(mask)
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    answers = {}
    for scale in scales:
        box = (cx - scale * w / 2, cy - scale * h / 2, cx + scale * w / 2, cy + scale * h / 2)
        drawn = widgets.box_mask(tuple(mask.shape), box)
        top = widgets.top_predictions(chosen, image, drawn, classes, top_k=1)
        answers[scale] = {method: tuple(found[0]) for method, found in top.items()}
    return answers


def expected_right_only(comparison: Any, right: str, wrong: str) -> np.ndarray:
    """The test regions (indices, ascending) that every method whose id starts with ``right``
    gets right and every method starting with ``wrong`` gets wrong (first seeds)."""
    correct = {m: comparison.report(m).correct.astype(bool) for m in comparison.methods}
    every = np.logical_and.reduce([c for m, c in correct.items() if m.startswith(right)])
    none = ~np.logical_or.reduce([c for m, c in correct.items() if m.startswith(wrong)])
    return np.flatnonzero(every & none)


def expected_bin_gaps(comparison: Any, labels: Iterable[str], a: str, b: str) -> dict[str, float]:
    """``{size bin: top-1 of a − top-1 of b}`` there, as ``widgets.bin_accuracies`` gives them."""
    from roiattn import widgets

    gaps = {}
    for label in labels:
        values = widgets.bin_accuracies(comparison, label)
        gaps[label] = values[a] - values[b]
    return gaps


def largest(values: Mapping[Any, float]) -> Any:
    """The key of the largest value, NaN (an empty bin) left out."""
    return max((k for k, v in values.items() if not math.isnan(v)), key=values.__getitem__)
