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

import roiattn
from roiattn.benchmarks.timing import torch_threads
from roiattn.checkpoints import FORMAT, load_checkpoint, model_from_checkpoint, save_checkpoint
from roiattn.errors import CheckpointError
from roiattn.models import build_model
from roiattn.train import TrainSettings, fit

TESTS = Path(__file__).parent
# 24 items in batches of 4: 6 steps an epoch, 12 in all; a checkpoint every 4 steps
SETTINGS = TrainSettings(epochs=2, batch_size=4, lr=1e-3, seed=7)
RUN = dict(checkpoint_every=4, progress=False)


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


def fresh_model(seed=0):
    torch.manual_seed(seed)
    return build_model("attn-mul@conv1", "resnet18", num_classes=3)


def run(model, **options):
    """fit on the 24 training items, validated on 8 others, with the run's settings."""
    return fit(model, TinyRegions(24), SETTINGS, val_data=TinyRegions(8, seed=1),
               **{**RUN, **options})  # fmt: skip


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
        history = run(model)
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
        run(fresh_model(), checkpoint_dir=tmp_path, on_step=kill_at(10))
    saved = load_checkpoint(tmp_path)
    assert saved["format"] == FORMAT == "roiattn.checkpoint/2"
    assert (saved["step"], saved["epoch"], saved["training"]["done_in_epoch"]) == (8, 1, 2)
    assert saved["training"]["settings"]["seed"] == 7 and len(saved["history"]["step"]) == 8
    # another initialisation, to show that everything comes from the checkpoint
    model = fresh_model(seed=123)
    history = run(model, checkpoint_dir=tmp_path, resume=True)
    assert_same_run(model, history, uninterrupted)
    # resuming a finished run changes nothing
    again = fresh_model(seed=5)
    assert run(again, checkpoint_dir=tmp_path, resume=True).loss == history.loss
    assert torch.equal(again.backbone.fc.weight, model.backbone.fc.weight)


def test_a_killed_process_resumes_to_the_same_weights(tmp_path, uninterrupted):
    script = textwrap.dedent(
        f"""
        import os, signal, sys, torch
        sys.path.insert(0, {str(TESTS)!r})
        from synthetic_regions import TinyRegions
        from roiattn.models import build_model
        from roiattn.train import TrainSettings, fit
        torch.set_num_threads(1)
        torch.manual_seed(0)
        model = build_model("attn-mul@conv1", "resnet18", num_classes=3)

        def on_step(step, model, loss):
            if step == 7:
                os.kill(os.getpid(), signal.SIGKILL)

        fit(model, TinyRegions(24), TrainSettings(**{SETTINGS.to_dict()!r}),
            val_data=TinyRegions(8, seed=1), checkpoint_dir={str(tmp_path)!r},
            on_step=on_step, **{RUN!r})
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert load_checkpoint(tmp_path)["step"] == 6  # the end of the first epoch
    assert not [p for p in tmp_path.iterdir() if p.name != "last.pt"]  # no temporary files
    model = fresh_model(seed=99)
    history = run(model, checkpoint_dir=tmp_path, resume=True)
    assert_same_run(model, history, uninterrupted)


def test_resuming_with_other_settings_or_another_model_is_refused(tmp_path):
    one_epoch = TrainSettings(epochs=1, batch_size=4)
    fit(fresh_model(), TinyRegions(8), one_epoch, checkpoint_dir=tmp_path, progress=False)

    def resume(settings, model=None, data=None):
        return fit(model or fresh_model(), data or TinyRegions(8), settings,
                   checkpoint_dir=tmp_path, resume=True, progress=False)  # fmt: skip

    with pytest.raises(CheckpointError, match=r"batch_size: 4 then, 2 now"):
        resume(one_epoch.replace(batch_size=2))
    with pytest.raises(CheckpointError, match=r"branch_lr_scale: 1.0 then, 3.0 now"):
        resume(one_epoch.replace(branch_lr_scale=3.0))
    with pytest.raises(CheckpointError, match=r"train_items: 8 then, 12 now"):
        resume(one_epoch, data=TinyRegions(12))
    other = build_model("attn-add@conv1", "resnet18", num_classes=3)
    with pytest.raises(CheckpointError, match="attn-mul@conv1.*this run trains"):
        resume(one_epoch, model=other)
    # settings that do not change the weights may differ: the finished run is taken as it is
    done = resume(one_epoch.replace(eval_batch_size=7))
    assert done.step == [1, 2] and len(done.epochs) == 1
    # a file that holds a model alone is no run to resume
    save_checkpoint(tmp_path / "last.pt", fresh_model(), classes=["a", "b", "c"])
    with pytest.raises(CheckpointError, match="holds a model only, not a run to resume"):
        resume(one_epoch)


def test_a_sampler_that_is_not_reproducible_is_caught_on_resume(tmp_path):
    class Unseeded(torch.utils.data.Sampler):
        def __iter__(self):
            return iter(torch.randperm(24, generator=torch.Generator().manual_seed(
                int.from_bytes(os.urandom(4), "little"))).tolist())  # fmt: skip

        def __len__(self):
            return 24

    options = dict(sampler=Unseeded(), checkpoint_dir=tmp_path, checkpoint_every=2,
                   progress=False)  # fmt: skip
    with pytest.raises(Killed):
        fit(fresh_model(), TinyRegions(24), SETTINGS, on_step=kill_at(3), **options)
    assert load_checkpoint(tmp_path)["training"]["done_in_epoch"] == 2  # mid-epoch
    with pytest.raises(CheckpointError, match="another order of items"):
        fit(fresh_model(), TinyRegions(24), SETTINGS, resume=True, **options)


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    model = fresh_model()
    path = save_checkpoint(tmp_path / "last.pt", model, classes=["a", "b", "c"], meta={"n": 1})
    before = path.read_bytes()

    def broken_save(obj, file, *args, **kwargs):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, meta={"n": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    monkeypatch.undo()
    assert load_checkpoint(path)["meta"] == {"n": 1}  # still the whole previous checkpoint


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
    # a file of the earlier format is refused by name, not misread
    whole = save_checkpoint(tmp_path / "whole.pt", fresh_model(), classes=["a", "b", "c"])
    older = tmp_path / "older.pt"
    torch.save({**load_checkpoint(whole), "format": "roiattn.checkpoint/1"}, older)
    with pytest.raises(CheckpointError, match=r"no 'roiattn\.checkpoint/2' format mark"):
        load_checkpoint(older)
    # weights of another model, and class names that do not fit the model
    state = {**load_checkpoint(whole), "method": "image", "options": {}}
    with pytest.raises(CheckpointError, match="weights do not fit a 'image' 'resnet18' model"):
        model_from_checkpoint(state)
    with pytest.raises(ValueError, match="2 class names for a model with 3 outputs"):
        save_checkpoint(tmp_path / "two.pt", fresh_model(), classes=["a", "b"])
    # each is the error a caller already catches, and the one roiattn exports
    assert issubclass(CheckpointError, ValueError) and roiattn.CheckpointError is CheckpointError
