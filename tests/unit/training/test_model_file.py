"""Model folders: safetensors + JSON, identical after a round trip, clear errors, no pickle."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from training.cras.model import CrasModel
from training.errors import IncompatibleModelError, ModelFileError
from training.model_file import (
    FORMAT_VERSION,
    METADATA_FILE,
    TENSORS_FILE,
    Calibration,
    load_model,
    read_metadata,
    save_model,
)

from .helpers import fabric_tiles

CALIBRATION = Calibration(
    pixel_threshold=0.61,
    tile_threshold=0.7,
    target_false_alarms_per_m=0.1,
    achieved_false_alarms_per_m=0.05,
    tile_false_alarms_per_m=0.0,
    mm_per_px=0.2,
    validation_metres=3.2,
    validation_tiles=12,
)


@pytest.fixture(scope="module")
def saved(fitted_model: CrasModel, lite0, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model") / "model"
    save_model(
        fitted_model,
        folder,
        backbone_weights_sha256=lite0[1],
        calibration=CALIBRATION,
        training={"chosen_epoch": 2},
    )
    return folder


def _copy(saved: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    target.mkdir()
    for name in (TENSORS_FILE, METADATA_FILE):
        (target / name).write_bytes((saved / name).read_bytes())
    return target


def _edit_json(folder: Path, **changes) -> None:
    path = folder / METADATA_FILE
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_round_trip_gives_identical_outputs(saved: Path, fitted_model: CrasModel, monkeypatch):
    """And loading unpickles nothing: pickle is disabled, torch.load only reads the
    installed backbone weights (weights_only), never a file of the model folder."""
    torch_loads: list[tuple[Path, object]] = []
    real_torch_load = torch.load

    def watching_torch_load(path, *args, **kwargs):
        torch_loads.append((Path(path).resolve(), kwargs.get("weights_only")))
        return real_torch_load(path, *args, **kwargs)

    def no_pickle(*args, **kwargs):
        raise AssertionError("a model file must not be unpickled")

    monkeypatch.setattr(torch, "load", watching_torch_load)
    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    loaded, metadata = load_model(saved)
    monkeypatch.undo()

    assert torch_loads, "the backbone weights are read through torch.load"
    assert all(weights_only is True for _, weights_only in torch_loads)
    assert not any(saved.resolve() in path.parents for path, _ in torch_loads)
    assert not loaded.training
    assert metadata.calibration == CALIBRATION and metadata.training == {"chosen_epoch": 2}
    assert metadata.model_spec() == fitted_model.spec
    tiles = torch.from_numpy(
        np.concatenate(
            [
                fabric_tiles("grey_twill", count=2, seed=21),
                fabric_tiles("dark_plain", count=2, seed=22),
            ]
        )
    )
    expected, got = fitted_model(tiles), loaded(tiles)
    for a, b in zip(expected, got, strict=True):
        assert torch.equal(a, b)
    for name, tensor in fitted_model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_files_are_safetensors_and_json_without_backbone_weights(saved: Path, lite0) -> None:
    raw = (saved / TENSORS_FILE).read_bytes()
    (header_length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_length])
    assert header["__metadata__"]["format"] == "cras-station-model"
    with safe_open(str(saved / TENSORS_FILE), framework="pt") as handle:
        keys = set(handle.keys())
    assert {"centers", "feature_mean", "feature_std", "adaptor.linear.weight"} <= keys
    assert "discriminator.body.1.running_mean" in keys
    assert not any(k.startswith(("backbone.", "embedding.", "map_head.")) for k in keys)
    metadata = json.loads((saved / METADATA_FILE).read_text())
    assert metadata["format_version"] == FORMAT_VERSION
    assert metadata["backbone_weights_sha256"] == lite0[1]
    assert metadata["spec"]["classes"] == ["a", "b"] and metadata["spec"]["tile_px"] == 64
    assert read_metadata(saved).tensors_sha256 == metadata["tensors_sha256"]


def test_missing_folder_or_files(saved: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not a model folder"):
        load_model(tmp_path / "nowhere")
    folder = _copy(saved, tmp_path)
    (folder / TENSORS_FILE).unlink()
    with pytest.raises(ModelFileError, match="is missing"):
        load_model(folder)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"format": "cras-station-model"}'])
def test_corrupt_json(saved: Path, tmp_path: Path, text: str) -> None:
    folder = _copy(saved, tmp_path)
    (folder / METADATA_FILE).write_text(text)
    with pytest.raises(ModelFileError) as caught:
        load_model(folder)
    assert not isinstance(caught.value, IncompatibleModelError)
    assert caught.value.hint


def test_tampered_tensors_fail_the_hash(saved: Path, tmp_path: Path) -> None:
    folder = _copy(saved, tmp_path)
    data = bytearray((folder / TENSORS_FILE).read_bytes())
    data[-5] ^= 0x40  # one bit in the last tensor's data: still a readable file
    (folder / TENSORS_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not match the hash"):
        load_model(folder)


def test_other_backbone_weights_are_incompatible(saved: Path, tmp_path: Path) -> None:
    folder = _copy(saved, tmp_path)
    _edit_json(folder, backbone_weights_sha256="0" * 64)
    with pytest.raises(IncompatibleModelError, match="weights here hash to"):
        load_model(folder)


@pytest.mark.parametrize(
    "changes", [{"format_version": FORMAT_VERSION + 1}, {"format": "someone-elses-model"}]
)
def test_newer_or_foreign_format_is_incompatible(saved: Path, tmp_path: Path, changes) -> None:
    folder = _copy(saved, tmp_path)
    _edit_json(folder, **changes)
    with pytest.raises(IncompatibleModelError, match="this code reads"):
        read_metadata(folder)
    with pytest.raises(IncompatibleModelError):
        load_model(folder)


def test_a_model_file_from_before_the_score_temperature_loads_with_the_plain_sigmoid(
    saved: Path, tmp_path: Path
) -> None:
    # Files written before ``score_temperature`` existed were calibrated on sigmoid(logit).
    folder = _copy(saved, tmp_path)
    spec = json.loads((folder / METADATA_FILE).read_text())["spec"]
    _edit_json(folder, spec=dict(spec, score_temperature=8.0))
    model, _ = load_model(folder)
    assert model.discriminator.temperature == 8.0
    spec.pop("score_temperature")
    _edit_json(folder, spec=spec)
    assert read_metadata(folder).model_spec().score_temperature == 1.0
    model, _ = load_model(folder)
    assert model.discriminator.temperature == 1.0


def test_a_model_variant_this_code_does_not_know_is_incompatible(
    saved: Path, tmp_path: Path
) -> None:
    folder = _copy(saved, tmp_path)
    spec = json.loads((folder / METADATA_FILE).read_text())["spec"]
    _edit_json(folder, spec=dict(spec, variant="from-the-future"))
    with pytest.raises(IncompatibleModelError, match="unknown model variant 'from-the-future'"):
        load_model(folder)
