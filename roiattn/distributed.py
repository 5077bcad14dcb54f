"""Training on several GPUs (or CPU processes) with ``torchrun``, as one thin layer.

``torchrun --nproc_per_node=N -m roiattn train ...`` starts N copies of the command; each calls
:func:`init`, which joins them into one process group (NCCL on CUDA, gloo on the CPU).
:func:`current` then returns this process's :class:`Group`, and ``fit`` asks it for everything
that differs between one process and many: the device, the wrapped model, this process's share
of an epoch, sums over processes, and who writes. A group of one answers each question as a
single process would, so the training loop has no branch for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

TORCHRUN_VARIABLES: tuple[str, ...] = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")


@dataclass(frozen=True)
class Group:
    """Where this process stands: its rank among ``world_size`` processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, shows progress and writes checkpoints; the others only compute."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def device(self, device: torch.device) -> torch.device:
        """Under torchrun on CUDA, each process trains on the GPU of its local rank."""
        if self.distributed and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def wrap(self, model: nn.Module) -> nn.Module:
        """The model as this process trains it: inside ``DistributedDataParallel`` (which
        averages the gradients over processes) when there are several."""
        if not self.distributed:
            return model
        device = next(model.parameters()).device
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def share(self, order: list[int]) -> list[int]:
        """This process's items of an epoch's order: every ``world_size``-th, from its rank, of
        the longest prefix that divides evenly (so every process takes as many steps)."""
        usable = len(order) // self.world_size * self.world_size
        return order[self.rank : usable : self.world_size]

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` summed over every process (unchanged in a group of one)."""
        if not self.distributed:
            return values
        backend = dist.get_backend()
        device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else "cpu"
        total = values.detach().to(device, torch.float64).clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total.to(values.device)

    def sync_buffers(self, model: nn.Module) -> None:
        """Give every process rank 0's buffers (BatchNorm's running statistics). DDP keeps the
        parameters equal, but each process updates its running statistics from its own
        batches; this makes the models equal again before they are evaluated or saved."""
        if self.distributed:
            for buffer in model.buffers():
                dist.broadcast(buffer.data, src=0)

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.distributed:
            dist.barrier()


def launched_by_torchrun() -> bool:
    """True inside a process that ``torchrun`` started (its environment variables are set)."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def current() -> Group:
    """The process group this process is in (a group of one when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return Group()
    return Group(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def init(backend: str | None = None) -> Group:
    """Join the process group ``torchrun`` set up: NCCL when CUDA is there, else gloo. Each
    process uses the GPU of its local rank. Outside torchrun, a group of one."""
    if not launched_by_torchrun():
        return Group()
    if not dist.is_available():
        raise RuntimeError("this torch build has no torch.distributed: install a standard build")
    if dist.is_initialized():
        return current()
    local_rank = int(os.environ["LOCAL_RANK"])
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"local rank {local_rank} has no GPU (this node has {torch.cuda.device_count()}): "
                "start torchrun with --nproc_per_node at most the number of GPUs"
            )
        torch.cuda.set_device(local_rank)
        dist.init_process_group(backend, device_id=torch.device("cuda", local_rank))
    else:
        dist.init_process_group(backend)
    return current()


def shutdown() -> None:
    """Leave the process group (at the end of a torchrun command)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
