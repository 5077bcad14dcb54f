"""Checkpoints: a killed run resumes to exactly the weights of an uninterrupted one; writes are
atomic; a checkpoint rebuilds its model alone; bad files and changed settings are refused."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from synthetic_regions import TinyRegions

from roiattn.benchmarks.timing import torch_threads
from roiattn.checkpoints import (
    CheckpointError,
    load_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)
from roiattn.models import build_model
from roiattn.train import fit

TESTS = Path(__file__).parent
# 24 items in batches of 4: 6 steps an epoch, 12 in all; a checkpoint every 4 steps
RUN = dict(epochs=2, batch_size=4, lr=1e-3, checkpoint_every=4, seed=7, progress=False)


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


def fresh_model(seed=0):
    torch.manual_seed(seed)
    return build_model("attn-mul@conv1", "resnet18", num_classes=3)


def data():
    return TinyRegions(24), TinyRegions(8, seed=1)


class Killed(Exception):
    pass


def kill_at(step_to_die):
    def on_step(step, model, loss):
        if step == step_to_die:
            raise Killed

    return on_step


@pytest.fixture(scope="module")
def uninterrupted():
    with torch_threads(1):
        model = fresh_model()
        history = fit(model, *data(), **RUN)
    return model.state_dict(), history


def assert_same_run(model, history, uninterrupted):
    state, expected = uninterrupted
    for name, value in model.state_dict().items():
        assert torch.equal(value, state[name]), name
    assert history.step == expected.step
    assert history.loss == expected.loss
    assert history.lr == expected.lr
    for mine, theirs in zip(history.epochs, expected.epochs, strict=True):
        assert (mine.train_loss, mine.train_accuracy, mine.val_accuracy) == (
            theirs.train_loss,
            theirs.train_accuracy,
            theirs.val_accuracy,
        )


def test_a_run_stopped_mid_epoch_resumes_to_the_same_weights(tmp_path, uninterrupted):
    with pytest.raises(Killed):
        fit(fresh_model(), *data(), checkpoint_dir=tmp_path, on_step=kill_at(10), **RUN)
    saved = load_checkpoint(tmp_path)
    assert (saved["step"], saved["epoch"], saved["training"]["done_in_epoch"]) == (8, 1, 2)
    # another initialisation, to show that everything comes from the checkpoint
    model = fresh_model(seed=123)
    history = fit(model, *data(), checkpoint_dir=tmp_path, resume=True, **RUN)
    assert_same_run(model, history, uninterrupted)
    # resuming a finished run changes nothing
    again = fresh_model(seed=5)
    assert fit(again, *data(), checkpoint_dir=tmp_path, resume=True, **RUN).loss == history.loss
    assert torch.equal(again.backbone.fc.weight, model.backbone.fc.weight)


def test_a_killed_process_resumes_to_the_same_weights(tmp_path, uninterrupted):
    script = textwrap.dedent(
        f"""
        import os, signal, sys, torch
        sys.path.insert(0, {str(TESTS)!r})
        from synthetic_regions import TinyRegions
        from roiattn.models import build_model
        from roiattn.train import fit
        torch.set_num_threads(1)
        torch.manual_seed(0)
        model = build_model("attn-mul@conv1", "resnet18", num_classes=3)

        def on_step(step, model, loss):
            if step == 7:
                os.kill(os.getpid(), signal.SIGKILL)

        fit(model, TinyRegions(24), TinyRegions(8, seed=1), checkpoint_dir={str(tmp_path)!r},
            on_step=on_step, **{RUN!r})
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert load_checkpoint(tmp_path)["step"] == 6  # the end of the first epoch
    assert not [p for p in tmp_path.iterdir() if p.name != "last.pt"]  # no temporary files
    model = fresh_model(seed=99)
    history = fit(model, *data(), checkpoint_dir=tmp_path, resume=True, **RUN)
    assert_same_run(model, history, uninterrupted)


def test_resuming_with_other_settings_is_refused(tmp_path):
    fit(fresh_model(), TinyRegions(8), epochs=1, batch_size=4, checkpoint_dir=tmp_path,
        progress=False)  # fmt: skip
    with pytest.raises(CheckpointError, match=r"batch_size: 4 then, 2 now"):
        fit(fresh_model(), TinyRegions(8), epochs=1, batch_size=2, checkpoint_dir=tmp_path,
            resume=True, progress=False)  # fmt: skip
    other = build_model("attn-add@conv1", "resnet18", num_classes=3)
    with pytest.raises(CheckpointError, match="attn-mul@conv1.*this run trains"):
        fit(other, TinyRegions(8), epochs=1, batch_size=4, checkpoint_dir=tmp_path,
            resume=True, progress=False)  # fmt: skip


def test_a_sampler_that_is_not_reproducible_is_caught_on_resume(tmp_path):
    class Unseeded(torch.utils.data.Sampler):
        def __iter__(self):
            return iter(torch.randperm(24, generator=torch.Generator().manual_seed(
                int.from_bytes(os.urandom(4), "little"))).tolist())  # fmt: skip

        def __len__(self):
            return 24

    settings = dict(RUN, sampler=Unseeded(), checkpoint_dir=tmp_path)
    with pytest.raises(Killed):
        fit(
            fresh_model(), TinyRegions(24), on_step=kill_at(3), **dict(settings, checkpoint_every=2)
        )
    with pytest.raises(CheckpointError, match="another order of items"):
        fit(fresh_model(), TinyRegions(24), resume=True, **dict(settings, checkpoint_every=2))


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    model = fresh_model()
    path = save_checkpoint(tmp_path / "last.pt", model, step=1, classes=["a", "b", "c"])
    before = path.read_bytes()

    def broken_save(obj, file, *args, **kwargs):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, step=2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


@pytest.mark.parametrize(
    "method, options",
    [
        ("attn-add@conv1+layer3", {"mask_resize": "max", "kernel_size": 5}),
        ("hard@conv1", {"mask_resize": "area"}),
        ("crop", {"margin": 0.3}),
        ("mask-channel", {}),
        ("image", {}),
    ],
)
def test_a_checkpoint_rebuilds_its_model_alone(tmp_path, method, options):
    torch.manual_seed(0)
    model = build_model(method, "resnet18", num_classes=3, **options)
    with torch.no_grad():  # leave the no-op start, so the side branches matter
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.01)
    save_checkpoint(tmp_path / "m.pt", model, classes=["x", "y", "z"], meta={"image_size": 32})
    rebuilt = model_from_checkpoint(load_checkpoint(tmp_path / "m.pt"))
    assert (rebuilt.method, rebuilt.arch, rebuilt.classes) == (method, "resnet18", ["x", "y", "z"])
    assert rebuilt.meta == {"image_size": 32}
    images = torch.randn(2, 3, 32, 32)
    masks = torch.zeros(2, 32, 32)
    masks[:, 8:20, 5:15] = 1
    assert torch.equal(rebuilt(images, masks), model.eval()(images, masks))


def test_missing_corrupt_and_foreign_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*nothing.pt"):
        load_checkpoint(tmp_path / "nothing.pt")
    with pytest.raises(FileNotFoundError, match="last.pt"):
        load_checkpoint(tmp_path)  # a folder without last.pt
    truncated = tmp_path / "truncated.pt"
    save_checkpoint(truncated, fresh_model())
    truncated.write_bytes(truncated.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot read the checkpoint .*truncated.pt"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a roiattn checkpoint"):
        load_checkpoint(foreign)
