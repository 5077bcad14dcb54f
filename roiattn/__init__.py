"""roiattn: classify one region of an image with a CNN that takes the region's mask as a second
input (Eppel 2018, arXiv 1812.00291), and every baseline it is compared with."""

from roiattn.masks import RESIZE_MODES, as_mask_batch, resize_mask
from roiattn.models import METHODS, ROIAttentionNet, build_model
from roiattn.profiles import Profile

__version__ = "0.1.0"

__all__ = [
    "METHODS",
    "RESIZE_MODES",
    "Profile",
    "ROIAttentionNet",
    "__version__",
    "as_mask_batch",
    "build_model",
    "resize_mask",
]
