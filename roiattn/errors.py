"""Every error roiattn raises on purpose, in one place.

Each is a subclass of the built-in error a caller would already catch (``ValueError`` for
input that cannot be used, ``OSError`` for a network or file failure), so ``except ValueError``
keeps working; the subclass names what went wrong. Every message names the thing that was
wrong and what to do about it.

- :class:`DataFileError`: an image, annotation file or label map that cannot be read.
- :class:`DownloadError`: a download that failed after its retries.
- :class:`WeightsUnavailableError`: pretrained weights that could not be downloaded or read.
- :class:`CheckpointError`: a checkpoint that cannot be read, or does not fit the run.
- :class:`UsageError`: a command-line request that cannot be carried out.
"""

from __future__ import annotations


class DataFileError(ValueError):
    """A data file (image, annotation file, label map) that cannot be read; the message names
    the file and says what to do."""


class DownloadError(OSError):
    """A download that failed after its retries; the message names the URL and what to do."""


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be downloaded or read; the message says where to put the
    file by hand."""


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, or that does not fit the run it is used for."""


class UsageError(ValueError):
    """A problem with what the user asked for on the command line, reported as one line."""
