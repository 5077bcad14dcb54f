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

    By then ``tests/test_findings.py`` has trained chapter 5's comparison into
    ``$ROIATTN_DATA/results``, and the book build, which executes every chapter on the COCO
    source, loads it instead of training it a second time (the offline nbval pass of
    ``tests/test_synthetic_source.py`` trains the COCO chapters on its own synthetic data).
    """
    items.sort(key=lambda item: item.path.name == "test_book.py")
