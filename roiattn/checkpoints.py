"""Checkpoints: everything a killed run needs to go on exactly where it stopped, and everything a
saved model needs to be rebuilt with nothing else (its method id, arch, classes).

Files are written atomically (a temporary file, then a rename), so a run killed while saving
leaves the previous checkpoint intact. They hold only tensors and plain Python values, so they
load with ``torch.load(weights_only=True)``: opening a checkpoint never runs code from it.
"""

from __future__ import annotations

import os
import pickle
import random
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from roiattn.errors import CheckpointError
from roiattn.models import build_model

CHECKPOINT_NAME = "last.pt"
FORMAT = "roiattn.checkpoint/2"


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside ``DistributedDataParallel`` (or the model itself)."""
    return getattr(model, "module", model)


def model_spec(model: nn.Module) -> dict[str, Any]:
    """What ``build_model`` needs to rebuild ``model``: method id, arch, classes count and the
    options that change its shape or behaviour."""
    model = unwrap(model)
    method = getattr(model, "method", "")
    if not method or not hasattr(model, "arch") or not hasattr(model, "num_classes"):
        raise ValueError(
            f"{type(model).__name__} is not a roiattn model (no method/arch/num_classes): "
            "build it with roiattn.build_model(method, ...)"
        )
    options = model.options() if hasattr(model, "options") else {}
    return {
        "method": method,
        "arch": model.arch,
        "num_classes": int(model.num_classes),
        "options": options,
    }


def rebuild_model(spec: dict[str, Any]) -> nn.Module:
    """A fresh model of the shape ``spec`` (from :func:`model_spec`) describes; no download, as
    its weights come from the checkpoint."""
    return build_model(
        spec["method"],
        spec["arch"],
        num_classes=spec["num_classes"],
        weights=None,
        **spec.get("options", {}),
    )


def rng_state() -> dict[str, Any]:
    """The state of every global random number generator a run may draw from."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Put every global random number generator back where :func:`rng_state` found it."""
    torch.set_rng_state(state["torch"])
    saved = state["numpy"]
    np.random.set_state(
        (
            saved["kind"],
            saved["keys"].numpy().astype(np.uint32),
            saved["position"],
            saved["has_gauss"],
            saved["cached"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        if len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_file(path: str | os.PathLike) -> Path:
    """A checkpoint file, or the ``last.pt`` inside a checkpoint folder."""
    path = Path(path)
    return path / CHECKPOINT_NAME if path.is_dir() else path


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    classes: list[str] | None = None,
    meta: dict[str, Any] | None = None,
    run: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically and return its path.

    ``meta`` describes the model's data (image size, view, ...); ``run`` is a training run's
    state (:meth:`roiattn.train.TrainState.state_dict`), for a run to resume from. Without it
    the file holds the model only (a fraction of the size).
    """
    path = Path(path)
    spec = model_spec(model)
    if classes is not None and len(classes) != spec["num_classes"]:
        raise ValueError(
            f"{len(classes)} class names for a model with {spec['num_classes']} outputs"
        )
    state = {
        **(run or {}),
        "format": FORMAT,
        **spec,
        "classes": list(classes) if classes is not None else None,
        "model": unwrap(model).state_dict(),
        "meta": meta or {},
        "rng": rng_state(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (a file or a folder holding
    ``last.pt``); a clear error when it is missing, truncated or not a roiattn checkpoint."""
    file = checkpoint_file(path)
    if not file.exists():
        raise FileNotFoundError(
            f"no checkpoint at {file}: give the file a training run wrote "
            f"(its --out folder holds {CHECKPOINT_NAME})"
        )
    try:
        state = torch.load(file, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError) as error:
        raise CheckpointError(
            f"cannot read the checkpoint {file} ({type(error).__name__}: {error}); it may be "
            "truncated or not a checkpoint: train again, or resume from an earlier copy"
        ) from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{file} is not a roiattn checkpoint (no '{FORMAT}' format mark): "
            "use a file written by roiattn's fit or save_checkpoint"
        )
    return state


def model_from_checkpoint(state: dict[str, Any], device: str | torch.device = "cpu") -> nn.Module:
    """The model a loaded checkpoint describes, with its weights, in eval mode; it carries
    ``classes`` and ``meta`` (image size, view) as attributes for ``predict``."""
    try:
        model = rebuild_model(state)
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as error:
        raise CheckpointError(
            f"the checkpoint's weights do not fit a {state.get('method')!r} "
            f"{state.get('arch')!r} model ({error})"
        ) from error
    model.classes = state.get("classes")
    model.meta = dict(state.get("meta") or {})
    return model.to(device).eval()
