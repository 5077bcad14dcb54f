"""Settings for every test run, the notebooks under nbval included (their kernels inherit them).

OpenMP threads that spin while they wait stall each other whenever another process shares the
two cores (a notebook kernel beside pytest, the book build's kernel): one chapter took 5x longer.
Passive waiting costs nothing when the machine is otherwise idle.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pytest_collection_modifyitems(items):
    """Build the book and check its pages last (a stable sort keeps every other order).

    By then the package tests and the chapters under nbval have trained the comparisons the
    chapters show into ``$ROIATTN_DATA/results``, and the book build, which executes every
    chapter again, loads them instead of training them a second time.
    """
    items.sort(key=lambda item: item.path.name == "test_book.py")
