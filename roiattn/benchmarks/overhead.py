"""``python -m roiattn bench overhead``: what the side branch costs in a training step.

``bench train`` with the bare backbone as the baseline (the profile's, or ``--arch``): forward +
backward + optimizer step of ``attn-add@conv1`` against the network it is built on, same batch,
interleaved in one run. Defaults to a batch of 8, which a CPU runs in seconds; every
``bench train`` option works here too.
"""

from __future__ import annotations

from roiattn.benchmarks import train


def main(argv: list[str] | None = None) -> int:
    # options given later on the command line override these defaults
    return train.main(
        ["--baseline", train.PLAIN, "--batch", "8", *(argv or [])],
        prog="python -m roiattn bench overhead",
        description=__doc__.split("\n")[0],
    )
