"""roiattn: classify one region of an image with a CNN that takes the region's mask as a second
input (Eppel 2018, arXiv 1812.00291), and every baseline it is compared with."""

from roiattn import profiles
from roiattn.evaluate import Report, evaluate
from roiattn.experiments import Comparison, compare, load_results
from roiattn.masks import RESIZE_MODES, as_mask_batch, resize_mask
from roiattn.models import METHODS, ROIAttentionNet, build_model
from roiattn.predict import load_model, predict
from roiattn.profiles import Profile
from roiattn.train import History, fit

__version__ = "0.1.0"

__all__ = [
    "METHODS",
    "RESIZE_MODES",
    "Comparison",
    "History",
    "Profile",
    "ROIAttentionNet",
    "Report",
    "__version__",
    "as_mask_batch",
    "build_model",
    "compare",
    "evaluate",
    "fit",
    "load_model",
    "load_results",
    "predict",
    "profiles",
    "resize_mask",
]
