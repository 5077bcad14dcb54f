"""Make the student edition of the chapters: every exercise's solution removed, its check kept.

    python tools/make_student_edition.py [OUT]      # default: _build/student

Each chapter's exercises end the notebook: a prompt that names the variables the answer goes
in, the solution (a collapsed code cell), and a check cell (``roiattn.exercises.check``). The
student edition keeps the chapter and the checks, and puts an empty answer cell where each
solution was; run top to bottom, every check of an unanswered exercise fails with
``NotAnswered`` and says what it wants, and passes once the answer is there. Outputs are
cleared (students run the chapter themselves) and the Colab badge, which opens the edition with
the solutions, is left out.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from set_repository import BADGE  # the Colab badge line that tool writes under each title

ROOT = Path(__file__).resolve().parents[1]
CHECK_TAG = "exercise-check"
ANSWER_TAG = "exercise-answer"


def is_check(cell) -> bool:
    return cell.cell_type == "code" and CHECK_TAG in cell.metadata.get("tags", [])


def student_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student edition of one chapter (a new notebook; ``notebook`` is not changed)."""
    cells = []
    for index, cell in enumerate(notebook.cells):
        following = notebook.cells[index + 1] if index + 1 < len(notebook.cells) else None
        if following is not None and is_check(following):
            if cell.cell_type != "code":
                raise ValueError(f"cell {index} before a check cell is not a solution")
            number = len([c for c in cells if ANSWER_TAG in c.metadata.get("tags", [])]) + 1
            cell = nbformat.v4.new_code_cell(
                f"# Exercise {number}: your answer here (the check below names what it looks for)",
                metadata={"tags": [ANSWER_TAG]},
            )  # fmt: skip
        else:
            cell = nbformat.from_dict(dict(cell))
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
                cell.metadata.pop("execution", None)
        if cell.cell_type == "markdown":
            cell.source = BADGE.sub("", cell.source)
        cells.append(cell)
    student = nbformat.v4.new_notebook(cells=cells, metadata=dict(notebook.metadata))
    student.metadata.pop("widgets", None)
    return student


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print(__doc__)
        return 2
    out = Path(argv[0]) if argv else ROOT / "_build" / "student"
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        student = student_notebook(nbformat.read(path, as_version=4))
        nbformat.write(student, out / path.name)
        answers = sum(ANSWER_TAG in c.metadata.get("tags", []) for c in student.cells)
        print(f"{path.name}: {answers} exercises, solutions removed")
    print(f"student edition in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
