"""The student edition: one command makes it, every solution is gone, every check is there, and
a student chapter runs with its checks failing exactly where an exercise is unanswered, in the
words of the check."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def tagged(cell, tag: str) -> bool:
    return tag in cell.metadata.get("tags", [])


def solutions(notebook) -> list[str]:
    """The solution cells' sources: the cells right before the check cells."""
    cells = notebook.cells
    return [cells[i - 1].source for i, c in enumerate(cells) if tagged(c, "exercise-check")]


def prompts(notebook) -> list[str]:
    """The exercise numbers, as the prompts after the chapter's Exercises heading give them."""
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    return re.findall(r"^\*\*(\d+)\.\*\*", text.split("## Exercises", 1)[1], re.M)


def assigned(source: str) -> set[str]:
    """The names a code cell binds in the notebook's namespace (not inside functions)."""
    names, todo = set(), list(ast.parse(source).body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            names.add(getattr(node, "name", ""))
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        todo.extend(ast.iter_child_nodes(node))
    return names


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_answer_name_is_taken_before_the_exercises(notebook):
    """A check finds an answer by its name: if the chapter had bound that name already, the
    student edition would judge the chapter's value instead of saying "not answered yet"."""
    cells = nbformat.read(notebook, as_version=4).cells
    start = next(i for i, c in enumerate(cells) if "## Exercises" in c.source)
    taken = set().union(*(assigned(c.source) for c in cells[:start] if c.cell_type == "code"))
    for i, cell in enumerate(cells):
        if tagged(cell, "exercise-check"):
            prompt = cells[i - 2].source
            asked = re.findall(r"`([A-Za-z_]\w*)`", prompt[prompt.rindex("Keep") :])
            answers = {name for name in asked if re.search(rf"\b{name}\b", cell.source)}
            assert answers, f"cell {i}: the prompt names no variable that the check reads"
            assert not answers & taken, f"cell {i}: {answers & taken} is bound before the exercises"


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student")
    done = subprocess.run([sys.executable, "tools/make_student_edition.py", str(out)],
                          cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_keeps_its_check_and_loses_its_solution(edition, notebook):
    teacher = nbformat.read(notebook, as_version=4)
    student = nbformat.read(edition / notebook.name, as_version=4)
    numbers = prompts(teacher)
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)] and numbers
    checks = [c.source for c in teacher.cells if tagged(c, "exercise-check")]
    assert len(checks) == len(numbers), "every exercise has one check cell"
    assert [c.source for c in student.cells if tagged(c, "exercise-check")] == checks
    answers = [i for i, c in enumerate(student.cells) if tagged(c, "exercise-answer")]
    assert len(answers) == len(numbers)
    assert all(tagged(student.cells[i + 1], "exercise-check") for i in answers)
    sources, solved = {c.source for c in student.cells}, solutions(teacher)
    assert not [s for s in solved if s in sources], "a solution survived"
    # the rest of the chapter is the book's, without outputs and without the Colab badge
    assert len(student.cells) == len(teacher.cells)
    assert all(c.outputs == [] for c in student.cells if c.cell_type == "code")
    assert "colab.research.google.com" not in student.cells[0].source
    kept = [c.source for c in teacher.cells[1:] if c.source not in solved]
    assert kept == [c.source for c in student.cells[1:] if not tagged(c, "exercise-answer")]


@pytest.mark.slow
def test_a_student_chapter_runs_and_fails_only_the_checks_of_unanswered_exercises(edition):
    """Chapter 1 of the student edition, run top to bottom as nbval does: exercise 2 answered
    with the book's solution passes, exercise 1 answered wrongly fails as wrong, and the others
    fail as unanswered; nothing else fails."""
    teacher = nbformat.read(ROOT / "notebooks" / "01_masks.ipynb", as_version=4)
    student = nbformat.read(edition / "01_masks.ipynb", as_version=4)
    answers = [i for i, c in enumerate(student.cells) if tagged(c, "exercise-answer")]
    student.cells[answers[0]].source = 'square_lost = {"nearest": 0, "bilinear": 0}'
    student.cells[answers[1]].source = solutions(teacher)[1]
    NotebookClient(student, timeout=600, allow_errors=True,
                   resources={"metadata": {"path": str(edition)}}).execute()  # fmt: skip
    errors = {
        i: output
        for i, cell in enumerate(student.cells)
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    }
    checks = [i for i, c in enumerate(student.cells) if tagged(c, "exercise-check")]
    assert sorted(errors) == [checks[0], *checks[2:]], {i: e.evalue for i, e in errors.items()}
    assert errors[checks[0]].ename == "WrongAnswer"
    for i in checks[2:]:
        assert errors[i].ename == "NotAnswered"
        assert "is not answered yet" in errors[i].evalue and "Wanted:" in errors[i].evalue
    passed = "".join(o.get("text", "") for o in student.cells[checks[1]].outputs)
    assert "Exercise 2: the answer passes the check." in passed
