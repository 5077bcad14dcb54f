"""The pieces of a training run, each small enough to read at once: the order of an epoch's items,
the optimizer and its schedule, one step, and one epoch of steps.

Chapter 4 writes the plainest version of ``train_step`` and ``train_one_epoch`` itself and shows
that :func:`~roiattn.train.fit`, built from these, ends with the very same weights.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Sampler

from roiattn.data.regions import RegionDataset
from roiattn.runtime import Precision, to_device
from roiattn.train.settings import TrainSettings

if TYPE_CHECKING:
    from roiattn.train.state import TrainState

FP32 = Precision(False, None, False)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch of one run."""
    digest = hashlib.sha256(f"{seed}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


@contextmanager
def _seeded_globals(seed: int) -> Iterator[None]:
    """Run a block with torch, numpy and python's global RNGs seeded, then put them back."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)
            random.setstate(python_state)


def epoch_order(
    data: RegionDataset, sampler: Sampler | Sequence[int] | None, seed: int, epoch: int
) -> list[int]:
    """The items of one epoch, in order: a function of ``(seed, epoch)`` only, so a resumed run
    draws exactly the batches the interrupted one would have.

    Without a sampler, a shuffle of every item seeded with ``seed + epoch``, as torch's
    ``DistributedSampler`` shuffles. A sampler of your own (class-balanced, ...) is seeded for
    the epoch: its ``set_epoch`` is called, its own ``generator`` reseeded, and the global RNGs
    it might use are seeded.
    """
    if sampler is None:
        generator = torch.Generator().manual_seed(seed + epoch)
        return torch.randperm(len(data), generator=generator).tolist()
    seed = epoch_seed(seed, epoch)
    with _seeded_globals(seed):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        generator = getattr(sampler, "generator", None)
        if isinstance(generator, torch.Generator):
            generator.manual_seed(seed)
        order = [int(i) for i in sampler]
    if order and (min(order) < 0 or max(order) >= len(data)):
        bad = max(order) if max(order) >= len(data) else min(order)
        raise ValueError(
            f"the sampler gave index {bad} for a dataset of {len(data)} items: build it over "
            "the training data"
        )
    return order


def make_optimizer(
    model: nn.Module, settings: TrainSettings, device: torch.device
) -> torch.optim.Optimizer:
    """AdamW, Adam or SGD with Nesterov momentum over ``model``'s parameters; the parameters that
    read the mask get ``lr * branch_lr_scale`` (one group when the scale is 1). Fused kernels on
    CUDA."""
    parameters: Any = list(model.parameters())
    branch = model.mask_parameters() if hasattr(model, "mask_parameters") else []
    if settings.branch_lr_scale != 1 and branch:
        ids = {id(p) for p in branch}
        parameters = [
            {"params": [p for p in parameters if id(p) not in ids]},
            {"params": branch, "lr": settings.lr * settings.branch_lr_scale},
        ]
    options: dict[str, Any] = {"lr": settings.lr, "weight_decay": settings.weight_decay}
    if device.type == "cuda":
        options["fused"] = True
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(parameters, **options)
    if settings.optimizer == "adam":
        return torch.optim.Adam(parameters, **options)
    return torch.optim.SGD(parameters, momentum=0.9, nesterov=True, **options)


def make_schedule(
    optimizer: torch.optim.Optimizer, settings: TrainSettings, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """``cosine``: every group's rate from its start down to 0 over ``total_steps``;
    ``constant``: the start rate throughout (the paper's)."""
    if settings.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def train_step(
    model: nn.Module,
    images: Tensor,
    masks: Tensor,
    labels: Tensor,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None = None,
    precision: Precision = FP32,
    grad_clip: float | None = None,
) -> tuple[Tensor, Tensor]:
    """One optimizer step on one batch; returns (loss, number correct) as tensors, without
    waiting for the GPU. With mixed precision the forward pass runs under autocast and fp16's
    loss is scaled; ``grad_clip`` caps the gradient's norm."""
    with precision.autocast(images.device):
        logits = model(images, masks)
    loss = F.cross_entropy(logits.float(), labels)
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        if grad_clip is not None:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
    return loss.detach(), (logits.detach().argmax(1) == labels).sum()


def train_one_epoch(
    net: nn.Module,
    batches: Iterable[dict[str, Tensor]],
    state: TrainState,
    after_step: Callable[[TrainState], bool],
) -> None:
    """Train on the batches of one epoch; ``after_step(state)`` runs after every step (progress,
    checkpoints) and returns False to stop early (``max_steps``)."""
    net.train()
    for batch in batches:
        images, masks, labels = to_device(batch, state.device, state.channels_last)
        rate = state.optimizer.param_groups[0]["lr"]
        loss, correct = train_step(
            net,
            images,
            masks,
            labels,
            state.optimizer,
            state.scaler,
            state.precision,
            state.settings.grad_clip,
        )
        state.scheduler.step()
        state.count_step(loss, correct, len(labels), rate)
        if not after_step(state):
            return
