"""The one check every dataset makes of an index: an int within range, negatives from the end."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_index(index: Any, n: int, what: str = "item", unit: str = "items") -> int:
    """``index`` as a plain int in ``range(n)``, counting negatives from the end as lists do.

    Raises TypeError for anything but an int (bools too) and IndexError out of range, the errors
    a Python sequence raises, so a DataLoader or a loop over the dataset stops where it should.
    """
    if isinstance(index, bool) or not isinstance(index, int | np.integer):
        raise TypeError(f"{what} index must be an int, got {index!r}")
    if not -n <= index < n:
        raise IndexError(f"{what} {index} out of range for {n} {unit}")
    return int(index) % n
