"""roiattn: classify one region of an image with a CNN that takes the region's mask as a second
input (Eppel 2018, arXiv 1812.00291), and every baseline it is compared with.

The modules, by job: :mod:`roiattn.masks` (resizing masks), :mod:`roiattn.models` (every
method), :mod:`roiattn.data` (region datasets), :mod:`roiattn.train` (the loop),
:mod:`roiattn.evaluate` (accuracy per size bin, and how far to trust it),
:mod:`roiattn.experiments` (the book's experiments, defined once), :mod:`roiattn.profiles`
(quick, colab or paper), :mod:`roiattn.colab` (keeping the data on Google Drive),
:mod:`roiattn.errors` (every error roiattn raises on purpose),
:mod:`roiattn.exercises` (the checks of the chapters' exercises), :mod:`roiattn.wording`
(the phrasings that make a chapter's sentences follow its numbers).
"""

from roiattn import exercises, profiles, wording
from roiattn.errors import (
    CheckpointError,
    DataFileError,
    DownloadError,
    UsageError,
    WeightsUnavailableError,
)
from roiattn.experiments import Comparison, Experiment, compare, load_results
from roiattn.masks import RESIZE_MODES, as_mask_batch, resize_mask
from roiattn.models import METHODS, ROIAttentionNet, build_model
from roiattn.profiles import Profile
from roiattn.train import History, TrainSettings, fit

__version__ = "0.3.0"

__all__ = [
    "METHODS",
    "RESIZE_MODES",
    "CheckpointError",
    "Comparison",
    "DataFileError",
    "DownloadError",
    "Experiment",
    "History",
    "Profile",
    "ROIAttentionNet",
    "TrainSettings",
    "UsageError",
    "WeightsUnavailableError",
    "__version__",
    "as_mask_batch",
    "build_model",
    "compare",
    "exercises",
    "fit",
    "load_results",
    "profiles",
    "resize_mask",
    "wording",
]
