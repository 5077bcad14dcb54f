"""Execute chapters in place, top to bottom, so their saved outputs are fresh.

    python tools/run_notebooks.py notebooks/01_*.ipynb

The saved outputs are what nbval compares for cells tagged ``nbval-check-output``; the book
itself re-executes every notebook when it is built.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbclient
import nbformat

# as the test suite sets them (conftest.py): OpenMP threads that spin while they wait stall
# each other when another process shares the cores, and bars redraw every 10 s
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TQDM_MININTERVAL", "10")

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def run(path: Path, timeout: int = 1200) -> float:
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    drop_unused_widget_state(notebook)
    nbformat.write(notebook, path)
    return time.perf_counter() - start


def drop_unused_widget_state(notebook: nbformat.NotebookNode) -> None:
    """Keep the saved state of ipywidgets only when an output still shows one of them: a
    progress bar that was closed leaves its state behind with nothing on the page to render it."""
    shown = any(
        WIDGET_VIEW in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )
    if not shown:
        notebook.metadata.pop("widgets", None)


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    for name in paths:
        seconds = run(Path(name))
        print(f"{name}: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
