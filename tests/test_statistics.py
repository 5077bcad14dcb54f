"""How far a difference between two methods can be trusted: the paired image bootstrap against a
plain loop over explicit resamples, degenerate cases with exact answers, images (not regions) as
the unit, chunking, averaging over seeds, contrasts between size bins, baselines, and errors."""

import math

import numpy as np
import pytest
from synthetic_regions import TinyRegions

from roiattn.evaluate import (
    Gap,
    Report,
    SizeBins,
    chance_accuracy,
    gap_contrast,
    majority_report,
    paired_gap,
    paired_gaps,
)

CLASSES = ["a", "b", "c"]
BINS = SizeBins.from_edges("split", [1000])  # <1k and >=1k


def report(labels, predictions, image_ids=None, areas=None, method=""):
    areas = np.full(len(labels), 500.0) if areas is None else areas
    return Report(labels, predictions, areas, CLASSES, [BINS], image_ids=image_ids, method=method)


def guesses(labels, right):
    """Predictions that are right where ``right`` is true, and another class elsewhere."""
    labels = np.asarray(labels)
    return np.where(right, labels, (labels + 1) % len(CLASSES))


# 30 regions on 8 images of 1 to 7 regions, listed out of id order
rng = np.random.default_rng(5)
IMAGE_IDS = rng.choice([11, 3, 40, 7, 5, 21, 9, 30], size=30)
LABELS = rng.integers(0, 3, 30)
AREAS = rng.choice([400.0, 5000.0], size=30)
SEEDS_A = [report(LABELS, guesses(LABELS, rng.random(30) < 0.75), IMAGE_IDS, AREAS, "a")
           for _ in range(3)]  # fmt: skip
SEEDS_B = [report(LABELS, guesses(LABELS, rng.random(30) < 0.5), IMAGE_IDS, AREAS, "b")
           for _ in range(3)]  # fmt: skip
A, B = SEEDS_A[0], SEEDS_B[0]


def value(r, index, metric):
    """The metric of report ``r`` on the instances ``index`` (repeats allowed), by a Report."""
    picked = Report(r.labels[index], r.predictions[index], r.areas[index], r.classes)
    return picked.accuracy if metric == "accuracy" else picked.mean_class_accuracy


def explicit_differences(a, b, inside, metric, resamples, seed):
    """The bootstrap by hand: each draw of the images (the same multinomial draws), written out
    as the list of its regions, scored by a Report; mean over seeds of a minus mean of b."""
    first = a[0]
    images = np.unique(first.image_ids)  # a draw's counts are per image, in id order
    draws = np.random.default_rng(seed).multinomial(
        len(images), np.full(len(images), 1 / len(images)), size=resamples
    )
    out = []
    for counts in draws:
        regions = [np.flatnonzero((first.image_ids == image) & inside) for image in images]
        index = np.concatenate([np.tile(r, c) for r, c in zip(regions, counts, strict=True)])
        if len(index) == 0:
            out.append(math.nan)  # nothing of the bin was drawn
            continue
        mean_a = np.mean([value(r, index, metric) for r in a])
        mean_b = np.mean([value(r, index, metric) for r in b])
        out.append(mean_a - mean_b)
    return np.array(out)


def interval(differences, level):
    tail = (1 - level) / 2
    return tuple(np.nanquantile(differences, [tail, 1 - tail]))


@pytest.mark.parametrize("metric", ["mean_class", "accuracy"])
@pytest.mark.parametrize("bin_index", [None, 0, 1])
def test_paired_gap_is_the_bootstrap_over_explicit_image_resamples(metric, bin_index):
    inside = np.ones(30, bool) if bin_index is None else BINS.assign(AREAS) == bin_index
    gap = paired_gap(A, B, None if bin_index is None else inside, metric=metric, level=0.9,
                     resamples=200, seed=3)  # fmt: skip
    assert gap.count == inside.sum() and gap.images == len(np.unique(IMAGE_IDS[inside]))
    assert gap.a == pytest.approx(value(A, np.flatnonzero(inside), metric), abs=1e-12)
    assert gap.b == pytest.approx(value(B, np.flatnonzero(inside), metric), abs=1e-12)
    assert gap.difference == pytest.approx(gap.a - gap.b, abs=1e-12)
    by_hand = explicit_differences([A], [B], inside, metric, 200, seed=3)
    assert (gap.low, gap.high) == pytest.approx(interval(by_hand, 0.9), abs=1e-12)
    assert gap.low < gap.difference < gap.high and gap.per_seed == ()
    # another seed draws other images
    assert (paired_gap(A, B, inside, metric=metric, level=0.9, resamples=200, seed=4).low,
            ) != (gap.low,)  # fmt: skip


def test_degenerate_cases_have_exact_answers():
    right = report(LABELS, LABELS, IMAGE_IDS)
    wrong = report(LABELS, (LABELS + 1) % 3, IMAGE_IDS)
    same = paired_gap(right, right, resamples=50)
    assert (same.difference, same.low, same.high) == (0, 0, 0)
    assert same.sign == 0 and same.within(0.001)
    gap = paired_gap(right, wrong, metric="accuracy", resamples=50)
    assert (gap.a, gap.b, gap.difference, gap.low, gap.high) == (1, 0, 1, 1, 1)
    assert gap.sign == 1 and not gap.within(0.5)
    assert paired_gap(wrong, right, resamples=50).sign == -1
    # one image: every draw is the test set itself, so the interval is the point
    one = np.zeros(30, int)
    single = paired_gap(report(LABELS, A.predictions, one), report(LABELS, B.predictions, one),
                        resamples=50)  # fmt: skip
    assert single.images == 1 and single.low == single.high == pytest.approx(single.difference)
    assert str(gap) == "+100.0 [+100.0, +100.0]"


def test_images_not_regions_are_the_unit_of_resampling():
    data = TinyRegions(300, per_image=5)  # 60 images of 5 regions
    assert np.array_equal(data.image_ids, np.repeat(np.arange(60), 5))
    draw = np.random.default_rng(0)
    # every region of an image shares its outcome (the same light, the same scene)
    right_a = np.repeat(draw.random(60) < 0.7, 5)
    right_b = np.repeat(draw.random(60) < 0.5, 5)

    def width(image_ids, metric):
        a = report(data.labels, guesses(data.labels, right_a), image_ids)
        b = report(data.labels, guesses(data.labels, right_b), image_ids)
        gap = paired_gap(a, b, metric=metric, resamples=1000)
        return gap.high - gap.low, gap.difference, gap.images

    for metric in ("accuracy", "mean_class"):
        by_image, difference, images = width(data.image_ids, metric)
        by_region, same_difference, regions = width(None, metric)  # each region its own image
        assert (images, regions) == (60, 300)
        assert difference == same_difference  # the images change the interval only
        assert by_image > 1.5 * by_region  # about sqrt(5) times wider


def numbers(gap):
    return (gap.count, gap.images, gap.a, gap.b, gap.difference, gap.low, gap.high, *gap.per_seed)


def test_the_chunk_size_changes_nothing():
    options = dict(resamples=300, seed=2, level=0.8)
    inside = AREAS < 1000
    # one report each: whole counts, so every chunking gives the very same numbers
    gaps = [paired_gap(A, B, chunk=chunk, **options) for chunk in (1, 7, 250, 300, 1000)]
    assert all(g == gaps[0] for g in gaps[1:])
    contrasts = [gap_contrast(A, B, inside, ~inside, chunk=chunk, **options)
                 for chunk in (1, 64, 300)]  # fmt: skip
    assert all(c == contrasts[0] for c in contrasts[1:])
    # means over seeds are fractions: a one-draw chunk may round in its last bit
    gaps = [paired_gap(SEEDS_A, SEEDS_B, chunk=chunk, **options) for chunk in (1, 7, 300, 1000)]
    for gap in gaps[1:]:
        assert numbers(gap) == pytest.approx(numbers(gaps[0]), rel=1e-14, abs=1e-15)
    assert gaps[2] == gaps[3]  # one chunk or several of many draws: the same numbers
    contrasts = [gap_contrast(SEEDS_A, SEEDS_B, inside, ~inside, chunk=chunk, **options)
                 for chunk in (1, 64, 300)]  # fmt: skip
    for contrast in contrasts[1:]:
        assert numbers(contrast) == pytest.approx(numbers(contrasts[0]), rel=1e-14, abs=1e-15)


@pytest.mark.parametrize("metric", ["mean_class", "accuracy"])
def test_several_seeds_are_averaged(metric):
    gap = paired_gap(SEEDS_A, SEEDS_B, metric=metric, resamples=200, seed=1)
    singles = [paired_gap(a, b, metric=metric, resamples=200, seed=1)
               for a, b in zip(SEEDS_A, SEEDS_B, strict=True)]  # fmt: skip
    assert gap.per_seed == pytest.approx([g.difference for g in singles], abs=1e-12)
    assert gap.difference == pytest.approx(np.mean(gap.per_seed), abs=1e-12)
    assert gap.a == pytest.approx(np.mean([g.a for g in singles]), abs=1e-12)
    assert gap.b == pytest.approx(np.mean([g.b for g in singles]), abs=1e-12)
    # each draw's statistic is the mean over seeds of that draw's differences
    by_hand = explicit_differences(SEEDS_A, SEEDS_B, np.ones(30, bool), metric, 200, seed=1)
    assert (gap.low, gap.high) == pytest.approx(interval(by_hand, 0.95), abs=1e-12)
    # one seed each is the single-report gap
    assert paired_gap([A], [B], metric=metric, resamples=200, seed=1) == singles[0]


def test_seeds_agree_when_each_has_the_sign_of_the_interval():
    base = dict(label="x", count=10, images=5, a=0.6, b=0.4, difference=0.2, low=0.1, high=0.3)
    assert Gap(**base, per_seed=(0.1, 0.3)).seeds_agree
    assert not Gap(**base, per_seed=(0.3, -0.05)).seeds_agree
    assert Gap(**base).seeds_agree  # one seed: nothing to disagree


def test_a_contrast_is_one_gap_minus_another_on_the_same_draws():
    small = AREAS < 1000
    # a beats b on the small regions only; on the large ones they are the same
    a = report(LABELS, np.where(small, LABELS, B.predictions), IMAGE_IDS, AREAS)
    for metric in ("accuracy", "mean_class"):
        contrast = gap_contrast(a, B, small, ~small, metric=metric, resamples=400, seed=0)
        on_small = paired_gap(a, B, small, metric=metric, resamples=400, seed=0)
        on_large = paired_gap(a, B, ~small, metric=metric, resamples=400, seed=0)
        assert on_large.difference == 0 and on_small.difference > 0.3
        assert (contrast.a, contrast.b) == (on_small.difference, on_large.difference)
        assert contrast.difference == on_small.difference
        assert contrast.sign == 1 and contrast.count == 30
        # the interval of the contrast: the same image draws for both gaps
        by_hand = explicit_differences([a], [B], small, metric, 400, 0) - explicit_differences(
            [a], [B], ~small, metric, 400, 0
        )
        assert (contrast.low, contrast.high) == pytest.approx(interval(by_hand, 0.95), abs=1e-12)
        flipped = gap_contrast(a, B, ~small, small, metric=metric, resamples=400, seed=0)
        assert flipped.sign == -1 and flipped.difference == -contrast.difference
    empty = gap_contrast(a, B, np.zeros(30, bool), small)
    assert empty.count == 0 and math.isnan(empty.difference) and empty.sign == 0


def test_gaps_per_size_bin_use_the_metric_of_each_bin():
    gaps = paired_gaps(A, B, "split", resamples=100)
    assert [g.label for g in gaps] == ["<1k", ">=1k", "overall"]
    rows_a, rows_b = A.by_size("split"), B.by_size("split")
    for gap, row_a, row_b in zip(gaps, rows_a, rows_b, strict=False):
        assert gap.count == row_a.count
        assert gap.a == pytest.approx(row_a.mean_class_accuracy, abs=1e-12)
        assert gap.b == pytest.approx(row_b.mean_class_accuracy, abs=1e-12)
    assert gaps[-1].a == pytest.approx(A.mean_class_accuracy, abs=1e-12)
    accuracy = paired_gaps(A, B, "split", metric="accuracy", resamples=100)
    assert [g.a for g in accuracy] == pytest.approx([r.accuracy for r in rows_a] + [A.accuracy])
    # the mean over classes differs from the mean over instances here
    assert gaps[-1].a != pytest.approx(accuracy[-1].a)
    # the same seed: each bin's gap is the one paired_gap gives on its instances
    assert gaps[0] == paired_gap(A, B, AREAS < 1000, label="<1k", resamples=100)


def test_an_empty_bin_has_no_gap():
    areas = np.full(30, 500.0)  # nothing at 1k or more
    a = report(LABELS, A.predictions, IMAGE_IDS, areas)
    b = report(LABELS, B.predictions, IMAGE_IDS, areas)
    empty = paired_gaps(a, b, "split", resamples=50)[1]
    assert (empty.label, empty.count, empty.images) == (">=1k", 0, 0)
    assert all(math.isnan(v) for v in (empty.a, empty.b, empty.difference, empty.low, empty.high))
    assert empty.sign == 0 and not empty.within(1.0) and str(empty) == "–"


def test_majority_and_chance_baselines():
    majority = majority_report(A, train_counts=[3, 10, 2])
    assert majority.predictions.tolist() == [1] * 30 and majority.method == "majority (b)"
    assert majority.accuracy == pytest.approx(np.mean(LABELS == 1))
    present = len(np.unique(LABELS))
    assert majority.mean_class_accuracy == pytest.approx(1 / present)  # one class right of all
    assert majority.image_ids.tolist() == A.image_ids.tolist()
    assert majority.areas.tolist() == A.areas.tolist() and list(majority.schemes) == ["split"]
    # it pairs with the methods' reports, and a method that learnt something beats it
    right = report(LABELS, LABELS, IMAGE_IDS, AREAS)
    assert paired_gap(right, majority, resamples=100).sign == 1
    assert chance_accuracy(4) == 0.25 and chance_accuracy(3) == pytest.approx(1 / 3)


def test_reports_that_do_not_pair_and_bad_options_are_refused():
    other_labels = report((LABELS + 1) % 3, A.predictions, IMAGE_IDS)
    with pytest.raises(ValueError, match="not on the same test instances"):
        paired_gap(A, other_labels)
    other_images = report(LABELS, B.predictions, np.arange(30))
    with pytest.raises(ValueError, match="not on the same test instances"):
        paired_gap(A, other_images)
    with pytest.raises(ValueError, match="not on the same test instances"):
        paired_gap([A, SEEDS_A[1]], [B, other_images])  # any seed's report
    with pytest.raises(ValueError, match="not on the same test instances"):
        gap_contrast(A, other_labels, AREAS < 1000, AREAS >= 1000)
    with pytest.raises(ValueError, match=r"metric must be one of \('mean_class', 'accuracy'\)"):
        paired_gap(A, B, metric="top5")
    with pytest.raises(ValueError, match="metric must be one of"):
        gap_contrast(A, B, AREAS < 1000, AREAS >= 1000, metric="f1")
    for level in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"level must lie in \(0, 1\)"):
            paired_gap(A, B, level=level, resamples=10)
    with pytest.raises(ValueError, match="level must lie in"):
        gap_contrast(A, B, AREAS < 1000, AREAS >= 1000, level=2, resamples=10)
    with pytest.raises(ValueError, match="no size binning 'coco' in these reports"):
        paired_gaps(A, B, "coco")
