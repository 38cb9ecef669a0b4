"""Store configuration: defaults, YAML with a store section, overrides, clear field errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.store.config import StoreConfig, load_store_config
from training.errors import ConfigError


def test_defaults_are_a_durable_local_sqlite_store() -> None:
    config = StoreConfig()
    assert config.url.startswith("sqlite:///") and config.grade_limit_points_per_100yd2 == 40


def test_yaml_store_section_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "station.yaml"
    path.write_text(
        "camera: {anything: 1}\nstore:\n  url: sqlite:///x.sqlite3\n  batch_size: 32\n"
        "  retention: {max_age_days: 30}\n"
    )
    config = load_store_config(path, url="sqlite:///y.sqlite3")
    assert config.url == "sqlite:///y.sqlite3" and config.batch_size == 32
    assert config.retention.max_age_days == 30


def test_bad_fields_are_named(tmp_path: Path) -> None:
    path = tmp_path / "store.yaml"
    path.write_text("url: sqlite:///x.sqlite3\nqueue_sise: 10\n")
    with pytest.raises(ConfigError) as raised:
        load_store_config(path)
    assert "queue_sise" in str(raised.value)
    with pytest.raises(ConfigError):
        load_store_config(tmp_path / "missing.yaml")


def test_a_negative_resume_margin_for_the_image_store_is_refused_naming_the_field(
    tmp_path: Path,
) -> None:
    assert StoreConfig().image_store_resume_free_bytes == 64 * 1024 * 1024
    path = tmp_path / "store.yaml"
    path.write_text("image_store_resume_free_bytes: -1\n")
    with pytest.raises(ConfigError) as raised:
        load_store_config(path)
    assert "image_store_resume_free_bytes" in str(raised.value)
