"""Profiles: only ROIATTN_PROFILE (or CUDA being there) picks one, and says why; each is the table
of sizes its experiments are built from; the one mapping to training settings is checked."""

import dataclasses
import json
import os

import pytest
import torch

from roiattn import experiments, profiles
from roiattn.experiments.definitions import _training
from roiattn.profiles import ENV_VAR, PROFILES, Profile, current, get, summary, why
from roiattn.train import TrainSettings


def test_the_environment_variable_decides_else_cuda(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "paper")
    assert current().name == "paper" and why() == "$ROIATTN_PROFILE"
    monkeypatch.setenv(ENV_VAR, " quick ")
    assert current().name == "quick" and why() == "$ROIATTN_PROFILE"
    monkeypatch.delenv(ENV_VAR)
    # a machine that reports CUDA (Colab with a GPU) gets the profile sized for one session
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert current().name == "colab"
    assert why() == (
        "a CUDA GPU is here; ROIATTN_PROFILE=quick for the CPU-sized run, "
        "ROIATTN_PROFILE=paper for the paper's scale"
    )
    assert summary().startswith("profile colab (a CUDA GPU is here;")
    assert experiments.coco().profile == "colab" and experiments.coco().arch == "resnet50"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert current().name == "quick"
    assert why() == "no CUDA GPU; ROIATTN_PROFILE=colab on a GPU for the paper's setting"
    # nothing else switches it: CI and the host name change nothing
    monkeypatch.setenv("CI", "true")
    assert current().name == "quick"
    monkeypatch.setenv(ENV_VAR, "fast")
    with pytest.raises(ValueError, match=r"unknown profile 'fast'.*ROIATTN_PROFILE=quick"):
        current()
    with pytest.raises(ValueError, match=r"choose one of \['colab', 'paper', 'quick'\]"):
        get("medium")
    # the profile's old name says what it became
    with pytest.raises(ValueError, match="'full' is now 'colab', or 'paper'"):
        get("full")


def test_the_summary_is_one_line_that_says_how_the_profile_was_chosen(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "quick")
    line = summary()
    assert "\n" not in line
    assert line.startswith("profile quick ($ROIATTN_PROFILE): COCO resnet10_w32 (random init)")
    assert "ContextShapes resnet10_w32 at 48 px" in line
    # another profile than the active one: no reason given, as it was not chosen
    assert summary(get("paper")).startswith("profile paper: COCO resnet50 (DEFAULT) at 224 px")
    assert summary(get("quick")) == line


def test_each_profile_fixes_everything_a_run_depends_on():
    quick, colab, paper = get("quick"), get("colab"), get("paper")
    assert (quick.device, quick.weights) == ("cpu", None)
    assert quick.amp is False and quick.channels_last is True  # measured faster on a CPU too
    for gpu in (colab, paper):  # the paper's setting in kind: pretrained ResNet-50, all of COCO
        assert (gpu.device, gpu.arch, gpu.weights) == ("cuda", "resnet50", "DEFAULT")
        assert gpu.amp is None and gpu.channels_last is None  # on with CUDA, decided at run time
        assert gpu.categories is None and gpu.seeds == (0, 1, 2)
    assert paper.image_size == 224 and paper.max_train_items is None  # every region
    # colab is the smaller of the two: fewer images, regions, steps and seeds
    assert colab.image_size < paper.image_size and colab.download_images < paper.download_images
    assert colab.epochs < paper.epochs and colab.shapes_train < paper.shapes_train
    assert len(colab.pretrained_seeds) <= len(paper.pretrained_seeds)
    assert quick.image_size < colab.image_size and quick.batch_size <= colab.batch_size
    for name, profile in PROFILES.items():
        assert profile.name == name
        assert get(name) is profile
        assert Profile(**profile.to_dict()) == profile
        assert json.loads(json.dumps(profile.to_dict()))["name"] == name
        assert profile.seeds and all(isinstance(s, int) and s >= 0 for s in profile.seeds)
        with pytest.raises(dataclasses.FrozenInstanceError):
            profile.epochs = 99


def test_worker_counts_follow_the_cpus_present(monkeypatch):
    # no profile asks for a fixed count larger than one per CPU
    assert get("quick").num_workers == 0 and get("colab").num_workers == 0  # read once, in memory
    assert get("paper").num_workers is None  # decoded every epoch: one worker per CPU
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert profiles.cpu_count() == 2
    assert experiments.coco("paper").training.num_workers == 2  # Colab's two cores
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert experiments.coco("paper").training.num_workers == 16
    assert experiments.coco("colab").training.num_workers == 0


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_a_profile_gives_every_training_setting_but_the_seed(name):
    profile = get(name)
    settings = _training(profile, profile.epochs, profile.lr)
    assert isinstance(settings, TrainSettings)
    # every training setting a profile holds is passed on as it is
    shared = {f.name for f in dataclasses.fields(TrainSettings)} & set(profile.to_dict())
    assert shared == {
        "batch_size",
        "weight_decay",
        "optimizer",
        "schedule",
        "grad_clip",
        "amp",
        "channels_last",
        "num_workers",
        "eval_batch_size",
        "epochs",
        "lr",
    }
    for field in shared - {"num_workers"}:
        assert getattr(settings, field) == getattr(profile, field), field
    assert settings.num_workers == profiles.workers(profile)
    assert settings.branch_lr_scale == 1 and settings.max_steps is None  # the paper's
    # the COCO experiment trains with the profile's rate and epochs, ContextShapes with its own
    coco, shapes = experiments.coco(profile), experiments.shapes(profile)
    assert coco.training == settings
    assert (coco.arch, coco.weights, coco.profile) == (profile.arch, profile.weights, name)
    assert coco.seeds == profile.seeds and coco.data.image_size == profile.image_size
    assert shapes.training == settings.replace(epochs=profile.shapes_epochs, lr=profile.shapes_lr)
    assert (shapes.arch, shapes.weights) == (profile.shapes_arch, profile.shapes_weights)
    assert shapes.data.image_size == profile.shapes_image_size
    assert experiments.coco(name) == coco  # by name or by value alike


def test_the_active_profile_is_the_default_of_every_experiment(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "paper")
    assert experiments.coco().profile == "paper" and experiments.shapes().arch == "resnet50"
    monkeypatch.setenv(ENV_VAR, "quick")
    assert experiments.coco().training == experiments.coco("quick").training


def test_a_changed_profile_is_checked_when_it_becomes_training_settings():
    quick = get("quick")
    bad = dataclasses.replace(quick, batch_size=0)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        experiments.coco(bad)
    with pytest.raises(ValueError, match="unknown optimizer 'lamb'"):
        experiments.shapes(dataclasses.replace(quick, optimizer="lamb"))
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        experiments.coco(dataclasses.replace(quick, schedule="linear"))
    with pytest.raises(ValueError, match="grad_clip must be > 0"):
        experiments.coco(dataclasses.replace(quick, grad_clip=0.0))
    assert get("quick") is quick and quick.batch_size == PROFILES["quick"].batch_size


def test_the_training_choices_are_defined_once():
    from roiattn import train

    assert train.OPTIMIZERS == ("adamw", "adam", "sgd")
    assert train.SCHEDULES == ("cosine", "constant")
    for profile in PROFILES.values():
        assert profile.optimizer in train.OPTIMIZERS and profile.schedule in train.SCHEDULES
    assert not hasattr(profiles, "OPTIMIZERS")  # the profile keeps sizes, not the choices
