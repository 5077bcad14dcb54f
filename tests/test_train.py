"""fit: deterministic for a seed, it learns, its history, samplers, workers, and every error."""

import json

import matplotlib
import pytest
import torch
from synthetic_regions import TinyRegions
from torch.utils.data import Subset

from roiattn.benchmarks.timing import torch_threads
from roiattn.models import build_model
from roiattn.runtime import choose_precision
from roiattn.train import History, epoch_order, fit

matplotlib.use("Agg")


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


QUICK = dict(epochs=2, batch_size=4, lr=1e-3, progress=False)


def test_the_same_seed_gives_the_same_weights_and_another_seed_does_not():
    data = TinyRegions(16)
    runs = []
    for seed in (0, 0, 1):
        m = model()
        history = fit(m, data, seed=seed, **QUICK)
        runs.append((weights(m), history))
    (w0, h0), (w1, h1), (w2, h2) = runs
    assert same_weights(w0, w1)
    assert h0.loss == h1.loss
    assert not same_weights(w0, w2)  # the seed decides the order of the items
    assert h0.loss != h2.loss


def test_it_learns_the_region_brightness():
    data = TinyRegions(48)
    history = fit(model(), data, epochs=4, batch_size=8, lr=2e-3, progress=False)
    first, last = history.epochs[0], history.epochs[-1]
    assert last.train_loss < 0.6 * first.train_loss
    assert last.train_accuracy > 0.7


def test_history_counts_steps_epochs_and_follows_the_schedule():
    data, val = TinyRegions(18), TinyRegions(6, seed=1)
    history = fit(model(), data, val, schedule="cosine", **QUICK)
    # 18 items in batches of 4: 4 full batches an epoch, the last 2 items dropped
    assert history.step == list(range(1, 9))
    assert len(history.loss) == len(history.lr) == 8
    assert [e.epoch for e in history.epochs] == [0, 1]
    assert all(e.steps == 4 for e in history.epochs)
    assert all(0 <= e.val_accuracy <= 1 and e.seconds > 0 for e in history.epochs)
    assert history.lr[0] == pytest.approx(1e-3)
    assert all(b < a for a, b in zip(history.lr, history.lr[1:], strict=False))
    assert history.lr[-1] < 0.05e-3  # cosine ends near zero
    constant = fit(model(), data, schedule="constant", **QUICK)
    assert set(constant.lr) == {1e-3}
    again = History.from_dict(json.loads(json.dumps(history.to_dict())))
    assert again.to_dict() == history.to_dict()
    figure = history.plot()
    assert len(figure.axes) == 2


def test_max_steps_stops_mid_epoch_and_records_the_partial_epoch():
    history = fit(model(), TinyRegions(16), max_steps=3, **QUICK)
    assert history.step == [1, 2, 3]
    assert len(history.epochs) == 1 and history.epochs[0].steps == 3


def test_the_papers_recipe_gradient_clipping_and_channels_last_run():
    m = model("hard@input")
    before = weights(m)
    fit(m, TinyRegions(8), optimizer="adam", lr=1e-5, weight_decay=1e-5, grad_clip=0.5,
        schedule="constant", epochs=1, batch_size=4, channels_last=True,
        progress=False)  # fmt: skip
    assert m.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert not same_weights(before, weights(m))


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
    fit(model(), recording, sampler=sampler, **QUICK)
    assert seen and set(seen) <= set(only_class_0)
    # the order of an epoch depends on (seed, epoch) only, even for a sampler of one's own
    assert epoch_order(data, sampler, 3, 1) == epoch_order(data, sampler, 3, 1)
    assert epoch_order(data, sampler, 3, 1) != epoch_order(data, sampler, 3, 2)


def test_workers_give_the_same_weights_as_the_main_process():
    data = TinyRegions(12)
    a, b = model(), model()
    fit(a, data, num_workers=0, epochs=1, batch_size=4, progress=False)
    fit(b, data, num_workers=2, epochs=1, batch_size=4, progress=False)
    assert same_weights(weights(a), weights(b))


def test_subsets_are_seen_through_for_classes_and_labels():
    data = Subset(TinyRegions(20), list(range(10)))
    history = fit(model(), data, **QUICK)
    assert len(history.step) == 4


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, "epochs must be a positive int"),
        ({"batch_size": 2.5}, "batch_size must be a positive int"),
        ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
        ({"schedule": "step"}, "unknown schedule 'step'"),
        ({"lr": 0}, "lr must be > 0"),
        ({"grad_clip": -1.0}, "grad_clip must be > 0"),
        ({"max_steps": 0}, "max_steps must be >= 1"),
        ({"checkpoint_every": 0}, "checkpoint_every must be >= 1"),
        ({"resume": True}, "resume=True needs the checkpoint_dir"),
        ({"amp": True}, "mixed precision (amp) needs a CUDA device"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
    ],
)
def test_bad_arguments_say_what_is_wrong(changes, message):
    settings = {**QUICK, **changes}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fit(model(), TinyRegions(8), **settings)


def test_a_model_for_other_classes_or_data_without_classes_is_refused():
    with pytest.raises(ValueError, match="model has 5 outputs but the training data has 3"):
        fit(model(num_classes=5), TinyRegions(8), **QUICK)

    class Nameless(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return TinyRegions(4)[i]

    with pytest.raises(ValueError, match="no 'classes' attribute"):
        fit(model(), Nameless(), **QUICK)


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
