"""Progress bars that leave their finished state in a saved notebook.

``tqdm.auto`` draws a widget in a notebook; the notebook file keeps the widget's state and, as the
text other viewers show, whatever the bar said when it appeared: ``0%| | 0/804``. Where the widget
state is not rendered (GitHub, nbviewer, Jupyter with the state dropped) a finished run would look
stalled. :func:`progress_bar` shows the widget through a display handle and, when the bar
closes, updates that output, so the saved text is the final count and time.
"""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm

try:
    from tqdm.notebook import tqdm as notebook_tqdm
except ImportError:  # pragma: no cover - tqdm always has it, ipywidgets may not
    notebook_tqdm = None

IN_NOTEBOOK = notebook_tqdm is not None and issubclass(tqdm, notebook_tqdm)


class ProgressBar(tqdm):
    """``tqdm.auto``'s bar, whose notebook output ends in its final state (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if IN_NOTEBOOK:
            kwargs["display"] = False
        super().__init__(*args, **kwargs)
        self._handle = None
        if IN_NOTEBOOK and not self.disable:
            from IPython.display import display

            self._handle = display(self.container, display_id=True)

    def close(self) -> None:
        super().close()
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None:
            handle.update(self.container)


def progress_bar(iterable: Any = None, **options: Any) -> ProgressBar:
    """A progress bar over ``iterable`` (or a manual one with ``total``), as ``tqdm.auto``'s."""
    return ProgressBar(iterable, **options)
