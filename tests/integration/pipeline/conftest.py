"""Fixtures of the pipeline's integration tests: a real (untrained) model, a migrated store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from station.pipeline.config import StationConfig
from station.store.config import StoreConfig
from station.store.engine import create_store_engine
from station.store.migrate import upgrade_database
from training.testing import make_model_dir

TILE_PX = 64


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real CRAS model folder on EfficientNet-Lite0, untrained, 64 px grey tiles.

    Its calibration is made up (training/testing.py): scores mean nothing,
    so these tests check the pipeline's mechanics, not detection quality.
    """
    return make_model_dir(
        tmp_path_factory.mktemp("pipeline-model") / "model",
        classes=("grey_twill",),
        tile_px=TILE_PX,
        seed=3,
    )


@pytest.fixture
def store_config(tmp_path: Path) -> StoreConfig:
    """A migrated SQLite database with its image store and journal under tmp_path."""
    url = f"sqlite:///{tmp_path / 'defects.sqlite3'}"
    engine = create_store_engine(url, create=True)
    upgrade_database(engine)
    engine.dispose()
    return StoreConfig(
        url=url,
        image_root=tmp_path / "images",
        journal_dir=tmp_path / "journal",
        flush_interval_s=0.01,
        fsync_images=False,
    )


def station_config(
    model_dir: Path, store: StoreConfig, *, source: dict[str, Any], **sections: Any
) -> StationConfig:
    """A validated station configuration (CPU PyTorch backend unless a section says else)."""
    data: dict[str, Any] = {
        "station": {"name": "test-station"},
        "source": source,
        "model": {"path": str(model_dir), "backend": "torch", "device": "cpu", "batch_size": 8},
        "store": store.model_dump(mode="json"),
        "pipeline": {"status_interval_s": 0.2},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return StationConfig.model_validate(data)
