"""Region classifiers: the paper's attention branch and every baseline, built by method id,
over any backbone reached through one small interface (merge points and ``walk``)."""

from roiattn.models.archs import ARCHS, make_backbone
from roiattn.models.attention import MERGE_OPS, AttentionBranch, ROIAttentionNet
from roiattn.models.backbone import (
    INPUT,
    MERGE_POINTS,
    POINT_ALIASES,
    Backbone,
    MergePoint,
    PointError,
)
from roiattn.models.base import RegionClassifier, check_inputs
from roiattn.models.baselines import (
    BlurNet,
    CropNet,
    HardAttentionNet,
    ImageOnlyNet,
    MaskChannelNet,
    blur_background,
    crop_to_mask,
    mask_boxes,
)
from roiattn.models.efficientnet_lite import EfficientNetLite, make_efficientnet_lite
from roiattn.models.factory import METHODS, build_model, method_options
from roiattn.models.resnet import (
    RESNET_ARCHS,
    SMALL_RESNETS,
    ResNetBackbone,
    SmallResNet,
    make_resnet,
)

__all__ = [
    "ARCHS",
    "AttentionBranch",
    "Backbone",
    "BlurNet",
    "CropNet",
    "EfficientNetLite",
    "INPUT",
    "HardAttentionNet",
    "ImageOnlyNet",
    "MERGE_OPS",
    "MERGE_POINTS",
    "METHODS",
    "MaskChannelNet",
    "MergePoint",
    "POINT_ALIASES",
    "RESNET_ARCHS",
    "ROIAttentionNet",
    "RegionClassifier",
    "ResNetBackbone",
    "SMALL_RESNETS",
    "SmallResNet",
    "blur_background",
    "build_model",
    "PointError",
    "check_inputs",
    "crop_to_mask",
    "make_backbone",
    "make_efficientnet_lite",
    "make_resnet",
    "mask_boxes",
    "method_options",
]
