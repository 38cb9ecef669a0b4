"""Fixtures of the research tools' tests: the real backbone, a fitted tiny model."""

from __future__ import annotations

import pytest

from tests.unit.training.helpers import fit_model
from training.backbones import build_feature_backbone
from training.cras.model import CrasModel


@pytest.fixture(scope="session")
def fitted_model() -> CrasModel:
    """A grey 64-px two-class model on EfficientNet-Lite0 (shared: do not modify it)."""
    backbone, _ = build_feature_backbone("efficientnet_lite0")
    return fit_model(backbone)
