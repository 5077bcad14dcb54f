"""The paper's findings, reproduced in the quick profile on ContextShapes (issue 4, item 8).

``recipes.shapes_comparison`` trains every method of ``recipes.SHAPES_METHODS`` from scratch on
the same ContextShapes scenes with the quick profile's settings and evaluates them on other
scenes, per size bin (the world's own bins: ``small`` specks and ``large`` bodies). The world
is built so that the findings must appear (see :mod:`roiattn.data.context_shapes`); this test
checks that they do:

1. attention at the first layer is far ahead of hard attention on small regions, and about
   equal on large ones;
2. attention at the first layer is far ahead of the merge at layer3 on small regions;
3. the whole image, mask ignored, is far behind.

It always trains (``retrain=True``), into ``$ROIATTN_DATA/results``, where chapter 5 then finds
the same runs and loads them. The margins are set well inside what was measured (see the
closing note of issue 4). About three minutes on two CPU cores; marked ``slow``.
"""

import pytest

from roiattn import recipes

FIRST_LAYER = ("attn-add@conv1", "attn-mul@conv1")
BUDGET_SECONDS = 300  # the budget for its seven methods; SHAPES_METHODS adds an eighth


@pytest.fixture(scope="module")
def comparison():
    result = recipes.shapes_comparison("quick", retrain=True, progress=False)
    print(result.to_markdown())
    print(f"compare took {result.provenance['seconds']:.0f} s on {result.provenance['device']}")
    return result


@pytest.mark.slow
def test_the_table_has_the_worlds_two_size_bins(comparison):
    assert comparison.columns()[:2] == ["small", "large"]
    assert comparison.methods == list(recipes.SHAPES_METHODS)


@pytest.mark.slow
def test_the_whole_comparison_takes_at_most_five_minutes(comparison):
    spent = comparison.provenance["seconds"]
    assert spent <= BUDGET_SECONDS, f"{spent:.0f} s for {len(comparison.methods)} methods"


@pytest.mark.slow
@pytest.mark.parametrize("method", FIRST_LAYER)
def test_first_layer_attention_beats_hard_attention_on_small_regions(comparison, method):
    hard = comparison.accuracy("hard@input", "small")
    assert comparison.accuracy(method, "small") >= max(hard + 0.35, 0.6)
    assert comparison.accuracy("crop", "small") <= 0.35  # it sees a dark square, whatever the class


@pytest.mark.slow
@pytest.mark.parametrize("method", FIRST_LAYER)
def test_first_layer_attention_about_matches_hard_attention_on_large_regions(comparison, method):
    hard = comparison.accuracy("hard@input", "large")
    assert hard >= 0.9
    assert abs(comparison.accuracy(method, "large") - hard) <= 0.1


@pytest.mark.slow
@pytest.mark.parametrize("method", FIRST_LAYER)
def test_first_layer_attention_beats_the_layer3_merge_on_small_regions(comparison, method):
    layer3 = comparison.accuracy("attn-add@layer3", "small")
    assert comparison.accuracy(method, "small") >= layer3 + 0.35


@pytest.mark.slow
def test_several_maps_are_no_better_than_one_at_the_first_layer(comparison):
    for column in ("small", "large"):
        conv1 = comparison.accuracy("attn-add@conv1", column)
        assert comparison.accuracy("attn-add@all", column) <= conv1 + 0.05


@pytest.mark.slow
def test_the_whole_image_is_far_behind(comparison):
    image = comparison.accuracy("image")
    for method in (*FIRST_LAYER, "attn-add@all"):
        assert comparison.accuracy(method) >= image + 0.35
    assert comparison.accuracy("image", "small") <= 0.5  # it cannot tell which speck is meant
