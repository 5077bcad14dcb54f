"""The time a comparison says before it trains: its formula over timed steps, its step count is
fit's, it leaves the random state alone, and compare() prints it only for runs it will train."""

import pytest
import torch

from roiattn.data import ContextShapes
from roiattn.experiments import projection, shapes
from roiattn.experiments.projection import Projection, minutes, project, run_steps
from roiattn.train import fit

TINY = dict(train_scenes=8, test_scenes=4, image_size=32, batch_size=8, seeds=(0,))


def test_a_run_has_the_steps_fit_takes():
    experiment = shapes("quick").replace(**TINY, epochs=3)
    data = ContextShapes(8, 32, seed=100)  # 40 regions: 5 steps an epoch
    assert run_steps(experiment, data) == 15
    assert run_steps(experiment.replace(max_steps=7), data) == 7
    torch.manual_seed(0)
    model = experiment.model("image", len(data.classes))
    history = fit(model, data, experiment.settings().replace(max_steps=7), progress=False)
    assert history.step[-1] == run_steps(experiment.replace(max_steps=7), data)


def test_the_projection_adds_steps_evaluation_and_reading(monkeypatch):
    experiment = shapes("quick").replace(**TINY, epochs=2)
    train, test = ContextShapes(8, 32, seed=100), ContextShapes(4, 32, seed=101)
    timed = {"image": (0.5, 0.01), "hard@input": (1.0, 0.02)}
    monkeypatch.setattr(projection, "time_method", lambda e, method, *a: timed[method])
    monkeypatch.setattr(projection, "read_seconds", lambda data: (0.003, False))
    runs = [("image", 0), ("hard@input", 0), ("hard@input", 1)]
    made = project(experiment, runs, train, test, torch.device("cpu"))
    steps = 2 * (40 // 8)
    # read every epoch in this process (no cache, no workers): 2 epochs x 40 regions per run
    per_run_reading = 2 * 40 * 0.003
    expected = sum(steps * s + 20 * f + per_run_reading for s, f in (timed["image"],
                   timed["hard@input"], timed["hard@input"]))  # fmt: skip
    assert made.steps == 3 * steps and made.runs == 3
    assert made.train_seconds == pytest.approx(expected) and made.read_seconds == 0
    # in memory (a cache): read once; two at a time: half the training
    cached = project(experiment, runs, train.cached(), test.cached(), torch.device("cpu"), jobs=2)
    assert cached.read_seconds == pytest.approx(0.003 * 60)
    assert cached.seconds == pytest.approx((expected - 3 * per_run_reading) / 2 + 0.003 * 60)
    # workers read beside the steps: a run takes the longer of the two
    slow = experiment.replace(num_workers=2)
    monkeypatch.setattr(projection, "read_seconds", lambda data: (1.0, False))
    busy = project(slow, [("image", 0)], train, test, torch.device("cpu"))
    assert busy.train_seconds == pytest.approx(2 * 40 * 1.0 / 2 + 20 * 0.01)


def test_the_line_says_what_and_how_long_and_the_profile_for_less():
    line = str(Projection(8, 2000, 90.0, 3.0, 2, "cpu (1 thread, x86_64)", "colab"))
    assert line == (
        "about 48 s to train 8 runs not trained before (2,000 steps, 2 at a time, timed on cpu "
        "(1 thread, x86_64); reading the regions 3 s); for less, ROIATTN_PROFILE=quick"
    )
    assert "for less" not in str(Projection(1, 5, 1.0, 0.0, 1, "cpu", "quick"))
    assert (minutes(42), minutes(300), minutes(9000)) == ("42 s", "5.0 min", "2.5 h")


def test_timing_leaves_the_random_state_and_threads_as_they_were():
    experiment = shapes("quick").replace(**TINY, epochs=1)
    train = ContextShapes(8, 32, seed=100)
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    made = project(experiment, [("attn-add@conv1", 0)], train, train, torch.device("cpu"), jobs=2)
    assert torch.equal(torch.get_rng_state(), state) and torch.get_num_threads() == threads
    assert made.device.startswith("cpu (1 thread")  # as each of the two parallel runs trains
    assert made.seconds > 0


def test_compare_says_the_time_before_training_and_nothing_when_all_is_loaded(tmp_path, capsys):
    experiment = shapes("quick").replace(**TINY, epochs=1)
    experiment.run(["image"], results_dir=tmp_path, jobs=1)
    out = capsys.readouterr().out.splitlines()
    said = [i for i, line in enumerate(out) if "to train 1 run not trained before" in line]
    trained = [i for i, line in enumerate(out) if line.startswith("image (seed 0)")]
    assert said and trained and said[0] < trained[0]  # before the training starts
    assert any("trained 1 run in" in line and "(projected" in line for line in out)
    experiment.run(["image"], results_dir=tmp_path, jobs=1)
    again = capsys.readouterr().out
    assert "not trained before" not in again and "runs loaded instead of trained" in again
