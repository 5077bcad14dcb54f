"""ImageNet's 1000 class names, and the COCO categories that ImageNet names too: how a
classifier pretrained on ImageNet is scored on COCO regions before any fine-tuning (chapter 3).
"""

from __future__ import annotations

from collections.abc import Iterable

from torchvision.models import ResNet18_Weights

# in the order of every ImageNet-1k classifier's outputs (torchvision's copy of the list)
IMAGENET_CLASSES: tuple[str, ...] = tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])

# COCO category -> the ImageNet classes that are the same kind of thing
_SAME_THING: dict[str, set[str]] = {
    "pizza": {"pizza"},
    "zebra": {"zebra"},
    "elephant": {"African elephant", "Indian elephant", "tusker"},
    "banana": {"banana"},
    "orange": {"orange"},
    "broccoli": {"broccoli"},
    "teddy bear": {"teddy"},
    "laptop": {"laptop", "notebook"},
    "tv": {"television", "monitor", "screen", "home theater"},
    "bus": {"school bus", "trolleybus", "minibus", "passenger car"},
    "umbrella": {"umbrella"},
    "toilet": {"toilet seat"},
    "microwave": {"microwave"},
    "refrigerator": {"refrigerator"},
    "keyboard": {"computer keyboard", "space bar", "typewriter keyboard"},
    "mouse": {"mouse"},
    "traffic light": {"traffic light"},
    "cup": {"cup", "coffee mug", "espresso"},
    "wine glass": {"red wine", "goblet"},
    "bottle": {"beer bottle", "wine bottle", "water bottle", "pop bottle", "pill bottle"},
    "clock": {"analog clock", "wall clock", "digital clock"},
    "vase": {"vase"},
    "cell phone": {"cellular telephone", "dial telephone", "iPod"},
    "bench": {"park bench"},
    "chair": {"folding chair", "rocking chair", "barber chair", "throne"},
    "couch": {"studio couch"},
    "bed": {"four-poster", "quilt"},
    "car": {
        "sports car",
        "cab",
        "convertible",
        "limousine",
        "minivan",
        "beach wagon",
        "racer",
        "jeep",
        "police van",
        "pickup",
    },
    "truck": {"trailer truck", "pickup", "tow truck", "garbage truck", "fire engine", "moving van"},
    "motorcycle": {"moped", "motor scooter", "crash helmet"},
    "bicycle": {"mountain bike", "bicycle-built-for-two", "tricycle", "unicycle"},
    "airplane": {"airliner", "warplane", "wing"},
    "boat": {
        "speedboat",
        "canoe",
        "yawl",
        "fireboat",
        "lifeboat",
        "catamaran",
        "trimaran",
        "container ship",
        "liner",
        "schooner",
        "gondola",
        "paddle",
    },
    "train": {
        "passenger car",
        "electric locomotive",
        "steam locomotive",
        "streetcar",
        "bullet train",
        "freight car",
    },
    "dog": set(IMAGENET_CLASSES[151:269]),  # ImageNet's 118 dog breeds
    "cat": {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"},
}
COCO_TO_IMAGENET: dict[str, frozenset[str]] = {
    name: frozenset(classes) for name, classes in _SAME_THING.items()
}


def names_the_region(predicted: Iterable[int], category: str) -> bool:
    """Whether any of the ImageNet ``predicted`` class indices names COCO's ``category``."""
    wanted = COCO_TO_IMAGENET.get(category, frozenset())
    return any(IMAGENET_CLASSES[i] in wanted for i in predicted)
