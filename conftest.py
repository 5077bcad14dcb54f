"""Settings for every test run, the notebooks under nbval included (their kernels inherit them).

OpenMP threads that spin while they wait stall each other whenever another process shares the
two cores (a notebook kernel beside pytest, the book build's kernel): one chapter took 5x longer.
Passive waiting costs nothing when the machine is otherwise idle.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
