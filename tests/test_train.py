"""fit and its parts: deterministic for a seed, it learns, its history and schedule, samplers,
workers, the mask branch's own learning rate, the settings as one checked value, and every
error."""

import dataclasses
import json
import math

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from synthetic_regions import TinyRegions
from torch.utils.data import Subset

from roiattn.benchmarks.timing import torch_threads
from roiattn.checkpoints import load_checkpoint
from roiattn.models import build_model
from roiattn.runtime import choose_precision
from roiattn.train import (
    History,
    TrainSettings,
    epoch_order,
    fit,
    make_optimizer,
    make_schedule,
    train_step,
)

matplotlib.use("Agg")
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_thread():
    """One thread: faster on this shared 2-core machine, and the same in every process."""
    with torch_threads(1):
        yield


def model(method="attn-add@conv1", seed=0, num_classes=3):
    torch.manual_seed(seed)
    return build_model(method, "resnet18", num_classes=num_classes)


def weights(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


QUICK = TrainSettings(epochs=2, batch_size=4, lr=1e-3)


def test_the_same_seed_gives_the_same_weights_and_another_seed_does_not():
    data = TinyRegions(16)
    runs = []
    for seed in (0, 0, 1):
        m = model()
        history = fit(m, data, QUICK.replace(seed=seed), progress=False)
        runs.append((weights(m), history))
    (w0, h0), (w1, h1), (w2, h2) = runs
    assert same_weights(w0, w1)
    assert h0.loss == h1.loss
    assert not same_weights(w0, w2)  # the seed decides the order of the items
    assert h0.loss != h2.loss


def test_it_learns_the_region_brightness():
    data = TinyRegions(48)
    settings = TrainSettings(epochs=4, batch_size=8, lr=2e-3)
    history = fit(model(), data, settings, progress=False)
    first, last = history.epochs[0], history.epochs[-1]
    assert last.train_loss < 0.6 * first.train_loss
    assert last.train_accuracy > 0.7


def test_history_counts_steps_epochs_and_follows_the_schedule():
    data, val = TinyRegions(18), TinyRegions(6, seed=1)
    history = fit(model(), data, QUICK.replace(schedule="cosine"), val_data=val, progress=False)
    # 18 items in batches of 4: 4 full batches an epoch, the last 2 items dropped
    assert history.step == list(range(1, 9))
    assert len(history.loss) == len(history.lr) == 8
    assert [e.epoch for e in history.epochs] == [0, 1]
    assert all(e.steps == 4 for e in history.epochs)
    assert all(0 <= e.val_accuracy <= 1 and e.seconds > 0 for e in history.epochs)
    assert history.val_accuracy == history.epochs[-1].val_accuracy
    assert history.lr[0] == pytest.approx(1e-3)
    assert all(b < a for a, b in zip(history.lr, history.lr[1:], strict=False))
    assert history.lr[-1] < 0.05e-3  # cosine ends near zero (the rate of the last step)
    # the settings that make the run, with how many items and processes it had
    assert history.settings["batch_size"] == 4 and history.settings["train_items"] == 18
    assert history.settings["world_size"] == 1 and "num_workers" not in history.settings
    constant = fit(model(), data, QUICK.replace(schedule="constant"), progress=False)
    assert set(constant.lr) == {1e-3}
    again = History.from_dict(json.loads(json.dumps(history.to_dict())))
    assert again.to_dict() == history.to_dict()
    figure = history.plot()
    assert len(figure.axes) == 2
    plt.close(figure)


def test_the_cosine_schedule_reaches_zero_at_the_last_step():
    m = model()
    optimizer = make_optimizer(m, QUICK, CPU)
    schedule = make_schedule(optimizer, QUICK, total_steps=6)
    assert isinstance(schedule, torch.optim.lr_scheduler.CosineAnnealingLR)
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(6):
        optimizer.step()
        schedule.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates[0] == pytest.approx(1e-3)
    assert rates[3] == pytest.approx(0.5e-3)  # half way, half the rate
    assert all(b < a for a, b in zip(rates, rates[1:], strict=False))
    assert rates[-1] == pytest.approx(0, abs=1e-12)
    # the constant schedule keeps the start rate throughout
    optimizer = make_optimizer(m, QUICK.replace(schedule="constant"), CPU)
    schedule = make_schedule(optimizer, QUICK.replace(schedule="constant"), total_steps=6)
    for _ in range(6):
        optimizer.step()
        schedule.step()
        assert optimizer.param_groups[0]["lr"] == 1e-3


def test_max_steps_stops_mid_epoch_and_records_the_partial_epoch():
    history = fit(model(), TinyRegions(16), QUICK.replace(max_steps=3), progress=False)
    assert history.step == [1, 2, 3]
    assert len(history.epochs) == 1 and history.epochs[0].steps == 3
    # the cosine schedule fits the 3 steps, not the 8 of two whole epochs
    assert history.lr == pytest.approx([1e-3 * (1 + math.cos(math.pi * s / 3)) / 2
                                        for s in range(3)])  # fmt: skip


def test_the_papers_recipe_gradient_clipping_and_channels_last_run():
    m = model("hard@input")
    before = weights(m)
    recipe = TrainSettings(
        optimizer="adam",
        lr=1e-5,
        weight_decay=1e-5,
        grad_clip=0.5,
        schedule="constant",
        epochs=1,
        batch_size=4,
        channels_last=True,
    )
    fit(m, TinyRegions(8), recipe, progress=False)
    assert m.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert not same_weights(before, weights(m))


def test_a_train_step_clips_the_gradient_norm():
    m = model()
    batch = [TinyRegions(4)[i] for i in range(4)]
    images = torch.stack([b["image"] for b in batch])
    masks = torch.stack([b["mask"] for b in batch])
    labels = torch.tensor([b["label"] for b in batch])
    optimizer = torch.optim.SGD(m.parameters(), lr=0.0)  # a step that changes nothing

    def norm():  # in float64: a float32 sum over 11M numbers is off by 1e-3
        grads = [p.grad.double().flatten() for p in m.parameters() if p.grad is not None]
        return float(torch.cat(grads).norm())

    loss, correct = train_step(m, images, masks, labels, optimizer)
    assert loss.dim() == 0 and 0 <= int(correct) <= 4
    assert norm() > 0.01  # unclipped, larger than the cap below
    train_step(m, images, masks, labels, optimizer, grad_clip=0.01)
    assert norm() == pytest.approx(0.01, rel=1e-4)


def test_a_sampler_decides_which_items_are_seen():
    data = TinyRegions(24)
    seen = []

    class Recording(TinyRegions):
        def __getitem__(self, index):
            seen.append(index)
            return super().__getitem__(index)

    recording = Recording(24)
    only_class_0 = [i for i, label in enumerate(data.labels) if label == 0]
    sampler = torch.utils.data.SubsetRandomSampler(only_class_0)
    fit(model(), recording, QUICK, sampler=sampler, progress=False)
    assert seen and set(seen) <= set(only_class_0)
    # the order of an epoch depends on (seed, epoch) only, even for a sampler of one's own
    assert epoch_order(data, sampler, 3, 1) == epoch_order(data, sampler, 3, 1)
    assert epoch_order(data, sampler, 3, 1) != epoch_order(data, sampler, 3, 2)
    with pytest.raises(ValueError, match="the sampler gave index 30 for a dataset of 24"):
        epoch_order(data, [0, 30], 0, 0)


def test_without_a_sampler_each_epoch_is_a_seeded_shuffle_of_every_item():
    data = TinyRegions(24)
    orders = {(seed, epoch): epoch_order(data, None, seed, epoch) for seed in (0, 1)
              for epoch in (0, 1)}  # fmt: skip
    assert all(sorted(order) == list(range(24)) for order in orders.values())
    assert orders[0, 0] != orders[0, 1] and orders[0, 0] != orders[1, 0]  # both count
    # seeded with seed + epoch, as torch's DistributedSampler: seed 0's second epoch is seed 1's
    # first (the seeds of a comparison are consecutive, so runs differ in every epoch but share
    # orders shifted by one epoch, as they would under DistributedSampler)
    assert orders[0, 1] == orders[1, 0]
    expected = torch.randperm(24, generator=torch.Generator().manual_seed(0 + 1)).tolist()
    assert orders[0, 1] == expected
    assert epoch_order(data, None, 1, 1) == orders[1, 1]
    state = torch.get_rng_state()
    epoch_order(data, None, 0, 0)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left alone


def test_workers_give_the_same_weights_as_the_main_process():
    data = TinyRegions(12)
    a, b = model(), model()
    one_epoch = TrainSettings(epochs=1, batch_size=4)
    fit(a, data, one_epoch.replace(num_workers=0), progress=False)
    fit(b, data, one_epoch.replace(num_workers=2), progress=False)
    assert same_weights(weights(a), weights(b))


def test_a_subset_is_trained_through_dataset_subset_and_a_torch_subset_is_refused():
    data = TinyRegions(20)
    with pytest.raises(ValueError, match=r"got Subset \(for a subset, use dataset\.subset"):
        fit(model(), Subset(data, list(range(10))), QUICK, progress=False)
    subset = data.subset(range(10))
    assert subset.classes == data.classes and list(subset.labels) == list(data.labels[:10])
    history = fit(model(), subset, QUICK, progress=False)
    assert len(history.step) == 4  # 10 items in batches of 4: 2 steps an epoch
    assert history.settings["train_items"] == 10


def test_the_mask_branch_gets_its_own_learning_rate():
    scaled = QUICK.replace(branch_lr_scale=10.0)
    for method in ("attn-add@conv1", "attn-mul@conv1+layer3", "mask-channel"):
        m = model(method)
        branch = {id(p) for p in m.mask_parameters()}
        assert branch
        one = make_optimizer(m, QUICK, CPU)  # scale 1: one group, one rate
        assert len(one.param_groups) == 1 and one.param_groups[0]["lr"] == 1e-3
        two = make_optimizer(m, scaled, CPU)
        assert [g["lr"] for g in two.param_groups] == [1e-3, pytest.approx(1e-2)]
        rest, mask = ({id(p) for p in g["params"]} for g in two.param_groups)
        assert mask == branch and not rest & mask
        assert rest | mask == {id(p) for p in m.parameters()}  # every parameter, once
        assert two.param_groups[1]["weight_decay"] == scaled.weight_decay
    # a model whose mask path has no weights keeps one group whatever the scale
    for method in ("image", "hard@input", "crop"):
        m = model(method)
        assert m.mask_parameters() == []
        assert len(make_optimizer(m, scaled, CPU).param_groups) == 1
    # each schedule keeps the ratio of the two rates at every step
    for schedule in ("cosine", "constant"):
        settings = scaled.replace(schedule=schedule, optimizer="sgd")
        optimizer = make_optimizer(model(), settings, CPU)
        steps = make_schedule(optimizer, settings, total_steps=5)
        for _ in range(4):
            optimizer.step()
            steps.step()
            low, high = (g["lr"] for g in optimizer.param_groups)
            assert low > 0 and high == pytest.approx(10 * low)


def test_fit_trains_the_mask_branch_at_its_own_rate(tmp_path):
    settings = QUICK.replace(branch_lr_scale=0.25, max_steps=3)
    history = fit(model(), TinyRegions(16), settings, checkpoint_dir=tmp_path, progress=False)
    assert history.lr[0] == pytest.approx(1e-3)  # the history shows the backbone's rate
    assert history.settings["branch_lr_scale"] == 0.25
    groups = load_checkpoint(tmp_path)["optimizer"]["param_groups"]
    assert [g["initial_lr"] for g in groups] == [1e-3, pytest.approx(0.25e-3)]
    # the cosine schedule has reached 0 for both after the last of the 3 steps
    assert [g["lr"] for g in groups] == [pytest.approx(0, abs=1e-12)] * 2


def test_training_settings_are_one_checked_value():
    settings = TrainSettings()
    assert settings.branch_lr_scale == 1 and settings.schedule == "cosine"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.epochs = 3
    changed = settings.replace(epochs=3, branch_lr_scale=4.0)
    assert (changed.epochs, changed.branch_lr_scale, settings.epochs) == (3, 4.0, 1)
    assert TrainSettings(**json.loads(json.dumps(changed.to_dict()))) == changed
    assert "\n" not in changed.summary() and "mask branch x4" in changed.summary()
    assert "mask branch" not in settings.summary()
    assert "at most 7 steps" in settings.replace(max_steps=7).summary()
    with pytest.raises(ValueError, match=r"unknown training settings \['epoch'\]"):
        settings.replace(epoch=3)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        settings.replace(batch_size=0)  # a changed copy is checked like the original


def test_whole_numbers_for_rates_are_the_same_settings_as_floats():
    """``branch_lr_scale=1`` and ``1.0`` are one setting, in memory and in saved results (a run
    saved with one is found again with the other)."""
    whole = TrainSettings(lr=1, branch_lr_scale=1, weight_decay=0, grad_clip=5)
    floats = TrainSettings(lr=1.0, branch_lr_scale=1.0, weight_decay=0.0, grad_clip=5.0)
    assert json.dumps(whole.to_dict()) == json.dumps(floats.to_dict())
    assert isinstance(TrainSettings().replace(branch_lr_scale=100).branch_lr_scale, float)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, "epochs must be a positive int, got 0"),
        ({"epochs": True}, "epochs must be a positive int, got True"),
        ({"batch_size": 2.5}, "batch_size must be a positive int, got 2.5"),
        ({"eval_batch_size": -1}, "eval_batch_size must be a positive int, got -1"),
        ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
        ({"schedule": "step"}, "unknown schedule 'step'"),
        ({"lr": 0}, "^lr must be > 0, got lr=0.0$"),
        ({"lr": math.nan}, "^lr must be > 0, got lr=nan$"),
        ({"branch_lr_scale": 0.0}, "^branch_lr_scale must be > 0, got branch_lr_scale=0.0$"),
        ({"weight_decay": -1e-4}, "^weight_decay must be >= 0, got weight_decay=-0.0001$"),
        ({"grad_clip": -1.0}, "grad_clip must be > 0 or None, got -1.0"),
        ({"max_steps": 0}, "max_steps must be a positive int, got 0"),
        ({"seed": -1}, "seed must be an int >= 0, got -1"),
        ({"seed": 1.5}, "seed must be an int >= 0, got 1.5"),
        ({"num_workers": -1}, "num_workers must be an int >= 0, got -1"),
        ({"num_workers": 2.0}, "num_workers must be an int >= 0, got 2.0"),
    ],
)
def test_bad_settings_name_the_setting(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainSettings(**changes)


@pytest.mark.parametrize(
    "settings, options, message",
    [
        ({}, {"checkpoint_every": 0}, "checkpoint_every must be >= 1"),
        ({}, {"checkpoint_every": 1.5}, "checkpoint_every must be >= 1"),
        ({}, {"resume": True}, "resume=True needs the checkpoint_dir"),
        ({"amp": True}, {"device": "cpu"}, "mixed precision (amp) needs a CUDA device"),
        ({}, {"device": "tpu"}, "unknown device 'tpu'"),
    ],
)
def test_bad_arguments_say_what_is_wrong(settings, options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fit(model(), TinyRegions(8), QUICK.replace(**settings), progress=False, **options)


def test_a_model_for_other_classes_or_data_that_is_no_region_dataset_is_refused():
    with pytest.raises(ValueError, match="model has 5 outputs but the training data has 3"):
        fit(model(num_classes=5), TinyRegions(8), QUICK, progress=False)
    with pytest.raises(ValueError, match="the training data is empty"):
        fit(model(), TinyRegions(8).subset([]), QUICK, progress=False)

    class Nameless(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return TinyRegions(4)[i]

    with pytest.raises(ValueError, match="training data must be a roiattn region dataset"):
        fit(model(), Nameless(), QUICK, progress=False)
    with pytest.raises(ValueError, match="validation data must be a roiattn region dataset"):
        fit(model(), TinyRegions(8), QUICK, val_data=Nameless(), progress=False)


def test_mixed_precision_choice(monkeypatch):
    cpu = choose_precision(torch.device("cpu"), None)
    assert not cpu.enabled and str(cpu) == "fp32"
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    bf16 = choose_precision(cuda, None)
    assert bf16.enabled and bf16.dtype == torch.bfloat16 and not bf16.scale_loss
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    fp16 = choose_precision(cuda, None)
    assert fp16.dtype == torch.float16 and fp16.scale_loss
    assert not choose_precision(cuda, False).enabled
