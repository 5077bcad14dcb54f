"""The command line as a user runs it: train, evaluate, predict, compare, bench, each on one of
the book's experiments with options that change it; help text; and one clear line with exit
code 2 for every bad argument or missing file."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import make_synthetic_coco
from roiattn import experiments
from roiattn.benchmarks.timing import torch_threads
from roiattn.cli import build_parser, experiment_from, main

SMALL = ["--experiment", "shapes", "--profile", "quick", "--train-scenes", "3",
         "--test-scenes", "2", "--image-size", "32", "--arch", "resnet10_w32", "--epochs", "1",
         "--batch-size", "4", "--no-progress"]  # fmt: skip
COMMANDS = ("train", "evaluate", "compare", "predict", "bench")


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
    for command in COMMANDS:
        assert run([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert f"python -m roiattn {command}" in text
    assert run(["--help"]) == 0
    text = capsys.readouterr().out
    assert all(c in text for c in COMMANDS)
    for command in ("train", "compare"):  # the experiment and what changes it
        assert run([command, "--help"]) == 0
        text = capsys.readouterr().out
        for flag in ("--experiment", "--profile", "--epochs", "--lr", "--branch-lr-scale",
                     "--seeds", "--max-steps", "--image-size", "--max-train", "--max-test",
                     "--categories", "--coco-root", "--train-scenes", "--test-scenes", "--arch",
                     "--weights", "--mask-resize"):  # fmt: skip
            assert flag in text, (command, flag)
        assert "--data " not in text and "--balanced" not in text and "--name" not in text
    assert run(["compare", "--help"]) == 0
    assert "--metric" in capsys.readouterr().out
    train_help = build_parser().parse_args(["train", "image"])
    assert train_help.evaluate and train_help.progress


def test_options_change_the_experiment_they_name():
    parser = build_parser()
    args = parser.parse_args(["compare", *SMALL, "--seeds", "0,1", "--lr", "0.01",
                              "--branch-lr-scale", "10", "--max-steps", "5",
                              "--mask-resize", "max", "--weights", "none"])  # fmt: skip
    experiment = experiment_from(args)
    assert experiment.name == "shapes" and experiment.profile == "quick"
    assert experiment.data.train_scenes == 3 and experiment.data.test_scenes == 2
    assert experiment.data.image_size == 32 and experiment.arch == "resnet10_w32"
    assert experiment.seeds == (0, 1) and experiment.weights is None
    training = experiment.training
    assert (training.lr, training.branch_lr_scale, training.max_steps) == (0.01, 10, 5)
    assert (training.epochs, training.batch_size) == (1, 4)
    assert experiment.model_options == {"mask_resize": "max"}
    # no option: the experiment exactly as the chapter defines it
    plain = experiment_from(parser.parse_args(["compare", "--experiment", "coco",
                                               "--profile", "colab"]))  # fmt: skip
    assert plain == experiments.coco("colab") and plain.variant == ""
    categories = parser.parse_args(["compare", "--profile", "quick", "--categories", "cup, car"])
    assert experiment_from(categories).data.categories == ("cup", "car")  # coco by default


def test_train_writes_a_checkpoint_history_and_report(trained, capsys):
    assert {p.name for p in trained.iterdir()} == {"last.pt", "history.json", "report.json"}
    history = json.loads((trained / "history.json").read_text())
    assert history["method"] == "attn-add@conv1" and history["step"] == [1, 2, 3]
    report = json.loads((trained / "report.json").read_text())
    assert report["kind"] == "roiattn.report" and report["method"] == "attn-add@conv1"
    assert "ContextShapes" in report["data"]["description"]
    assert list(report["size_bins"]) == ["shapes", "coco"]  # the world's own bins first
    # resuming a finished run trains nothing more
    assert run(["train", "attn-add@conv1", *SMALL, "--out", trained, "--checkpoint-every", "2",
                "--resume", "--no-eval"]) == 0  # fmt: skip
    again = json.loads((trained / "history.json").read_text())
    assert again["loss"] == history["loss"]
    text = capsys.readouterr().out
    assert "shapes/quick [" in text and "train_scenes=3, test_scenes=2]" in text  # changed
    assert "train: ContextShapes(n_images=3, image_size=32, seed=100)" in text


def test_evaluate_a_checkpoint_on_the_data_it_was_trained_on(trained, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert run(["evaluate", trained, "--test-scenes", "2", "--no-progress", "--json", out,
                "--bins", "20,100"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "model: attn-add@conv1 (resnet10_w32)" in text
    assert "ContextShapes(n_images=2, image_size=32, seed=101)" in text  # the model's size
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


@pytest.fixture(scope="module")
def coco_both(coco_root, tmp_path_factory):
    """A COCO folder with train2017 and val2017, and categories it holds: coco-mini when it is
    there, else a synthetic folder with both splits."""
    if (coco_root / "annotations" / "instances_train2017.json").is_file():
        return coco_root, "person,car,chair,cup"
    root = tmp_path_factory.mktemp("cli-coco")
    make_synthetic_coco(root, "train2017", n_images=10, seed=1)
    make_synthetic_coco(root, "val2017", n_images=6, seed=2)
    return root, "disc,square,triangle"


def test_train_and_evaluate_on_a_coco_folder(coco_both, tmp_path, capsys):
    """coco-mini when it is there (else a synthetic COCO folder with both splits)."""
    root, categories = coco_both
    common = ["--experiment", "coco", "--coco-root", root, "--categories", categories,
              "--max-test", "6", "--image-size", "32", "--no-progress",
              "--profile", "quick"]  # fmt: skip
    assert run(["train", "mask-channel", *common, "--max-train", "8", "--arch", "resnet10_w32",
                "--epochs", "1", "--batch-size", "4", "--out", tmp_path / "run"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "coco/quick [" in text and "class-balanced" in text
    assert "train: COCORegions train2017" in text and "[8 of" in text
    assert "| size (paper) |" in text and "| size (coco) |" in text
    assert run(["evaluate", tmp_path / "run", *common, "--json", tmp_path / "again.json"]) == 0
    text = capsys.readouterr().out
    assert "test: COCORegions val2017" in text and "[6 of" in text
    # the same six test regions and predictions as at the end of training
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["items"] == json.loads((tmp_path / "run" / "report.json").read_text())["items"]


def test_compare_prints_the_table_and_reuses_runs(tmp_path, capsys):
    argv = ["compare", "image", "hard@input", *SMALL, "--results", tmp_path, "--max-steps", "1"]
    assert run(argv) == 0
    text = capsys.readouterr().out
    assert "| method | seeds | small | large | overall | mean class |" in text
    assert "| image | 1 |" in text and "| hard@input | 1 |" in text
    assert "| *chance (1/6)* |" in text and "mean class accuracy within the bin" in text
    (path,) = tmp_path.glob("*.json")
    assert path.name.startswith("shapes-quick-") and f"saved {path}" in text
    saved = json.loads(path.read_text())
    assert saved["methods"] == ["image", "hard@input"]
    assert saved["provenance"]["cached"] == []
    # again, showing top-1 accuracy: the runs are loaded, the same file written
    assert run([*argv, "--metric", "accuracy"]) == 0
    text = capsys.readouterr().out
    assert "top-1 accuracy within the bin" in text
    assert list(tmp_path.glob("*.json")) == [path]
    saved = json.loads(path.read_text())
    assert saved["provenance"]["cached"] == ["hard@input@0", "image@0"]
    # a changed experiment is saved under a name of its own; --retrain trains again
    assert run([*argv, "--seeds", "0,1", "--retrain"]) == 0
    (other,) = set(tmp_path.glob("*.json")) - {path}
    assert other.name.startswith("shapes-quick-") and "-seeds-0-1-" in other.name
    assert json.loads(other.read_text())["provenance"]["cached"] == []


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
        (["train", "image", "--max-train", "0"], "argument --max-train: must be > 0"),
        (["train", "image", "--seeds", "0,x"], "argument --seeds: give seeds as ints"),
        (["train", "image", "--seeds", "0,-1"], "argument --seeds: seeds must be >= 0"),
        (["train", "image", "--categories", ","], "argument --categories: give names"),
        (["train", "image", "--experiment", "imagenet"], "argument --experiment: invalid choice"),
        (["train", "image", "--profile", "fast"], "argument --profile: invalid choice"),
        (["compare", "--mask-resize", "cubic"], "argument --mask-resize: invalid choice"),
        (["compare", "--metric", "top5"], "argument --metric: invalid choice"),
        (["compare", "--data", "shapes"], "unrecognized arguments: --data"),
        (["compare", *SMALL, "--balanced"], "unrecognized arguments: --balanced"),
        (["train", "image", *SMALL, "--categories", "cup"], "ShapesData has no ['categories']"),
        (["train", "image", *SMALL, "--device", "tpu"], "unknown device 'tpu'"),
        (
            ["train", "image", "--experiment", "coco", "--coco-root", "/no/such/coco"],
            "/no/such/coco",
        ),
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
    assert message in error.strip().splitlines()[-1]  # the last line says what is wrong


def test_compare_under_torchrun_says_to_use_train(monkeypatch, capsys):
    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2",
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    from roiattn import distributed

    assert distributed.launched_by_torchrun()
    assert run(["compare", *SMALL]) == 2
    error = capsys.readouterr().err
    assert error.strip() == (
        "python -m roiattn compare: error: compare runs in one process: use torchrun with "
        "'train' instead"
    )


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


def test_compare_runs_the_transformer_experiment_of_chapter_9(tmp_path, capsys):
    argv = ["compare", "mask-attn", "drop-tokens", "--experiment", "shapes-vit", "--profile",
            "quick", "--train-scenes", "3", "--test-scenes", "2", "--epochs", "1", "--batch-size",
            "4", "--no-progress", "--results", tmp_path, "--max-steps", "1"]  # fmt: skip
    assert run(argv) == 0
    text = capsys.readouterr().out
    assert "| mask-attn | 1 |" in text and "| drop-tokens | 1 |" in text
    (path,) = tmp_path.glob("*.json")
    saved = json.loads(path.read_text())
    assert path.name.startswith("shapes-vit-quick-")
    assert saved["provenance"]["experiment"]["arch"] == "vit4_w96_p8"
    # a method that needs tokens, on the CNN experiment: refused with the reason
    assert run(["compare", "mask-attn", *SMALL, "--results", tmp_path]) == 2
    assert "restricts a transformer's attention" in capsys.readouterr().err
