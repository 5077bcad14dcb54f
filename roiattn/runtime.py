"""Where and how a model runs: the device, mixed precision, memory layout, and moving a batch
there.

Kept in one place so that ``fit``, ``evaluate`` and ``bench train`` run the same way: a speed
measured by the benchmark is the speed ``fit`` gets.
"""

from __future__ import annotations

import contextlib
import platform
from dataclasses import dataclass

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` means CUDA when there is a GPU, else the CPU; anything else is checked."""
    if isinstance(device, torch.device):
        chosen = device
    elif device == "auto":
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            chosen = torch.device(device)
        except (RuntimeError, TypeError):
            raise ValueError(
                f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'"
            ) from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} asked for, but this machine has no CUDA GPU that torch can use: "
            "use device='auto' or 'cpu'"
        )
    if chosen.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported here: use 'auto', 'cpu' or 'cuda'")
    return chosen


def describe_device(device: torch.device) -> str:
    """A line for provenance: which GPU, or which CPU with how many threads."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    cpu = platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads != 1 else ''}, {cpu})"


@dataclass(frozen=True)
class Precision:
    """How a forward pass runs: autocast on or off, in which dtype, and whether the loss needs
    scaling (fp16 only: its small range underflows gradients, bf16's does not)."""

    enabled: bool
    dtype: torch.dtype | None
    scale_loss: bool

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype)

    def __str__(self) -> str:
        if not self.enabled:
            return "fp32"
        name = str(self.dtype).removeprefix("torch.")
        return f"{name} autocast" + (" + loss scaling" if self.scale_loss else "")


def choose_precision(device: torch.device, amp: bool | None = None) -> Precision:
    """Mixed precision on CUDA (bf16 where the GPU supports it, else fp16 with loss scaling);
    full precision on the CPU. ``amp=None`` means "on where it helps"."""
    if amp is None:
        amp = device.type == "cuda"
    if not amp:
        return Precision(False, None, False)
    if device.type != "cuda":
        raise ValueError(
            "mixed precision (amp) needs a CUDA device; on the CPU use amp=False "
            "(or amp=None to choose automatically)"
        )
    if torch.cuda.is_bf16_supported():
        return Precision(True, torch.bfloat16, False)
    return Precision(True, torch.float16, True)


def use_channels_last(device: torch.device, channels_last: bool | None) -> bool:
    """``None`` means on for CUDA (tensor cores want NHWC), off on the CPU."""
    return device.type == "cuda" if channels_last is None else bool(channels_last)


def to_device(
    batch: dict[str, torch.Tensor], device: torch.device, channels_last: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(images, masks, labels)`` on ``device``, asynchronously from pinned memory on CUDA."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    images = batch["image"].to(device, non_blocking=True, memory_format=layout)
    masks = batch["mask"].to(device, non_blocking=True, memory_format=layout)
    labels = batch["label"].to(device, non_blocking=True)
    return images, masks, labels
