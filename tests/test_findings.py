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
closing note of issue 4). Several minutes on two CPU cores; marked ``slow``.
"""

import pytest

from roiattn import recipes

FIRST_LAYER = ("attn-add@conv1", "attn-mul@conv1")


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
def test_first_layer_attention_beats_hard_attention_on_small_regions(comparison):
    hard = comparison.accuracy("hard@input", "small")
    assert comparison.accuracy("attn-add@conv1", "small") >= max(hard + 0.35, 0.6)
    assert comparison.accuracy("attn-mul@conv1", "small") >= hard + 0.25
    assert comparison.accuracy("crop", "small") <= 0.35  # it sees a dark square, whatever the class


@pytest.mark.slow
def test_first_layer_attention_about_matches_hard_attention_on_large_regions(comparison):
    hard = comparison.accuracy("hard@input", "large")
    assert hard >= 0.9
    assert abs(comparison.accuracy("attn-add@conv1", "large") - hard) <= 0.15


@pytest.mark.slow
@pytest.mark.parametrize("method", FIRST_LAYER)
def test_first_layer_attention_beats_the_layer3_merge_on_small_regions(comparison, method):
    layer3 = comparison.accuracy("attn-add@layer3", "small")
    margin = 0.35 if method == "attn-add@conv1" else 0.2
    assert comparison.accuracy(method, "small") >= layer3 + margin


@pytest.mark.slow
def test_several_maps_are_no_better_than_one_at_the_first_layer(comparison):
    for column in ("small", "large"):
        conv1 = comparison.accuracy("attn-add@conv1", column)
        assert comparison.accuracy("attn-add@all", column) <= conv1 + 0.05


@pytest.mark.slow
def test_the_whole_image_is_far_behind(comparison):
    image = comparison.accuracy("image")
    for method in ("attn-add@conv1", "attn-add@all"):
        assert comparison.accuracy(method) >= image + 0.35
    assert comparison.accuracy("attn-mul@conv1") >= image + 0.25
    assert comparison.accuracy("image", "small") <= 0.5  # it cannot tell which speck is meant
