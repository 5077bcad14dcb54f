"""Google Colab: keep the book's data on Google Drive, so that a disconnect loses nothing.

A Colab session's disk (``/content``, and ``~/.cache`` with it) is wiped when the session ends or
disconnects. :func:`keep_on_drive` mounts the reader's Drive and points ``$ROIATTN_DATA`` there,
so that downloads, trained runs and their checkpoints (one file per run, written whole and then
renamed) outlive the session: a chapter run again loads its finished runs and resumes the
unfinished one from its last checkpoint.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from roiattn.data.paths import DATA_ENV

MOUNT_POINT = Path("/content/drive")


def in_colab() -> bool:
    """Whether this kernel runs in Google Colab."""
    return "google.colab" in sys.modules


def keep_on_drive(folder: str = "roiattn") -> Path:
    """Mount Google Drive (Colab asks for permission) and keep ``$ROIATTN_DATA`` in
    ``MyDrive/<folder>``; returns that folder. Outside Colab, an error saying what to do."""
    if not in_colab():
        raise RuntimeError(
            "keep_on_drive() mounts Google Drive, which only Colab can do: elsewhere set "
            f"{DATA_ENV} to a folder that lasts (the default, ~/.cache/roiattn, already does)"
        )
    from google.colab import drive

    drive.mount(str(MOUNT_POINT))
    data = MOUNT_POINT / "MyDrive" / folder
    data.mkdir(parents=True, exist_ok=True)
    os.environ[DATA_ENV] = str(data)
    print(f"{DATA_ENV} is now {data}: downloads, runs and checkpoints are kept on Drive")
    return data
