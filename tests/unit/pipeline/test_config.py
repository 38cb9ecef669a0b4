"""station.yaml: one clear message naming the field and the fix for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from station.pipeline.config import StationConfig, load_station_config
from training.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A folder that passes the config's model-folder check (the model is read later)."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.json").write_text("{}")
    return folder


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _synthetic(model_dir: Path, **extra: object) -> dict:
    data = {
        "source": {"kind": "synthetic", "synthetic": {"fabric_preset": "denim", "mm_per_px": 0.2}},
        "model": {"path": str(model_dir)},
    }
    data.update(extra)
    return data


def _error(tmp_path: Path, data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        load_station_config(_write(tmp_path, data))
    return str(caught.value)


def test_minimal_synthetic_config_takes_geometry_from_the_source(
    tmp_path: Path, model_dir: Path
) -> None:
    config = load_station_config(_write(tmp_path, _synthetic(model_dir)))
    assert config.mm_per_px == 0.2 and config.mm_per_line == 0.2
    assert config.tiling.overlap_px == 0 and config.pipeline.when_behind == "drop_oldest"


def test_unknown_field_is_named(tmp_path: Path, model_dir: Path) -> None:
    data = _synthetic(model_dir)
    data["model"]["batchsize"] = 4
    message = _error(tmp_path, data)
    assert "field `model.batchsize`: unknown field" in message
    assert "deploy/station.example.yaml" in message


def test_missing_cti_names_the_field_and_the_fix(tmp_path: Path, model_dir: Path) -> None:
    data = {
        "source": {"kind": "camera", "camera": {"cti_path": str(tmp_path / "nope.cti")}},
        "model": {"path": str(model_dir)},
        "geometry": {"mm_per_px": 0.2},
    }
    message = _error(tmp_path, data)
    assert "field `source.camera.cti_path`" in message
    assert "install the camera vendor's GenTL producer" in message


def test_unsupported_pixel_format_lists_the_supported_ones(tmp_path: Path, model_dir: Path) -> None:
    cti = tmp_path / "producer.cti"
    cti.write_bytes(b"")
    data = {
        "source": {"kind": "camera", "camera": {"cti_path": str(cti), "pixel_format": "YUV422"}},
        "model": {"path": str(model_dir)},
        "geometry": {"mm_per_px": 0.2},
    }
    message = _error(tmp_path, data)
    assert "field `source.camera.pixel_format`" in message
    assert "'YUV422' is not supported; use one of Mono8" in message


def test_kind_without_its_section(tmp_path: Path, model_dir: Path) -> None:
    data = _synthetic(model_dir)
    data["source"]["kind"] = "replay"
    message = _error(tmp_path, data)
    assert "field `source`" in message and "no `replay:` section" in message


def test_replay_without_pixel_size(tmp_path: Path, model_dir: Path) -> None:
    data = {
        "source": {"kind": "replay", "replay": {"paths": [str(tmp_path)]}},
        "model": {"path": str(model_dir)},
    }
    assert "geometry.mm_per_px is not set" in _error(tmp_path, data)


def test_geometry_that_contradicts_the_synthetic_source(tmp_path: Path, model_dir: Path) -> None:
    message = _error(tmp_path, _synthetic(model_dir, geometry={"mm_per_px": 0.1}))
    assert "geometry.mm_per_px = 0.1 differs from the synthetic source's 0.2" in message


def test_model_path_must_be_a_model_folder(tmp_path: Path, model_dir: Path) -> None:
    data = _synthetic(model_dir)
    data["model"]["path"] = str(tmp_path)
    message = _error(tmp_path, data)
    assert "field `model.path`" in message and "station train --out" in message


def test_encoder_positions_need_an_encoder(tmp_path: Path, model_dir: Path) -> None:
    message = _error(tmp_path, _synthetic(model_dir, geometry={"position_from": "encoder"}))
    assert "source.camera.encoder_chunk_node" in message


def test_bad_value_is_named_with_what_was_given(tmp_path: Path, model_dir: Path) -> None:
    message = _error(tmp_path, _synthetic(model_dir, tiling={"overlap_px": -3}))
    assert "field `tiling.overlap_px`" in message and "(got -3)" in message


def test_the_example_config_in_deploy_is_valid(tmp_path: Path, model_dir: Path) -> None:
    """deploy/station.example.yaml loads once its paths point at real files."""
    data = yaml.safe_load((REPO_ROOT / "deploy" / "station.example.yaml").read_text())
    cti = tmp_path / "producer.cti"
    cti.write_bytes(b"")
    data["source"]["camera"]["cti_path"] = str(cti)
    data["model"]["path"] = str(model_dir)
    config = StationConfig.model_validate(data)
    assert config.source.kind == "camera"
