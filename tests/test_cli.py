"""The command line as a user runs it: train, evaluate, predict, compare, bench; help text; and
one clear line with exit code 2 for every bad argument or missing file."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from roiattn.benchmarks.timing import torch_threads
from roiattn.cli import build_parser, main

SMALL = ["--data", "shapes", "--shapes-train", "3", "--shapes-test", "2", "--image-size", "32",
         "--arch", "resnet18", "--epochs", "1", "--batch-size", "4", "--profile", "quick",
         "--no-progress"]  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


def run(argv):
    """Exit code of ``python -m roiattn argv`` run in this process."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as stop:  # argparse: --help, or a bad argument
        return stop.code


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "run"
    with torch_threads(1):
        code = run(["train", "attn-add@conv1", *SMALL, "--out", folder, "--checkpoint-every", "2"])
    assert code == 0
    return folder


def test_every_command_has_help(capsys):
    for command in ("train", "evaluate", "compare", "predict", "bench"):
        assert run([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert f"python -m roiattn {command}" in text
    assert run(["--help"]) == 0
    text = capsys.readouterr().out
    assert all(c in text for c in ("train", "evaluate", "compare", "predict", "bench"))
    train_help = build_parser().parse_args(["train", "image"])
    assert train_help.evaluate and train_help.progress


def test_train_writes_a_checkpoint_history_and_report(trained, capsys):
    assert {p.name for p in trained.iterdir()} == {"last.pt", "history.json", "report.json"}
    history = json.loads((trained / "history.json").read_text())
    assert history["method"] == "attn-add@conv1" and history["step"]
    report = json.loads((trained / "report.json").read_text())
    assert report["kind"] == "roiattn.report" and report["method"] == "attn-add@conv1"
    assert "ContextShapes" in report["data"]["description"]
    # resuming a finished run trains nothing more
    assert run(["train", "attn-add@conv1", *SMALL, "--out", trained, "--checkpoint-every", "2",
                "--resume", "--no-eval"]) == 0  # fmt: skip
    again = json.loads((trained / "history.json").read_text())
    assert again["loss"] == history["loss"]
    assert "profile quick+" in capsys.readouterr().out


def test_evaluate_a_checkpoint_on_the_data_it_was_trained_on(trained, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert run(["evaluate", trained, "--shapes-test", "2", "--no-progress", "--json", out,
                "--bins", "20,100"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "model: attn-add@conv1 (resnet18)" in text
    assert "ContextShapes(n_images=2, image_size=32, seed=1)" in text  # the model's size
    assert "| <20 |" in text and "| >=100 |" in text
    saved = json.loads(out.read_text())
    assert list(saved["size_bins"]) == ["custom", "coco"]
    # the same numbers as the report written at training time (same test scenes)
    assert saved["items"] == json.loads((trained / "report.json").read_text())["items"]


def test_predict_with_a_mask_file_or_a_box(trained, tmp_path, capsys):
    from roiattn.data import ContextShapes

    scenes = ContextShapes(1, 32, 7)
    Image.fromarray(scenes.scene_image(0)).save(tmp_path / "scene.png")
    mask = scenes.object_mask(0).astype(np.uint8) * 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    assert run(["predict", trained, tmp_path / "scene.png", tmp_path / "mask.png",
                "--top-k", "3"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    probabilities = [float(line.split()[0]) for line in lines]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(line.split()[1] in scenes.classes for line in lines)
    assert run(["predict", trained, tmp_path / "scene.png", "--box", 2, 2, 12, 12]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 5


def test_train_and_evaluate_on_a_coco_folder(coco_root, tmp_path, capsys):
    """coco-mini when it is there (else the synthetic COCO folder of conftest)."""
    common = ["--data", "coco", "--coco-root", coco_root, "--test-split", "val2017",
              "--max-test", "6", "--image-size", "32", "--no-progress",
              "--profile", "quick"]  # fmt: skip
    assert run(["train", "mask-channel", *common, "--train-split", "val2017", "--max-train", "8",
                "--arch", "resnet18", "--epochs", "1", "--batch-size", "4", "--balanced",
                "--out", tmp_path / "run"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "train: COCORegions val2017" in text and "[a subset: 8 of" in text
    assert "| size (paper) |" in text and "| size (coco) |" in text
    assert run(["evaluate", tmp_path / "run", *common]) == 0
    assert "test: COCORegions val2017" in capsys.readouterr().out


def test_compare_prints_the_table_and_reuses_runs(tmp_path, capsys):
    argv = ["compare", "image", "hard@input", *SMALL, "--results", tmp_path, "--max-steps", "1"]
    assert run(argv) == 0
    text = capsys.readouterr().out
    assert "| method | small | large | overall | mean class |" in text
    assert "| image |" in text and "| hard@input |" in text
    saved = json.loads((tmp_path / "comparison.json").read_text())
    assert saved["methods"] == ["image", "hard@input"]
    assert run([*argv, "--name", "again"]) == 0
    assert sorted(json.loads((tmp_path / "again.json").read_text())["provenance"]["cached"]) == [
        "hard@input",
        "image",
    ]


def test_bench_train_runs_small(capsys):
    assert run(["bench", "train", "--profile", "quick", "--arch", "resnet18", "--batch", "2",
                "--size", "32", "--steps", "1", "--warmup", "1"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "images/s" in text and "throughput ratio attn-add@conv1 / image" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "attn-div@conv1", *SMALL], "unknown method 'attn-div@conv1'"),
        (["train", "image", *SMALL, "--arch", "vgg16"], "unknown --arch 'vgg16'"),
        (["train", "image", "--epochs", "0"], "argument --epochs: must be > 0"),
        (["train", "image", "--lr", "fast"], "argument --lr: expected float"),
        (["train", "image", "--data", "imagenet"], "argument --data: invalid choice"),
        (["train", "image", *SMALL, "--device", "tpu"], "unknown device 'tpu'"),
        (["train", "image", "--data", "coco", "--coco-root", "/no/such/coco"], "/no/such/coco"),
        (["evaluate", "/no/such/run"], "no checkpoint at /no/such/run"),
        (["evaluate", "{run}", "--bins", "10,x"], "--bins must be paper, coco or upper edges"),
        (["predict", "{run}", "/no/image.png", "{run}/x.png"], "image file /no/image.png"),
        (["predict", "{run}", "{image}"], "either as a MASK image or as --box"),
        (["predict", "{run}", "{image}", "--box", "0", "0", "99", "5"], "must lie inside"),
        (["predict", "{run}", "{image}", "{run}/history.json"], "cannot read the mask file"),
        (["compare", "image", "image", *SMALL], "distinct method ids"),
        (["bench", "nothing"], "argument which: invalid choice"),
    ],
)
def test_bad_arguments_end_with_one_clear_line(argv, message, trained, tmp_path, capsys):
    image = tmp_path / "image.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(image)
    argv = [str(a).format(run=trained, image=image) for a in argv]
    assert run(argv) == 2
    error = capsys.readouterr().err
    assert message in error
    assert "Traceback" not in error


def test_a_missing_file_from_the_shell_gives_no_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "roiattn", "predict", str(tmp_path / "none.pt"), "a.png", "b.png"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"python -m roiattn predict: error: no checkpoint at {tmp_path / 'none.pt'}: give the "
        "file a training run wrote (its --out folder holds last.pt)"
    ]
