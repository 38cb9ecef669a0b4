"""Bad source configuration gives one clear message naming the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.acquisition.config import CameraConfig, ReplayConfig, SyntheticConfig
from training.errors import ConfigError
from training.typed_config import load_yaml_config, validate_config


@pytest.fixture
def fake_cti(tmp_path: Path) -> Path:
    """A file where a .cti is expected; config validation only checks that it exists."""
    path = tmp_path / "producer.cti"
    path.write_bytes(b"\0")
    return path


def _camera_error(data: dict) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        validate_config(CameraConfig, data, source="station.yaml")
    return caught.value


def test_valid_camera_config_keeps_values(fake_cti: Path) -> None:
    config = validate_config(
        CameraConfig,
        {"cti_path": str(fake_cti), "device": "0", "pixel_format": "Mono12", "width_px": 4096},
        source="station.yaml",
    )
    assert config.cti_path == fake_cti and config.width_px == 4096
    assert config.output_channels == 1 and config.reconnect_attempts >= 0


def test_unknown_field_is_named(fake_cti: Path) -> None:
    error = _camera_error({"cti_path": str(fake_cti), "line_rate": 5000})
    assert "station.yaml: field `line_rate`: unknown field" in error.message


def test_missing_cti_names_the_field_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "vendor" / "producer.cti"
    error = _camera_error({"cti_path": str(missing)})
    assert "field `cti_path`" in error.message
    assert str(missing) in error.message
    assert "install the camera vendor's GenTL producer" in error.message


def test_unsupported_pixel_format_lists_the_supported_ones(fake_cti: Path) -> None:
    error = _camera_error({"cti_path": str(fake_cti), "pixel_format": "YUV422_8"})
    assert "field `pixel_format`" in error.message and "YUV422_8" in error.message
    assert "Mono8" in error.message and "BayerRG8" in error.message


def test_settings_must_be_node_names(fake_cti: Path) -> None:
    error = _camera_error({"cti_path": str(fake_cti), "settings": {"Exposure Time": 10}})
    assert "field `settings`" in error.message and "'Exposure Time'" in error.message


def test_encoder_fields_come_together(fake_cti: Path) -> None:
    error = _camera_error({"cti_path": str(fake_cti), "encoder_chunk_node": "ChunkEncoderValue"})
    assert "mm_per_encoder_count" in error.message


def test_out_of_range_values_are_named(fake_cti: Path) -> None:
    error = _camera_error({"cti_path": str(fake_cti), "line_rate_hz": -5, "output_channels": 2})
    assert "field `line_rate_hz`" in error.message and "field `output_channels`" in error.message


def test_camera_config_from_yaml_file(tmp_path: Path, fake_cti: Path) -> None:
    path = tmp_path / "camera.yaml"
    path.write_text(f"cti_path: {fake_cti}\nwidth_px: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"camera.yaml: field `width_px`"):
        load_yaml_config(CameraConfig, path)


def test_replay_needs_something_to_play() -> None:
    with pytest.raises(ConfigError, match="give paths"):
        validate_config(ReplayConfig, {"line_rate_hz": 1000}, source="replay.yaml")


def test_replay_and_synthetic_reject_unknown_fields(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="field `rate`: unknown field"):
        validate_config(ReplayConfig, {"paths": [str(tmp_path)], "rate": 1}, source="r.yaml")
    with pytest.raises(ConfigError, match="field `fabric_preset`: Field required"):
        validate_config(SyntheticConfig, {"width_px": 64}, source="s.yaml")
