"""The mirrored-features experiment: margin 0 is the model's own embedding; margins crop back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.integration.training.mirrored_features import mirrored_embedding
from tests.unit.training.helpers import TILE_PX


def _tiles(count: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (count, TILE_PX, TILE_PX, 1), dtype=np.uint8))


def test_margin_zero_is_the_models_embedding(fitted_model) -> None:
    tiles = _tiles(2, seed=0)
    assert torch.equal(mirrored_embedding(fitted_model, tiles, 0), fitted_model.embed_raw(tiles))


def test_a_margin_keeps_the_grid_and_changes_only_what_the_padding_reached(fitted_model) -> None:
    tiles = _tiles(2, seed=1)
    plain = fitted_model.embed_raw(tiles)
    mirrored = mirrored_embedding(fitted_model, tiles, 16)
    assert mirrored.shape == plain.shape
    # the border positions saw zeros before and fabric now
    grid = fitted_model.spec.grid_px
    edge = (plain - mirrored).norm(dim=-1).reshape(2, grid, grid)[:, 0, :]
    assert float(edge.min()) > 0.0


def test_a_margin_off_the_stride_is_refused(fitted_model) -> None:
    with pytest.raises(ValueError, match="multiple of the stride"):
        mirrored_embedding(fitted_model, _tiles(1, seed=2), 12)
