"""Profiles: only ROIATTN_PROFILE (or CUDA being there) picks one; each says all it fixes;
changed settings are checked and marked."""

import json

import pytest
import torch

from roiattn import profiles
from roiattn.profiles import ENV_VAR, PROFILES, Profile, current, get


def test_the_environment_variable_decides_else_cuda(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "full")
    assert current().name == "full"
    monkeypatch.setenv(ENV_VAR, " quick ")
    assert current().name == "quick"
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert current().name == "full"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert current().name == "quick"
    # nothing else switches it: CI and the host name change nothing
    monkeypatch.setenv("CI", "true")
    assert current().name == "quick"
    monkeypatch.setenv(ENV_VAR, "fast")
    with pytest.raises(ValueError, match=r"unknown profile 'fast'.*ROIATTN_PROFILE=quick"):
        current()


def test_each_profile_fixes_everything_a_run_depends_on():
    quick, full = get("quick"), get("full")
    assert (quick.device, quick.arch, quick.weights, quick.amp) == ("cpu", "resnet18", None, False)
    assert (full.device, full.arch, full.weights) == ("cuda", "resnet50", "DEFAULT")
    assert full.amp and full.channels_last and full.image_size == 224
    assert quick.image_size < full.image_size and quick.batch_size <= full.batch_size
    for profile in PROFILES.values():
        text = str(profile)
        for name in Profile.__dataclass_fields__:
            assert f"{name}: " in text or name == "name"
        assert text.startswith(f"profile: {profile.name}")
        assert profile.summary().startswith(f"profile {profile.name}: {profile.arch}")
        assert json.loads(json.dumps(profile.to_dict()))["name"] == profile.name


def test_context_shapes_trains_its_own_backbone_under_the_same_name():
    quick = get("quick")
    shapes = quick.for_shapes()
    assert (shapes.name, shapes.arch, shapes.lr) == ("quick", quick.shapes_arch, quick.shapes_lr)
    assert shapes.arch != quick.arch and shapes.for_shapes() is shapes
    assert {k: v for k, v in shapes.to_dict().items() if k not in ("arch", "lr")} == {
        k: v for k, v in quick.to_dict().items() if k not in ("arch", "lr")
    }
    full = get("full")
    assert full.for_shapes() is full  # the same ResNet-50 at the same rate
    with pytest.raises(ValueError, match="shapes_lr must be > 0"):
        quick.replace(shapes_lr=0.0)


def test_replace_checks_and_marks_the_changed_profile():
    quick = get("quick")
    assert quick.replace() is quick
    assert quick.replace(epochs=quick.epochs) is quick  # nothing changed: still the stock one
    changed = quick.replace(epochs=5, lr=1e-4)
    assert (changed.name, changed.epochs, changed.lr) == ("quick+", 5, 1e-4)
    assert changed.replace(batch_size=8).name == "quick+"
    assert get("quick").epochs == 2  # the stock profile is untouched
    with pytest.raises(ValueError, match="unknown profile settings"):
        quick.replace(epoch=3)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        quick.replace(batch_size=0)
    with pytest.raises(ValueError, match="unknown optimizer 'lamb'"):
        quick.replace(optimizer="lamb")
    with pytest.raises(ValueError, match="unknown schedule"):
        quick.replace(schedule="linear")
    with pytest.raises(ValueError, match="grad_clip must be > 0"):
        quick.replace(grad_clip=0.0)


def test_the_training_settings_match_fits_choices():
    from roiattn import train

    assert profiles.OPTIMIZERS == train.OPTIMIZERS
    assert profiles.SCHEDULES == train.SCHEDULES
