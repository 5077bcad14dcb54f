"""Region classifiers: the paper's attention branch and every baseline, built by method id."""

from roiattn.models.attention import MERGE_OPS, AttentionBranch, ROIAttentionNet
from roiattn.models.backbone import (
    MERGE_POINTS,
    RESNET_ARCHS,
    SMALL_RESNETS,
    SmallResNet,
    make_resnet,
    resnet_forward,
    stage_channels,
)
from roiattn.models.base import RegionClassifier, check_inputs
from roiattn.models.baselines import (
    HARD_POINTS,
    CropNet,
    HardAttentionNet,
    ImageOnlyNet,
    MaskChannelNet,
    mask_boxes,
)
from roiattn.models.factory import METHODS, build_model, method_options

__all__ = [
    "AttentionBranch",
    "CropNet",
    "HARD_POINTS",
    "HardAttentionNet",
    "ImageOnlyNet",
    "MERGE_OPS",
    "MERGE_POINTS",
    "METHODS",
    "MaskChannelNet",
    "RESNET_ARCHS",
    "ROIAttentionNet",
    "RegionClassifier",
    "SMALL_RESNETS",
    "SmallResNet",
    "build_model",
    "check_inputs",
    "make_resnet",
    "mask_boxes",
    "method_options",
    "resnet_forward",
    "stage_channels",
]
