"""The CRAS module end to end: uint8 tiles in, CrasOutput out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.backbones import IMAGENET_MEAN, IMAGENET_STD
from training.cras.center_matching import center_match_reference
from training.cras.embedding import embed_reference
from training.cras.model import CrasModel, CrasOutput, ModelSpec
from training.cras.scoring import AnomalyMapHead

from .helpers import fabric_tiles, fit_model


def _random_tiles(count: int, side: int, channels: int, *, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(
        rng.integers(0, 256, size=(count, side, side, channels), dtype=np.uint8)
    )


def test_grey_forward_shapes_and_dtypes(fitted_model: CrasModel) -> None:
    tiles = torch.from_numpy(fabric_tiles("fine_twill", count=3, seed=9))
    out = fitted_model(tiles)
    assert isinstance(out, CrasOutput)
    assert out.tile_score.shape == (3,) and out.tile_score.dtype == torch.float32
    assert out.score_grid.shape == (3, 8, 8) and out.score_grid.dtype == torch.float32
    assert out.anomaly_map.shape == (3, 64, 64) and out.anomaly_map.dtype == torch.float32
    assert out.matched_class.shape == (3,) and out.matched_class.dtype == torch.int64
    torch.testing.assert_close(out.tile_score, out.score_grid.flatten(1).amax(dim=1))
    assert bool(((out.score_grid > 0) & (out.score_grid < 1)).all())
    torch.testing.assert_close(out.anomaly_map, AnomalyMapHead(64)(out.score_grid))


def test_forward_is_the_documented_pipeline(fitted_model: CrasModel) -> None:
    """Rebuilt from the reference pieces: preprocessing, literal embedding, brute matching."""
    model = fitted_model
    tiles = _random_tiles(2, 64, 1, seed=3)
    images = tiles.permute(0, 3, 1, 2).float().div(255).expand(-1, 3, -1, -1)
    images = (images - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        IMAGENET_STD
    ).view(1, 3, 1, 1)
    with torch.no_grad():
        levels = model.backbone(images)
        embedded = embed_reference(levels, pre_dim=384, dim=384)  # [B, D, 8, 8]
        features = embedded.permute(0, 2, 3, 1).reshape(2, 64, 384)  # row-major positions
        adapted = model.adaptor((features - model.feature_mean) / model.feature_std)
        classes = model.match_classes(adapted)
        recomposed, _ = center_match_reference(adapted, model.centers[classes])
        expected = model.discriminator(adapted.reshape(-1, 384), recomposed.reshape(-1, 384))
        out = model(tiles)
    torch.testing.assert_close(out.score_grid, expected.reshape(2, 8, 8), rtol=1e-4, atol=1e-5)
    assert torch.equal(out.matched_class, classes)


def test_rgb_tiles_and_grey_replication_agree(lite0) -> None:
    grey_model = fit_model(lite0[0], in_channels=1, seed=1)
    rgb_model = CrasModel(
        ModelSpec(backbone="efficientnet_lite0", classes=("a", "b"), tile_px=64, in_channels=3),
        lite0[0],
    )
    rgb_model.load_state_dict(grey_model.state_dict())
    rgb_model.eval()
    grey = _random_tiles(2, 64, 1, seed=4)
    rgb_out = rgb_model(grey.expand(-1, -1, -1, 3).contiguous())
    grey_out = grey_model(grey)
    assert rgb_out.anomaly_map.shape == (2, 64, 64)
    torch.testing.assert_close(rgb_out.score_grid, grey_out.score_grid)
    colour = rgb_model(_random_tiles(2, 64, 3, seed=5))
    assert colour.score_grid.shape == (2, 8, 8)


def test_input_scale_two_doubles_the_grid(lite0) -> None:
    model = fit_model(lite0[0], input_scale=2.0, seed=2)
    assert model.spec.grid_px == 16 and model.centers.shape == (2, 256, 384)
    out = model(_random_tiles(2, 64, 1, seed=6))
    assert out.score_grid.shape == (2, 16, 16)
    assert out.anomaly_map.shape == (2, 64, 64)  # maps stay at the tile size


def test_eval_forward_is_deterministic_and_batch_independent(fitted_model: CrasModel) -> None:
    tiles = _random_tiles(5, 64, 1, seed=7)
    first = fitted_model(tiles)
    second = fitted_model(tiles)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)
    alone = fitted_model(tiles[3:4])
    torch.testing.assert_close(alone.score_grid[0], first.score_grid[3], rtol=1e-5, atol=1e-6)


def test_mixed_batch_matches_each_tile_to_its_own_class(lite0) -> None:
    """Per-image global matching inside the model (no batch voting): fabrics that look
    nothing alike are matched to the class whose tiles built each center."""
    model = fit_model(lite0[0], classes=("grey_twill", "fine_twill", "dark_plain"), seed=0)
    fresh = [
        fabric_tiles(name, count=2, seed=50 + k)
        for k, name in enumerate(("dark_plain", "grey_twill", "dark_plain"))
    ]
    tiles = torch.from_numpy(np.concatenate(fresh))
    assert model(tiles).matched_class.tolist() == [2, 2, 0, 0, 2, 2]


def test_train_mode_keeps_the_backbone_in_eval(fitted_model: CrasModel) -> None:
    model = fitted_model
    try:
        model.train()
        assert model.discriminator.training and model.adaptor.training
        assert not any(m.training for m in model.backbone.modules())
    finally:
        model.eval()


def test_backbone_must_match_the_spec(lite0) -> None:
    spec = ModelSpec(backbone="wide_resnet50_2", classes=("a",), tile_px=64)
    with pytest.raises(ValueError, match="does not match"):
        CrasModel(spec, lite0[0])
