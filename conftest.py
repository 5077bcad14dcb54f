"""Settings for every test run, the notebooks under nbval included (their kernels inherit them).

OpenMP threads that spin while they wait stall each other whenever another process shares the
two cores (a notebook kernel beside pytest, the book build's kernel): one chapter took 5x longer.
Passive waiting costs nothing when the machine is otherwise idle.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# nbval reads a cell's messages only once the cell has finished, and a kernel's iopub socket
# drops what is queued beyond ZeroMQ's limit (1000 by default). Chapter 6's five-minute cell,
# whose progress bars redraw ten times a second, failed once with "Timeout of 5 seconds exceeded
# waiting for output", most likely because its last messages were dropped. Bars that redraw
# every 10 s say the same in a fraction of the messages.
os.environ.setdefault("TQDM_MININTERVAL", "10")


def pytest_collection_modifyitems(items):
    """Build the book and check its pages last (a stable sort keeps every other order).

    By then the package tests and the chapters under nbval have trained the comparisons the
    chapters show into ``$ROIATTN_DATA/results``, and the book build, which executes every
    chapter again, loads them instead of training them a second time.
    """
    items.sort(key=lambda item: item.path.name == "test_book.py")
