"""`python -m roiattn bench overhead` runs end to end and reports a ratio."""

import re
import subprocess
import sys


def test_overhead_benchmark_prints_both_models_and_their_ratio():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "roiattn",
            "bench",
            "overhead",
            "--arch",
            "resnet18",
            "--size",
            "32",
            "--batch",
            "2",
            "--rounds",
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "plain: median" in result.stdout and "attn-add@conv1: median" in result.stdout
    ratio = float(re.search(r"ratio attn-add@conv1 / plain: ([0-9.]+)", result.stdout).group(1))
    assert ratio > 0


def test_overhead_benchmark_refuses_bad_arguments():
    result = subprocess.run(
        [sys.executable, "-m", "roiattn", "bench", "overhead", "--batch", "0"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "--batch" in result.stderr
