"""Where roiattn keeps data, and how a path is shown so that printed output travels.

A notebook's saved output, a results file and a checkpoint are read on other machines; the
absolute path of the machine that made them would mean nothing there, so they show paths
relative to the folder a reader also has: ``$ROIATTN_COCO_ROOT``, ``$ROIATTN_DATA`` (its default,
``~/.cache/roiattn``), or ``~``.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "ROIATTN_DATA"
COCO_ROOT_ENV = "ROIATTN_COCO_ROOT"


def default_data_dir() -> Path:
    """Where downloads, generated data and results go: ``$ROIATTN_DATA``, else
    ``~/.cache/roiattn``."""
    value = os.environ.get(DATA_ENV, "").strip()
    return Path(value).expanduser() if value else Path.home() / ".cache" / "roiattn"


def display_path(path: str | os.PathLike) -> str:
    """``path`` as printed output shows it: under ``$ROIATTN_COCO_ROOT``, ``$ROIATTN_DATA`` or
    ``~`` when it lies there, else only its last two parts (``.../parent/name``)."""
    path = Path(path).expanduser().absolute()
    anchors = []
    coco_root = os.environ.get(COCO_ROOT_ENV, "").strip()
    if coco_root:
        anchors.append((Path(coco_root).expanduser().absolute(), f"${COCO_ROOT_ENV}"))
    if os.environ.get(DATA_ENV, "").strip():
        anchors.append((default_data_dir().absolute(), f"${DATA_ENV}"))
    anchors.append((Path.home().absolute(), "~"))
    for anchor, name in anchors:
        try:
            relative = path.relative_to(anchor)
        except ValueError:
            continue
        return name if relative == Path(".") else f"{name}/{relative.as_posix()}"
    return ".../" + "/".join(path.parts[-2:])
