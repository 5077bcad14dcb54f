"""Settings for every test run, the notebooks under nbval included (their kernels inherit them).

OpenMP threads that spin while they wait stall each other whenever another process shares the
two cores (a notebook kernel beside pytest, the book build's kernel): one chapter took 5x longer.
Passive waiting costs nothing when the machine is otherwise idle.
"""

import os
import shutil
import tempfile

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# nbval reads a cell's messages only once the cell has finished, and a kernel's iopub socket
# drops what is queued beyond ZeroMQ's limit (1000 by default). Chapter 6's five-minute cell,
# whose progress bars redraw ten times a second, failed once with "Timeout of 5 seconds exceeded
# waiting for output", most likely because its last messages were dropped. Bars that redraw
# every 10 s say the same in a fraction of the messages.
os.environ.setdefault("TQDM_MININTERVAL", "10")


# The book build (which trains every chapter's runs), tests/test_findings.py (which checks chapter
# 5's comparison, loading the runs the build saved) and tests/test_exercise_checks.py (which runs
# the chapters again on those runs, feeding every exercise check its typical mistakes) run in
# this order in one process. Every other file is a unit of its own (a notebook's cells share a
# kernel, a module's fixtures its process).
BOOK = ("test_book.py", "test_findings.py", "test_exercise_checks.py")
FIRST = {name: rank for rank, name in enumerate((*BOOK, "test_synthetic_source.py"))}


def pytest_report_header(config):
    """What the run has to work with, at the top of its report: a full disk or too few cores
    fail tests in ways that look like bugs."""
    data = os.environ.get("ROIATTN_DATA")
    folders = {"temporary files": tempfile.gettempdir(), "ROIATTN_DATA": data}
    free = [f"{shutil.disk_usage(path).free / 2**30:.1f} GiB free for {name} ({path})"
            for name, path in folders.items() if path and os.path.isdir(path)]  # fmt: skip
    return f"{os.cpu_count()} CPUs; " + "; ".join(free)


def pytest_collection_modifyitems(items):
    """Start the longest work first: the book build (about two thirds of the suite's time),
    then chapter 5's findings on the runs it saved, then the offline pass over the synthetic
    source."""
    items.sort(key=lambda item: FIRST.get(item.path.name, len(FIRST)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With pytest-xdist (``-n 2``, the default here), one process builds the book while the
    other runs everything else: units of work are whole files, in the order above, and the two
    book files are one unit. (xdist's own ``xdist_group`` marks do nothing under pytest 9.)"""
    from xdist.scheduler import LoadScopeScheduling

    class BookFirst(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return "book" if file.rsplit("/", 1)[-1] in BOOK else file

    return BookFirst(config, log)


def pytest_runtest_setup(item):
    """In the process that does not build the book, give way to it: the build is the longest
    unit, so the suite ends when it does (its chapters' kernels and the other tests' children
    inherit their process's priority)."""
    if os.environ.get("PYTEST_XDIST_WORKER") and item.path.name not in BOOK and os.nice(0) == 0:
        os.nice(5)
