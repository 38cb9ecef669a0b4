"""Smaller parts around training: baseline, per-class metrics, JSON, validation set,
learning check and the training configuration."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from training.baselines import NearestNeighbourBaseline
from training.config import TrainConfig
from training.cras.scoring import AnomalyMapHead
from training.data.items import TileSet
from training.errors import TrainingDidNotLearnError
from training.evaluate import METRIC_KEYS, ScoredTiles, format_table, metrics_by_class, write_json
from training.learning import CHANCE_LOSS, EpochStats, check_learning, has_learned
from training.validation import with_planted_defects

from .helpers import fabric_tiles


def test_nearest_neighbour_baseline_against_cdist() -> None:
    generator = torch.Generator().manual_seed(0)
    train = torch.randn(5, 16, 12, generator=generator)
    test = torch.randn(3, 16, 12, generator=generator) * 1.5
    baseline = NearestNeighbourBaseline.from_features(train, tile_px=32, grid_px=4)
    scored = baseline.score(test, progress=False)
    distances = torch.cdist(test.double(), train.reshape(1, -1, 12).double().expand(3, -1, -1))
    grids = distances.min(dim=2).values.reshape(3, 4, 4)
    np.testing.assert_allclose(scored.tile_scores, grids.flatten(1).max(1).values, rtol=1e-4)
    np.testing.assert_allclose(
        scored.maps, AnomalyMapHead(32)(grids.float()).numpy(), rtol=1e-4, atol=1e-5
    )
    subset = NearestNeighbourBaseline.from_features(
        train, tile_px=32, grid_px=4, bank_fraction=0.25, seed=1
    )
    assert len(subset.bank) == 20
    rows = {tuple(r) for r in train.reshape(-1, 12).tolist()}
    assert all(tuple(r) in rows for r in subset.bank.tolist())


def _tileset(labels_per_class: list[list[int]]) -> tuple[TileSet, ScoredTiles]:
    rng = np.random.default_rng(0)
    masks, class_index = [], []
    for k, labels in enumerate(labels_per_class):
        for label in labels:
            mask = np.zeros((16, 16), dtype=bool)
            if label:
                mask[4:8, 4:8] = True
            masks.append(mask)
            class_index.append(k)
    count = len(masks)
    masks_array = np.stack(masks)
    maps = (rng.random((count, 16, 16)) + 0.8 * masks_array).astype(np.float32)
    tiles = TileSet(
        tiles=np.zeros((count, 16, 16, 1), np.uint8),
        masks=masks_array,
        class_index=np.asarray(class_index),
        classes=("a", "b", "c"),
        image_index=np.arange(count),
        boxes=np.zeros((count, 2), np.int64),
        fabric=np.ones_like(masks_array),
    )
    return tiles, ScoredTiles(maps.reshape(count, -1).max(axis=1), maps)


def test_metrics_by_class_and_a_mean_that_skips_nan() -> None:
    tiles, scored = _tileset([[0, 1, 0, 1], [0, 0, 0], [1, 0, 1]])
    result = metrics_by_class(tiles, scored)
    assert set(result["per_class"]) == {"a", "b", "c"}
    assert (
        result["per_class"]["b"]["tiles"] == 3 and result["per_class"]["b"]["defective_tiles"] == 0
    )
    assert math.isnan(result["per_class"]["b"]["image_auroc"])
    for key in METRIC_KEYS:
        expected = np.mean([result["per_class"][name][key] for name in ("a", "c")])
        assert result["mean"][key] == pytest.approx(expected)


def test_json_turns_nan_into_null_and_the_table_shows_a_dash(tmp_path: Path) -> None:
    result = {"mean": {"image_auroc": float("nan"), "pro": 0.5}, "nested": {"x": [1, 2]}}
    write_json(result, tmp_path / "deep" / "m.json")
    text = (tmp_path / "deep" / "m.json").read_text()
    assert json.loads(text) == {"mean": {"image_auroc": None, "pro": 0.5}, "nested": {"x": [1, 2]}}
    table = format_table({"model": {**dict.fromkeys(METRIC_KEYS, 0.25), "pro": float("nan")}})
    header, row = table.splitlines()
    assert header.split() == list(METRIC_KEYS)
    assert row.split() == ["model", "25.0", "25.0", "25.0", "25.0", "-", "25.0"]


def test_validation_set_adds_planted_defects_only_on_fabric() -> None:
    tiles = fabric_tiles("grey_twill", count=4, seed=3)
    fabric = np.ones(tiles.shape[:3], dtype=bool)
    fabric[0, :, :32] = False  # half of tile 0 lies beyond the web edge
    normal = TileSet(
        tiles=tiles,
        masks=np.zeros(tiles.shape[:3], bool),
        class_index=np.array([0, 0, 1, 1]),
        classes=("x", "y"),
        image_index=np.arange(4),
        boxes=np.zeros((4, 2), np.int64),
        fabric=fabric,
    )
    planted = with_planted_defects(normal, seed=5)
    again = with_planted_defects(normal, seed=5)
    assert np.array_equal(planted.tiles, again.tiles)
    assert np.array_equal(planted.tiles[:4], tiles) and not planted.labels[:4].any()
    copies = len(planted) - 4
    assert 1 <= copies <= 4 and planted.labels[4:].all()
    assert not (planted.masks & ~planted.fabric).any()
    changed = (planted.tiles[4:] != tiles[planted.image_index[4:]]).any(axis=(1, 2, 3))
    assert changed.all()
    assert planted.class_index[4:].tolist() == normal.class_index[planted.image_index[4:]].tolist()


def test_learning_check_thresholds() -> None:
    def stats(loss, p_true, p_fake):
        return EpochStats(epoch=3, loss=loss, p_true=p_true, p_fake=p_fake, seconds=1.0)

    assert has_learned(stats(0.9 * CHANCE_LOSS, 0.6, 0.6))
    assert not has_learned(stats(0.9 * CHANCE_LOSS + 1e-6, 0.9, 0.9))
    assert not has_learned(stats(0.5, 0.59, 0.99))
    assert not has_learned(stats(0.5, 0.99, 0.59))
    check_learning(stats(0.5, 0.9, 0.9), noise_std=0.25)
    with pytest.raises(TrainingDidNotLearnError) as caught:
        check_learning(stats(1.39, 0.5, 0.5), noise_std=0.25)
    assert "epoch 3" in caught.value.message and "--noise-std 0.5" in caught.value.hint


def test_train_config_rejects_bad_geometry(tmp_path: Path) -> None:
    assert TrainConfig(data=tmp_path).tile_px == 256
    with pytest.raises(ValidationError, match="overlap_px"):
        TrainConfig(data=tmp_path, tile_px=64, overlap_px=64)
    with pytest.raises(ValidationError, match="multiple"):
        TrainConfig(data=tmp_path, tile_px=100)
    with pytest.raises(ValidationError, match="extra"):
        TrainConfig(data=tmp_path, batch_sise=3)
    described = TrainConfig(data=tmp_path).describe()
    assert all(name in described for name in TrainConfig.model_fields)
