"""Training with DistributedDataParallel: two CPU processes under torchrun with gloo. Each takes
its own share of every epoch, their weights stay identical, rank 0 alone logs and saves; and the
command line trains the same way."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from synthetic_regions import TinyRegions

from roiattn import distributed
from roiattn.train import epoch_order

TESTS = Path(__file__).parent

SCRIPT = """
import json, sys, torch
sys.path.insert(0, {tests!r})
from synthetic_regions import TinyRegions
from roiattn import distributed
from roiattn.models import build_model
from roiattn.train import TrainSettings, fit
from roiattn.cli import main

torch.set_num_threads(1)
assert distributed.launched_by_torchrun()
group = distributed.init()
assert group.world_size == 2 and torch.distributed.get_backend() == "gloo"
assert distributed.current() == group and distributed.init() == group
assert group.device(torch.device("cpu")) == torch.device("cpu")
total = group.sum(torch.tensor([group.rank + 1.0, 10.0]))
group.barrier()

class Recording(TinyRegions):
    seen = []
    def __getitem__(self, index):
        self.seen.append(index)
        return super().__getitem__(index)

torch.manual_seed(0)
model = build_model("attn-add@conv1", "resnet18", num_classes=3)
initial = {{k: v.clone() for k, v in model.state_dict().items()}}
data = Recording(20)
history = fit(model, data, TrainSettings(epochs=2, batch_size=3, lr=1e-3),
              val_data=TinyRegions(7, seed=1), checkpoint_dir={out!r} + "/fit", progress=False)
torch.save({{"state": model.state_dict(), "initial": initial, "seen": data.seen,
            "history": history.to_dict(), "total": total}}, {out!r} + f"/rank{{group.rank}}.pt")

# the command line, in the same two processes (it leaves the process group at the end)
code = main(["train", "image", "--experiment", "shapes", "--train-scenes", "4",
             "--test-scenes", "2", "--image-size", "32", "--arch", "resnet18", "--epochs", "1",
             "--batch-size", "4", "--out", {out!r} + "/cli", "--no-progress",
             "--profile", "quick"])
print("exit", group.rank, code)
"""


@pytest.fixture(scope="module")
def torchrun(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    script = out / "script.py"
    script.write_text(SCRIPT.format(tests=str(TESTS), out=str(out)))
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(script)],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done.stdout


def test_two_processes_share_each_epoch_and_keep_the_same_weights(torchrun):
    out, _ = torchrun
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    for name, value in ranks[0]["state"].items():  # parameters and BatchNorm's buffers
        assert torch.equal(value, ranks[1]["state"][name]), name
    assert not torch.equal(ranks[0]["state"]["backbone.fc.weight"],
                           ranks[0]["initial"]["backbone.fc.weight"])  # fmt: skip
    assert ranks[0]["total"].tolist() == ranks[1]["total"].tolist() == [3.0, 20.0]
    # 20 items, 10 per process, batches of 3: 3 steps an epoch on each process
    history = ranks[0]["history"]
    assert history["step"] == list(range(1, 7))
    assert history["loss"] == ranks[1]["history"]["loss"]  # the loss is averaged over both
    assert history["settings"]["world_size"] == 2 and history["settings"]["train_items"] == 20
    assert (
        history["epochs"][-1]["val_accuracy"] == ranks[1]["history"]["epochs"][-1]["val_accuracy"]
    )
    seen = [r["seen"] for r in ranks]
    per_epoch = [s[:9] for s in seen]  # 3 batches of 3 in the first epoch
    assert not set(per_epoch[0]) & set(per_epoch[1])  # each its own share
    assert len(seen[0]) == len(seen[1]) == 18  # 2 epochs of 3 batches of 3


def test_rank_0_alone_writes_checkpoints_and_logs(torchrun):
    out, stdout = torchrun
    assert [p.name for p in (out / "fit").iterdir()] == ["last.pt"]
    assert stdout.count("shapes/quick [arch=resnet18, ") == 1  # the command line printed once
    assert stdout.count("checkpoints: ") == 1 and ", 2 processes" in stdout
    assert stdout.count("History(image: ") == 1
    assert stdout.count("top-1 ") == 1  # the report of the test evaluation
    assert "exit 0 0" in stdout and "exit 1 0" in stdout
    history = json.loads((out / "cli" / "history.json").read_text())
    assert history["settings"]["world_size"] == 2
    assert (out / "cli" / "last.pt").exists() and (out / "cli" / "report.json").exists()


def test_each_process_gets_an_equal_disjoint_share():
    data = TinyRegions(11)
    order = epoch_order(data, None, 0, 3)
    shares = [distributed.Group(r, 2).share(order) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 5
    assert not set(shares[0]) & set(shares[1])
    assert set(shares[0]) | set(shares[1]) == set(order[:10])  # the odd one out is left out
    sampler = list(range(11))  # a sampler of one's own is shared out the same way
    own = [distributed.Group(r, 2).share(epoch_order(data, sampler, 0, 0)) for r in (0, 1)]
    assert own == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]
    thirds = [distributed.Group(r, 3).share(sampler) for r in (0, 1, 2)]
    assert thirds == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    # under torchrun on CUDA each process takes the GPU of its local rank
    second = distributed.Group(rank=1, world_size=2, local_rank=1)
    assert second.device(torch.device("cuda")) == torch.device("cuda", 1)
    assert second.device(torch.device("cpu")) == torch.device("cpu")
    assert not second.is_main and second.distributed


def test_outside_torchrun_a_group_of_one(monkeypatch):
    for name in distributed.TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert not distributed.launched_by_torchrun()
    group = distributed.init()
    assert (group.rank, group.world_size, group.is_main, group.distributed) == (0, 1, True, False)
    assert distributed.current() == group
    values = torch.tensor([1.0, 2.0])
    assert torch.equal(group.sum(values), values)
    model = torch.nn.Linear(2, 2)
    assert group.wrap(model) is model  # no DistributedDataParallel for one process
    assert group.device(torch.device("cuda")) == torch.device("cuda")
    assert group.share([4, 2, 7]) == [4, 2, 7]
    group.sync_buffers(model)  # nothing to do: these return at once
    group.barrier()
    distributed.shutdown()
