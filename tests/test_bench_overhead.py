"""`python -m roiattn bench overhead` runs end to end and reports a ratio against the bare
backbone, on a torchvision ResNet and on the quick profile's own small one."""

import re
import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "roiattn", "bench", "overhead", *args],
        capture_output=True,
        text=True,
    )


def test_overhead_benchmark_times_both_models_and_prints_their_ratio():
    result = run("--arch", "resnet18", "--size", "32", "--batch", "2", "--steps", "2",
                 "--warmup", "1", "--device", "cpu")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "backbone: median" in result.stdout
    assert "attn-add@conv1: median" in result.stdout
    ratio = re.search(r"ratio attn-add@conv1 / backbone: ([0-9.]+)", result.stdout)
    assert ratio and float(ratio.group(1)) > 0


def test_overhead_benchmark_runs_on_the_quick_profiles_backbone():
    result = run("--profile", "quick", "--size", "32", "--steps", "2", "--warmup", "1",
                 "--device", "cpu")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "resnet10_w32" in result.stdout and "ratio attn-add@conv1 / backbone:" in result.stdout


def test_overhead_benchmark_refuses_bad_arguments():
    result = run("--batch", "0")
    assert result.returncode == 2 and "--batch" in result.stderr
