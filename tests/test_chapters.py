"""What every chapter promises a reader, checked on the saved notebooks: learning objectives, a
one-line profile summary, exercises whose solutions are code that runs, no measured number typed
into the prose, and no output that only makes sense on the machine that ran it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# Percentages the prose may quote because they are the paper author's claims, not measurements.
# the paper's reported accuracies, and the chosen level of the bootstrap intervals
QUOTED = {"83%", "82%", "95%"}
PERCENT = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?%")
POINTS = re.compile(r"(?<![\w.$])[+-]?\d+(?:\.\d+)?\s+points\b")
# what a warning leaves in a cell's stderr (matplotlib's font lookups, Python's warnings)
WARNING = re.compile(r"findfont: .*|\w*Warning\b.*")
MACHINE_PATH = re.compile(r"(?<![\w.$])/(?:work|tmp|home|root|Users|mnt|private|var)/[\w.\-/]+")


def cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text())["cells"]


def text(cell: dict) -> str:
    return "".join(cell["source"])


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_chapter_opens_with_what_the_reader_will_learn(notebook):
    first = text(cells(notebook)[0])
    assert first.startswith("# "), "a chapter starts with its title"
    assert "In this chapter you will" in first, "learning objectives at the top"
    objectives = [line for line in first.splitlines() if line.startswith("- ")]
    assert len(objectives) >= 3


# the chapters that train, and so offer to keep their runs on Google Drive
TRAINING = ("04_training_coco", "05_context_shapes", "06_soft_vs_hard", "07_why_attention_loses",
            "09_vision_transformer")  # fmt: skip


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_chapter_prints_a_one_line_profile_summary(notebook):
    code = [text(c) for c in cells(notebook) if c["cell_type"] == "code"]
    imports = code[2] if notebook.stem in TRAINING else code[1]
    assert "roiattn.profiles.summary()" in imports, "the imports cell prints the profile's line"
    assert not re.search(r"print\(profile\)", "\n".join(code)), "no 27-line profile dump"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_training_chapter_offers_google_drive_before_it_reads_any_data(notebook):
    """In Colab a disconnect wipes the disk: the cell after the install cell, visible, offers to
    keep $ROIATTN_DATA on Drive, and does nothing unless the reader turns it on."""
    code = [c for c in cells(notebook) if c["cell_type"] == "code"]
    offers = [i for i, c in enumerate(code) if "keep_on_drive()" in text(c)]
    if notebook.stem not in TRAINING:
        assert not offers
        return
    assert offers == [1] and not tags(code[1]), "one visible cell, right after the install cell"
    assert "KEEP_ON_DRIVE = False\nif KEEP_ON_DRIVE:" in text(code[1])
    assert "google.colab" in text(code[0])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_prose_states_no_measured_number(notebook):
    """A measured number belongs to the code that measured it (a hide-input cell displaying
    Markdown), so that it cannot disagree with the output above it after a re-run."""
    for index, cell in enumerate(cells(notebook)):
        if cell["cell_type"] != "markdown":
            continue
        source = text(cell)
        typed = [m for m in PERCENT.findall(source) if m.replace(" ", "") not in QUOTED]
        assert not typed, f"cell {index} types measured percentages {typed}: compute them"
        assert not POINTS.findall(source), f"cell {index} types a difference in points"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_has_a_solution_that_runs_and_prints(notebook):
    chapter = cells(notebook)
    prose = {i: text(c) for i, c in enumerate(chapter) if c["cell_type"] == "markdown"}
    starts = [i for i, source in prose.items() if re.search(r"^## Exercises", source, re.M)]
    assert starts, "a chapter ends with exercises"
    numbered = re.compile(r"^\*\*\d+\.\*\*", re.M)
    questions = [i for i, source in prose.items() if i >= starts[0] and numbered.search(source)]
    assert questions, "numbered exercises (**1.**, **2.**, ...)"
    for i in questions:
        solution = chapter[i + 1]
        assert solution["cell_type"] == "code", f"exercise in cell {i} has no code solution"
        assert "hide-cell" in tags(solution), "solutions are collapsed in the book"
        assert "print(" in text(solution), "a solution prints its observed answer"
        assert "nbval-skip" not in tags(solution), "solutions run under nbval"
    assert not any("<details>" in text(c) for c in chapter), "no solution left as unrun text"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_outputs_travel(notebook):
    """No absolute path of the machine that ran a chapter, no progress bar left part of the way
    (the library's bars leave their final state, or none), no list of loaded runs, and no
    warning text (a reader would take it for something gone wrong)."""
    for index, cell in enumerate(cells(notebook)):
        for output in cell.get("outputs", []):
            shown = json.dumps(output.get("text", "")) + json.dumps(output.get("data", {}))
            path = MACHINE_PATH.search(shown)
            assert path is None, f"cell {index} shows the machine path {path.group(0)}"
            for frame in progress_frames(output):
                assert frame == 100, f"cell {index} saved a progress bar stopped at {frame}%"
            printed = "".join(output.get("text", ""))
            loaded = printed.count("loaded from an earlier run")
            assert loaded <= 1, f"cell {index} lists {loaded} loaded runs one per line"
            warned = WARNING.search(printed) if output.get("name") == "stderr" else None
            assert warned is None, f"cell {index} saved warning text: {warned.group(0)!r}"


def shows_a_widget(notebook: Path) -> bool:
    """Whether a saved output of the chapter shows an ipywidget (a bar, a slider)."""
    return any(
        "application/vnd.jupyter.widget-view+json" in output.get("data", {})
        for cell in cells(notebook)
        for output in cell.get("outputs", [])
    )


def progress_frames(output: dict) -> list[int]:
    """The percentage of every progress bar an output shows in its final state: the last frame
    of each line (tqdm redraws a line with carriage returns)."""
    shown = "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
    frames = []
    for line in shown.split("\n"):
        drawn = [frame for frame in line.split("\r") if frame]
        bar = re.search(r"(\d+)%\|", drawn[-1]) if drawn else None
        if bar:
            frames.append(int(bar.group(1)))
    return frames


def test_the_shipped_results_hold_no_machine_path():
    for path in (ROOT / "roiattn" / "results").rglob("*.json"):
        found = MACHINE_PATH.search(path.read_text())
        assert found is None, f"{path.name} holds {found.group(0)}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_computed_prose_holds_no_control_character(notebook):
    """A backslash of LaTeX typed into a plain Python string becomes a control character
    (``"\\tfrac"`` a tab, ``"\\frac"`` a form feed, ``"\\beta"`` a backspace), and the equation
    it was part of no longer renders: computed Markdown shows none."""
    for index, cell in enumerate(cells(notebook)):
        for output in cell.get("outputs", []):
            shown = "".join(output.get("data", {}).get("text/markdown", ""))
            bad = sorted({repr(c) for c in shown if ord(c) < 32 and c != "\n"})
            assert not bad, f"cell {index} displays Markdown with control characters {bad}"


MAX_PROSE_LINES = 30


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_hidden_cells_that_write_prose_stay_short(notebook):
    """A hidden cell that writes a sentence from the numbers binds them into a template (with
    ``roiattn.wording`` for the verdicts); what does not depend on them is Markdown beside it. A
    cell past this length has become a paragraph generator a reader cannot check by eye."""
    for index, cell in enumerate(cells(notebook)):
        source = text(cell)
        if cell["cell_type"] == "code" and "hide-input" in tags(cell) and "Markdown(" in source:
            lines = len(source.splitlines())
            assert lines <= MAX_PROSE_LINES, f"cell {index} writes prose in {lines} lines"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_widget_state_is_saved_only_beside_a_widget_it_renders(notebook):
    """``tools/run_notebooks.py`` drops the state of widgets that no output shows (a closed
    progress bar): the page would carry it with nothing to render."""
    saved = json.loads(notebook.read_text())
    assert shows_a_widget(notebook) or "widgets" not in saved["metadata"], "widget state, no widget"


def test_the_teachers_page_counts_each_chapters_prose_and_exercises():
    """Its reading table is made from the chapters as they are: words of prose (Markdown cells),
    minutes at 150 words a minute, and exercises (check cells)."""
    page = (ROOT / "book" / "teachers.md").read_text()
    for notebook in NOTEBOOKS:
        chapter = cells(notebook)
        prose = " ".join(text(c) for c in chapter if c["cell_type"] == "markdown")
        words = len(re.findall(r"[A-Za-z]+(?:'[a-z]+)?", prose))
        exercises = sum("exercise-check" in tags(c) for c in chapter)
        row = f"| {int(notebook.stem[:2])} | {words:,} | {round(words / 150)} min | {exercises} |"
        assert row in page, f"{notebook.stem}: the teachers' page should read {row}"
