"""Backbone features computed once: the disk cache is used, and a damaged one is rebuilt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from training.cras.model import CrasModel
from training.data.items import TileSet
from training.features import cached_features, extract_features, feature_cache_key

from .helpers import fabric_tiles


def _tileset(seed: int, count: int = 5) -> TileSet:
    tiles = fabric_tiles("charcoal_plain", count=count, seed=seed)
    return TileSet(
        tiles=tiles,
        masks=np.zeros(tiles.shape[:3], dtype=bool),
        class_index=np.zeros(count, dtype=np.int64),
        classes=("a", "b"),
        image_index=np.arange(count),
        boxes=np.zeros((count, 2), dtype=np.int64),
    )


class _CountingEmbed:
    """Counts calls to the model's real ``embed_raw``; refuses them once ``allowed`` is False."""

    def __init__(self, model: CrasModel) -> None:
        self.real = model.embed_raw
        self.calls = 0
        self.allowed = True

    def __call__(self, tiles: torch.Tensor) -> torch.Tensor:
        if not self.allowed:
            raise AssertionError("the backbone ran although the features were cached")
        self.calls += 1
        return self.real(tiles)


def test_extract_features_are_the_models_embedding_in_fp16(fitted_model: CrasModel) -> None:
    tiles = _tileset(1, count=3)
    features = extract_features(fitted_model, tiles, batch_size=2, progress=False)
    assert features.shape == (3, 64, 384) and features.dtype == torch.float16
    expected = fitted_model.embed_raw(torch.from_numpy(tiles.tiles))
    torch.testing.assert_close(features.float(), expected, rtol=1e-3, atol=1e-3)


def test_second_call_reads_the_cache(fitted_model, lite0, tmp_path: Path, monkeypatch) -> None:
    tiles = _tileset(2)
    counter = _CountingEmbed(fitted_model)
    monkeypatch.setattr(fitted_model, "embed_raw", counter)
    args = dict(weights_sha256=lite0[1], cache_dir=tmp_path, desc="t", progress=False)

    first = cached_features(fitted_model, tiles, **args)
    assert counter.calls == 1
    (cache_file,) = tmp_path.glob("features-*.safetensors")
    assert torch.equal(load_file(str(cache_file))["features"], first)

    counter.allowed = False
    second = cached_features(fitted_model, tiles, **args)
    assert torch.equal(second, first)

    counter.allowed = True
    other = cached_features(fitted_model, _tileset(3), **args)  # other tiles: other key
    assert counter.calls == 2 and not torch.equal(other, first)
    assert len(list(tmp_path.glob("features-*.safetensors"))) == 2


@pytest.mark.parametrize("damage", ["garbage", "wrong_shape"])
def test_damaged_cache_is_recomputed(fitted_model, lite0, tmp_path, monkeypatch, damage) -> None:
    tiles = _tileset(4)
    counter = _CountingEmbed(fitted_model)
    monkeypatch.setattr(fitted_model, "embed_raw", counter)
    args = dict(weights_sha256=lite0[1], cache_dir=tmp_path, desc="t", progress=False)
    first = cached_features(fitted_model, tiles, **args)
    (cache_file,) = tmp_path.glob("features-*.safetensors")
    if damage == "garbage":
        cache_file.write_bytes(cache_file.read_bytes()[:100] + b"\x00garbage")
    else:
        save_file({"features": torch.zeros(2, 3, 4, dtype=torch.float16)}, str(cache_file))

    again = cached_features(fitted_model, tiles, **args)

    assert counter.calls == 2
    assert torch.equal(again, first)
    assert torch.equal(load_file(str(cache_file))["features"], first)  # rewritten whole
    assert not list(tmp_path.glob("*.partial"))


def test_cache_key_depends_on_weights_geometry_and_pixels(fitted_model: CrasModel) -> None:
    tiles = _tileset(5)
    key = feature_cache_key(fitted_model, tiles, weights_sha256="a" * 64)
    assert key == feature_cache_key(fitted_model, _tileset(5), weights_sha256="a" * 64)
    assert key != feature_cache_key(fitted_model, tiles, weights_sha256="b" * 64)
    changed = _tileset(5)
    changed.tiles[2, 10, 10, 0] ^= 1
    assert key != feature_cache_key(fitted_model, changed, weights_sha256="a" * 64)
