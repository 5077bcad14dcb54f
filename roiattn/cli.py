"""The command line: ``python -m roiattn {train,evaluate,compare,predict,bench}``."""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "overhead": "training-step time of attn-add@conv1 against its plain backbone",
    "data": "COCORegions items/s against bare JPEG decode + resize",
    "train": "training throughput (images/s) of attn-add@conv1 against its backbone",
}


def _bench(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"roiattn.benchmarks.{args.which}")
    return module.main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m roiattn",
        description="Region classification with an ROI mask as a second input (Eppel 2018).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bench = commands.add_parser(
        "bench",
        help="run a benchmark",
        description="Benchmarks: "
        + "; ".join(f"{name}: {what}" for name, what in BENCHMARKS.items()),
    )
    bench.add_argument("which", choices=sorted(BENCHMARKS), help="which benchmark")
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="its own options (try --help)")
    bench.set_defaults(func=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
