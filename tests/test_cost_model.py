"""The GPU profile fits one free Colab session by the cost model written down in
book/running.md, and the page shows the model's own table."""

import importlib.util
from pathlib import Path

import pytest

from roiattn import profiles

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("cost_model", ROOT / "tools" / "cost_model.py")
cost_model = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cost_model)


def minutes(profile_name):
    profile = profiles.get(profile_name)
    return {
        chapter: sum(cost_model.chapter_seconds(profile, runs, download=i == 0).values()) / 60
        for i, (chapter, runs) in enumerate(cost_model.CHAPTER_RUNS.items())
    }


def test_each_training_chapter_of_the_colab_profile_fits_half_an_hour_on_a_t4():
    colab = minutes("colab")
    assert set(colab) == set(cost_model.CHAPTER_RUNS) and len(colab) == 5
    assert max(colab.values()) <= 30 and sum(colab.values()) <= 120
    # the paper's scale is what does not fit: the model tells the two apart
    paper = minutes("paper")
    assert all(paper[c] > colab[c] for c in colab) and max(paper.values()) > 120


def test_the_model_counts_steps_as_fit_does_and_grows_with_the_work():
    profile = profiles.get("colab")
    base = cost_model.chapter_seconds(profile, {"coco": 10}, download=False)
    double = cost_model.chapter_seconds(profile, {"coco": 20}, download=False)
    assert double["training"] == pytest.approx(2 * base["training"])
    assert double["reading"] == base["reading"]  # read once, kept in memory
    assert base["download"] == 0
    assert cost_model.chapter_seconds(profile, {"coco": 1}, download=True)["download"] > 0
    # a larger image costs more a step, and a tiny one the floor of a step's kernel launches
    assert cost_model.step_seconds("resnet50", 224, 64) == pytest.approx(64 / 250)
    assert cost_model.step_seconds("resnet50", 128, 64) < cost_model.step_seconds(
        "resnet50", 224, 64
    )
    assert cost_model.step_seconds("resnet50", 16, 64) == cost_model.STEP_FLOOR_SECONDS


def test_running_the_book_shows_the_models_table():
    page = (ROOT / "book" / "running.md").read_text()
    assert cost_model.table(profiles.get("colab")) in page
    assert "estimates, not measurements on a T4" in page


def test_the_teachers_page_quotes_the_models_totals():
    colab = minutes("colab")
    page = " ".join((ROOT / "book" / "teachers.md").read_text().split())
    total, largest = round(sum(colab.values())), round(max(colab.values()))
    assert f"take about {total} minutes in all, none more than about {largest}." in page
