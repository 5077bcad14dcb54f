"""The paper's findings, reproduced in the quick profile on ContextShapes (issue 4, item 8).

``experiments.shapes("quick").run()`` trains every method of ``experiments.SHAPES_METHODS``
from scratch on the same ContextShapes scenes with the quick profile's settings and evaluates
them on other scenes, per size bin (the world's own bins: ``small`` specks and ``large``
bodies). The world is built so that the findings must appear (see
:mod:`roiattn.data.context_shapes`); this test checks that they do, in top-1 accuracy over the
regions of each bin (the margins were measured in it):

1. attention at the first layer is far ahead of hard attention on small regions, and about
   equal on large ones;
2. attention at the first layer is far ahead of the merge at layer3 on small regions;
3. the whole image, mask ignored, is far behind.

It loads the runs chapter 5 saved in ``$ROIATTN_DATA/results`` (in the suite the book build runs
first, in the same process, see ``conftest.py``), or trains them there when chapter 5 has not: the
same runs are never trained twice in one test session. The time budget is checked on the training
and evaluation times saved with each run (from the first start to the last end), so it holds either
way. The margins are set well inside what was measured (see the closing note of issue 4). About two
minutes on two CPU cores when it trains; marked ``slow``.
"""

from datetime import datetime
from pathlib import Path

import pytest

from roiattn import experiments

FIRST_LAYER = ("attn-add@conv1", "attn-mul@conv1")
BUDGET_SECONDS = 300  # the budget for its seven methods; SHAPES_METHODS adds an eighth


@pytest.fixture(scope="module")
def comparison():
    result = experiments.shapes("quick").run(progress=False)
    print(result.to_markdown(metric="accuracy"))
    print(f"runs trained in {run_seconds(result):.0f} s on {result.provenance['device']}")
    return result


def run_seconds(comparison) -> float:
    """How long the comparison's runs took, from the first run's start to the last one's end,
    as saved when they were made. Runs trained side by side overlap, so summing their own
    times would count the same seconds twice; runs made one after another span at least that
    sum."""
    spans = []
    for run in (run for runs in comparison.runs.values() for run in runs):
        start = datetime.fromisoformat(run.provenance["started"]).timestamp()
        spans.append((start, start + run.seconds["train"] + run.seconds["evaluate"]))
    return max(end for _, end in spans) - min(start for start, _ in spans)


def top1(comparison, method, column="overall"):
    """Top-1 accuracy over the regions of ``column`` (a size bin, or ``overall``)."""
    return comparison.accuracy(method, column, metric="accuracy")


@pytest.mark.slow
def test_the_table_has_the_worlds_two_size_bins_and_is_where_chapter_5_loads_it(comparison):
    assert comparison.scheme == "shapes"
    assert comparison.columns() == ["small", "large", "overall", "mean class"]
    assert comparison.methods == list(experiments.SHAPES_METHODS)
    assert all(comparison.seeds(m) == [0] for m in comparison.methods)  # one seed in quick
    assert comparison.path == experiments.results_dir() / "shapes-quick.json"
    loaded = experiments.load_results(comparison.path)
    assert loaded.table("accuracy") == comparison.table("accuracy")


@pytest.mark.slow
def test_the_whole_comparison_takes_at_most_five_minutes(comparison):
    spent = run_seconds(comparison)
    assert spent <= BUDGET_SECONDS, f"{spent:.0f} s for {len(comparison.methods)} methods"


@pytest.mark.slow
@pytest.mark.parametrize("method", FIRST_LAYER)
def test_first_layer_attention_beats_hard_attention_on_small_regions(comparison, method):
    hard = top1(comparison, "hard@input", "small")
    assert top1(comparison, method, "small") >= max(hard + 0.35, 0.6)
    assert top1(comparison, "crop", "small") <= 0.35  # it sees a dark square, whatever the class


@pytest.mark.slow
@pytest.mark.parametrize("method", FIRST_LAYER)
def test_first_layer_attention_about_matches_hard_attention_on_large_regions(comparison, method):
    hard = top1(comparison, "hard@input", "large")
    assert hard >= 0.9
    assert abs(top1(comparison, method, "large") - hard) <= 0.1


@pytest.mark.slow
@pytest.mark.parametrize("method", FIRST_LAYER)
def test_first_layer_attention_beats_the_layer3_merge_on_small_regions(comparison, method):
    layer3 = top1(comparison, "attn-add@layer3", "small")
    assert top1(comparison, method, "small") >= layer3 + 0.35


@pytest.mark.slow
def test_several_maps_are_no_better_than_one_at_the_first_layer(comparison):
    for column in ("small", "large"):
        conv1 = top1(comparison, "attn-add@conv1", column)
        assert top1(comparison, "attn-add@all", column) <= conv1 + 0.05


@pytest.mark.slow
def test_the_whole_image_is_far_behind(comparison):
    image = top1(comparison, "image")
    for method in (*FIRST_LAYER, "attn-add@all"):
        assert top1(comparison, method) >= image + 0.35
    assert top1(comparison, "image", "small") <= 0.5  # it cannot tell which speck is meant


@pytest.mark.slow
def test_the_verdicts_agree_with_the_paper_where_the_world_forces_the_findings(comparison):
    checks = {c.finding.name: c for c in experiments.check_findings(comparison, scheme="shapes")}
    hard, layer3 = "1: attn-add@conv1 − hard@input", "2: attn-add@conv1 − attn-add@layer3"
    # hard@conv1 is not among SHAPES_METHODS: its finding is left out
    assert set(checks) == {hard, layer3, "3: attn-add@all − attn-add@conv1"}
    for name in (hard, layer3):
        small = checks[name].gaps[0]
        assert small.label == "small" and small.difference >= 0.3
        assert checks[name].verdicts[0].agreement == "agrees"
    # the gap over hard attention is larger on small regions than on large ones
    assert checks[hard].small_vs_large.sign == 1


@pytest.mark.slow
def test_on_large_bodies_hard_attention_is_slightly_ahead_as_the_book_says(comparison):
    """What the book finds (book/intro.md, README.md, book/teachers.md) says of chapter 5's
    large bodies: hard attention ahead of the paper's map, by less than the ±5-point margin."""
    intro = " ".join((Path(__file__).parents[1] / "book" / "intro.md").read_text().split())
    said = "hard attention is slightly ahead of it, by less than the book's ±5-point margin"
    assert said in intro
    gaps = comparison.gaps("attn-add@conv1", "hard@input", metric="mean_class")
    gaps = {gap.label: gap for gap in gaps}
    large = gaps["large"]
    assert large.sign < 0 and large.within(0.05), str(large)


@pytest.fixture(scope="module")
def transformer():
    """Chapter 9's comparison and its fresh draw of the world (the chapter's own
    ``experiment.replace(train_seed=... + 100, test_seed=... + 100)``), loaded from the runs the
    book build saved, or trained here."""
    experiment = experiments.shapes_vit("quick")
    data = experiment.data
    fresh = experiment.replace(train_seed=data.train_seed + 100, test_seed=data.test_seed + 100)
    methods = ["hard@input", "attn-add@stem", "mask-channel", "mask-attn"]
    return experiment.run(methods, progress=False), fresh.run(methods, progress=False)


@pytest.mark.slow
def test_in_a_transformer_the_first_layer_prompt_and_masked_attention_beat_hard_attention(
    transformer,
):
    """What the book finds says of chapter 9: the mask channel and attention restricted to the
    region beat hard attention on specks, on both draws of the world, and the paper's branch
    resized bilinearly to the patches stays behind both by more than the margin."""
    intro = " ".join((Path(__file__).parents[1] / "book" / "intro.md").read_text().split())
    assert "both beat hard attention on small regions, on a fresh draw of the world too" in intro
    assert "stays behind both by more than the book's margin (chapter 9)" in intro
    for comparison in transformer:
        for method in ("mask-channel", "mask-attn"):
            specks = comparison.gaps(method, "hard@input", metric="mean_class")[0]
            assert specks.label == "small" and specks.sign > 0, (method, str(specks))
            behind = comparison.gaps("attn-add@stem", method, metric="mean_class")[0]
            assert behind.high < -0.05, (method, str(behind))
