"""What a CUDA run does differently, exercised without a GPU: DataLoader workers inside a Jupyter
kernel (the datasets pickle, persistent workers, the same batches and weights as without
workers, under fork and under forkserver, Python 3.14's default), pinned memory, the
mixed-precision step of a T4 (fp16 autocast with loss scaling), and a run that a disconnect
kills in one process and a fresh process resumes. What only a GPU can show is listed in
book/running.md."""

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
import torch
from jupyter_client.manager import start_new_kernel

from roiattn import colab
from roiattn.data import ContextShapes
from roiattn.experiments import shapes
from roiattn.models import build_model
from roiattn.runtime import Precision, choose_precision
from roiattn.train import TrainSettings
from roiattn.train.fit import _loader
from roiattn.train.steps import train_step

TESTS = Path(__file__).parent


def test_region_datasets_pickle_to_the_same_items(coco_root):
    from roiattn.data import COCORegions

    for data in (
        ContextShapes(4, 32, seed=3),
        COCORegions(coco_root, "val2017", image_size=32),
        ContextShapes(4, 32, seed=3).subset([3, 1]),
        ContextShapes(4, 32, seed=3).cached(),
    ):
        again = pickle.loads(pickle.dumps(data))
        for index in (0, len(data) - 1):
            a, b = data[index], again[index]
            assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
            assert a["label"] == b["label"]


KERNEL_CODE = """
import multiprocessing
import torch
from roiattn.data import ContextShapes
from roiattn.models import build_model
from roiattn.train import TrainSettings, fit
from roiattn.train.fit import _loader

multiprocessing.set_start_method({method!r}, force=True)
torch.set_num_threads(1)
data = ContextShapes(6, 32, seed=5)  # 30 regions
settings = TrainSettings(epochs=2, batch_size=8, seed=3)


def batches(workers):
    loader = _loader(data, settings.replace(num_workers=workers), torch.device("cpu"))
    loader.sampler.indices = list(range(len(data)))[::-1]
    return [batch["image"] for batch in loader]


same_batches = all(torch.equal(a, b) for a, b in zip(batches(0), batches(2), strict=True))
runs = {{}}
for workers in (0, 2):
    torch.manual_seed(0)
    model = build_model("attn-add@conv1", "resnet10_w32", num_classes=len(data.classes))
    history = fit(model, data, settings.replace(num_workers=workers), progress=False)
    runs[workers] = (model.state_dict(), history.loss)
same_weights = all(torch.equal(a, b) for a, b in zip(runs[0][0].values(), runs[2][0].values()))
print("RESULT", same_batches, same_weights, runs[0][1] == runs[2][1], len(runs[0][1]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_workers_in_a_jupyter_kernel_give_the_same_batches_and_weights(method):
    manager, client = start_new_kernel(kernel_name="python3")
    lines = []

    def keep(message):
        if message["msg_type"] == "stream":
            lines.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            lines.append("\n".join(message["content"]["traceback"]))

    try:
        reply = client.execute_interactive(
            KERNEL_CODE.format(method=method), timeout=300, output_hook=keep
        )
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    text = "".join(lines)
    assert reply["content"]["status"] == "ok", text
    result = [line for line in text.splitlines() if line.startswith("RESULT")]
    # same batches, same weights, same losses, over two epochs (persistent workers)
    assert result == ["RESULT True True True 6"], text


def test_batches_are_pinned_for_a_gpu_and_not_on_the_cpu():
    data = ContextShapes(2, 32, seed=1)
    settings = TrainSettings(batch_size=4, num_workers=2)
    assert _loader(data, settings, torch.device("cuda")).pin_memory
    assert not _loader(data, settings, torch.device("cpu")).pin_memory
    assert _loader(data, settings, torch.device("cpu")).persistent_workers
    assert not _loader(
        data, settings.replace(num_workers=0), torch.device("cpu")
    ).persistent_workers


def test_a_t4_trains_in_fp16_with_loss_scaling(monkeypatch):
    """The T4 has no bf16: fp16 autocast, whose small range needs the loss scaled. The step that
    runs there, run here on the CPU: the branch computes in fp16, the scaler skips a step whose
    gradients overflow and halves its scale, and the next good step trains."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    t4 = choose_precision(torch.device("cuda"), None)
    assert (t4.dtype, t4.scale_loss, str(t4)) == (
        torch.float16,
        True,
        "float16 autocast + loss scaling",
    )
    precision = Precision(True, torch.float16, True)  # the same branch of train_step, on the CPU
    torch.manual_seed(0)
    model = build_model("attn-add@conv1", "resnet10_w32", num_classes=3)
    dtypes = []
    model.branches["conv1"].register_forward_hook(
        lambda module, args, out: dtypes.append(out.dtype)
    )
    images = torch.randn(4, 3, 32, 32)
    masks = torch.zeros(4, 1, 32, 32)
    masks[:, :, 8:20, 8:20] = 1
    labels = torch.tensor([0, 1, 2, 0])
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    loss, _ = train_step(model, images, masks, labels, optimizer, scaler, precision)
    assert dtypes == [torch.float16] and torch.isfinite(loss) and loss.dtype == torch.float32
    assert scaler.get_scale() == 2.0**10
    before = [p.detach().clone() for p in model.parameters()]
    overflow = images.clone()
    overflow[0, 0, 0, 0] = float("inf")
    train_step(model, overflow, masks, labels, optimizer, scaler, precision)
    assert scaler.get_scale() == 2.0**9  # halved, and the step skipped
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    train_step(model, images, masks, labels, optimizer, scaler, precision)
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


RUN_SCRIPT = """
import os, signal, sys
import torch
import roiattn.train.steps as steps
from roiattn.experiments import shapes

torch.set_num_threads(1)
kill_at = int(sys.argv[2])
step = steps.train_step
calls = 0


def dies_at(*args, **kwargs):
    global calls
    calls += 1
    if calls == kill_at:  # the session disconnects, between two checkpoints
        os.kill(os.getpid(), signal.SIGKILL)
    return step(*args, **kwargs)


steps.train_step = dies_at
experiment = shapes("quick").replace(train_scenes=12, test_scenes=4, image_size=32, epochs=3,
                                     batch_size=8, seeds=(0,))
experiment.run(["attn-add@conv1"], results_dir=sys.argv[1], save_models=True,
               checkpoint_every=3, jobs=1, progress=False)
print("STEPS", calls)
"""


@pytest.mark.slow
def test_a_run_killed_in_one_process_resumes_in_another_to_the_same_weights(tmp_path):
    """A chapter's comparison, killed mid-run as a disconnect kills it, then run again by a new
    process on the same data folder (Drive): it resumes from the run's last checkpoint and ends
    with the weights of a run that was never interrupted."""

    def run(folder, kill_at):
        return subprocess.run([sys.executable, "-c", RUN_SCRIPT, str(folder), str(kill_at)],
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    # 60 regions in batches of 8: 7 steps an epoch, 21 in all; killed at step 11 of 21
    killed = run(tmp_path / "drive", 11)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    checkpoints = list((tmp_path / "drive" / "runs").glob("*.ckpt/last.pt"))
    assert len(checkpoints) == 1 and not list((tmp_path / "drive" / "runs").glob("*.json"))
    assert torch.load(checkpoints[0], weights_only=True)["step"] == 9  # the last one before
    resumed = run(tmp_path / "drive", 0)
    assert resumed.returncode == 0, resumed.stderr
    assert "STEPS 12" in resumed.stdout  # steps 10 to 21 only: it went on, not afresh
    assert not list((tmp_path / "drive" / "runs").glob("*.ckpt"))  # done: checkpoint removed
    never = run(tmp_path / "local", 0)
    assert never.returncode == 0, never.stderr
    assert "STEPS 21" in never.stdout
    (a,) = (tmp_path / "drive" / "runs").glob("*.pt")
    (b,) = (tmp_path / "local" / "runs").glob("*.pt")
    assert a.name == b.name  # the same run, by its key
    weights_a = torch.load(a, weights_only=True)["model"]
    weights_b = torch.load(b, weights_only=True)["model"]
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    # and a third start finds the run finished: it loads it and trains nothing
    again = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from roiattn.experiments import shapes
        e = shapes("quick").replace(train_scenes=12, test_scenes=4, image_size=32, epochs=3,
                                    batch_size=8, seeds=(0,))
        c = e.run(["attn-add@conv1"], results_dir={str(tmp_path / "drive")!r}, save_models=True)
        print("CACHED", c.provenance["cached"])
        """)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert "CACHED ['attn-add@conv1@0']" in again.stdout, again.stderr
    assert "not trained before" not in again.stdout  # nothing to project


def test_keep_on_drive_mounts_drive_and_moves_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    with pytest.raises(RuntimeError, match="only Colab can do: elsewhere set ROIATTN_DATA"):
        colab.keep_on_drive()
    mounted = []
    drive = types.SimpleNamespace(mount=lambda point: mounted.append(point))
    google_colab = types.ModuleType("google.colab")
    google_colab.drive = drive
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", google_colab)
    monkeypatch.setattr(colab, "MOUNT_POINT", tmp_path / "drive")
    monkeypatch.setenv("ROIATTN_DATA", str(tmp_path / "local"))
    folder = colab.keep_on_drive("book")
    assert mounted == [str(tmp_path / "drive")]
    assert folder == tmp_path / "drive" / "MyDrive" / "book" and folder.is_dir()
    assert os.environ["ROIATTN_DATA"] == str(folder)
    assert shapes("quick").replace(seeds=(0,)).name == "shapes"
    from roiattn.experiments import results_dir

    assert results_dir() == folder / "results"  # runs and checkpoints go to Drive
