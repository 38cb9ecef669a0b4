"""The context-features experiment: margin 0 is the model's own embedding; margins crop back;
strip windows hold the tile inside its own image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from experiments.mirrored_features import (
    mirrored_embedding,
    strip_windows,
    window_embedding,
)
from tests.unit.training.helpers import TILE_PX, save_grey
from training.data.items import ImageItem, TileSet


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


def _strip_tileset(tmp_path, image: np.ndarray, xs: list[int]) -> TileSet:
    """Tiles of one grey image at x = xs, y = 0, with the tile pixels inverted (a stand-in
    for a planted defect: the window must show the tile's pixels, not the image's)."""
    path = tmp_path / "strip.png"
    save_grey(path, image)
    tiles = np.stack([255 - image[:TILE_PX, x : x + TILE_PX, None] for x in xs])
    count = len(xs)
    return TileSet(
        tiles=tiles,
        masks=np.zeros(tiles.shape[:3], dtype=bool),
        class_index=np.zeros(count, dtype=np.int64),
        classes=("a",),
        image_index=np.zeros(count, dtype=np.int64),
        boxes=np.asarray([(x, 0) for x in xs], dtype=np.int64),
        items=[ImageItem(path=path, class_name="a")],
        fabric=np.ones(tiles.shape[:3], dtype=bool),
    )


def test_strip_windows_hold_the_tile_inside_its_own_image(tmp_path) -> None:
    image = np.random.default_rng(3).integers(0, 256, (TILE_PX, 3 * TILE_PX), dtype=np.uint8)
    tiles = _strip_tileset(tmp_path, image, xs=[0, TILE_PX])
    margin = 16
    windows = strip_windows(tiles, margin)[..., 0]
    inner = slice(margin, margin + TILE_PX)
    assert windows.shape == (2, TILE_PX + 2 * margin, TILE_PX + 2 * margin)
    for window, tile in zip(windows, tiles.tiles[..., 0], strict=True):
        assert np.array_equal(window[inner, inner], tile)
    rows = slice(margin, margin + TILE_PX)
    # the second tile's left and right context is its neighbouring fabric in the image
    assert np.array_equal(windows[1, rows, :margin], image[:, TILE_PX - margin : TILE_PX])
    right = image[:, 2 * TILE_PX : 2 * TILE_PX + margin]
    assert np.array_equal(windows[1, rows, margin + TILE_PX :], right)
    # beyond the image border the image is reflected (the first tile's left, both tops)
    assert np.array_equal(windows[0, rows, :margin], image[:, margin:0:-1])
    columns = slice(TILE_PX - margin, 2 * TILE_PX + margin)
    assert np.array_equal(windows[1, :margin], image[margin:0:-1, columns])


def test_window_embedding_of_a_reflected_tile_is_the_mirrored_embedding(fitted_model) -> None:
    tiles = _tiles(2, seed=4)
    windows = torch.from_numpy(
        np.pad(tiles.numpy(), ((0, 0), (16, 16), (16, 16), (0, 0)), "reflect")
    )
    assert torch.equal(
        window_embedding(fitted_model, windows, 16), mirrored_embedding(fitted_model, tiles, 16)
    )
    assert torch.equal(window_embedding(fitted_model, tiles, 0), fitted_model.embed_raw(tiles))
