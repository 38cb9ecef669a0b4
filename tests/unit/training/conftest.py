"""Shared fixtures for the training tests: one real backbone, tiny generated fabric.

Everything is seeded and small (64-px tiles: an 8 x 8 feature grid on
EfficientNet-Lite0). The backbone is the real one with its ImageNet weights;
it is built once per session and shared (it is frozen, so sharing is safe).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from training.backbones import FeatureBackbone, build_feature_backbone
from training.cras.model import CrasModel
from training.data.fabric import write_mvtec_dataset

from .helpers import MVTEC_CLASSES, TILE_PX, fit_model


@pytest.fixture(scope="session")
def lite0() -> tuple[FeatureBackbone, str]:
    """The real EfficientNet-Lite0 feature backbone and its weights' SHA-256."""
    return build_feature_backbone("efficientnet_lite0")


@pytest.fixture(scope="session")
def fitted_model(lite0) -> CrasModel:
    """A grey 64-px two-class model (shared: do not modify it)."""
    return fit_model(lite0[0])


@pytest.fixture(scope="session")
def mvtec_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated fabric in the MVTec layout: 2 classes, 8 train + 2 val + 6 test tiles each."""
    return write_mvtec_dataset(
        tmp_path_factory.mktemp("mvtec") / "fabric",
        classes=list(MVTEC_CLASSES),
        tile_px=TILE_PX,
        n_train=10,
        n_test_good=3,
        n_test_defect=3,
        seed=0,
    )
