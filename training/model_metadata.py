"""The metadata half of a model file: ``model.json``, read without torch.

A model is a folder::

    MODEL_DIR/model.safetensors   adaptor, discriminator, centers, feature statistics
    MODEL_DIR/model.json          spec, backbone id and weights hash, calibration, training summary

This module reads and describes ``model.json``: the model's spec
(:class:`~training.cras.spec.ModelSpec`), its calibration and its identity.
It imports neither torch nor timm, so the station can size its tiles, pick its
thresholds and log the model version without loading a network. Writing a
model and loading its tensors live in :mod:`training.model_file`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from training.calibration import false_alarm_rate_upper_bound
from training.cras.spec import ModelSpec
from training.cras.variants import components
from training.errors import IncompatibleModelError, ModelFileError

FORMAT_NAME = "cras-station-model"
FORMAT_VERSION = 1
TENSORS_FILE = "model.safetensors"
METADATA_FILE = "model.json"


class Calibration(BaseModel):
    """Thresholds from validation normals (see ``training.calibration``)."""

    model_config = ConfigDict(extra="forbid")
    pixel_threshold: float
    tile_threshold: float
    target_false_alarms_per_m: float
    achieved_false_alarms_per_m: float
    tile_false_alarms_per_m: float
    mm_per_px: float
    validation_metres: float
    validation_tiles: int
    merge_gap_mm: float = 0.0

    @property
    def false_alarms_upper95_per_m(self) -> float:
        """Highest rate still plausible (95 %) given what validation showed."""
        alarms = round(self.achieved_false_alarms_per_m * self.validation_metres)
        return false_alarm_rate_upper_bound(alarms, self.validation_metres)

    @property
    def supported_false_alarms_per_m(self) -> float:
        """The false-alarm budget validation supports: max(target, 95 % upper bound)."""
        return max(self.target_false_alarms_per_m, self.false_alarms_upper95_per_m)


class ModelMetadata(BaseModel):
    """Everything in ``model.json``."""

    model_config = ConfigDict(extra="forbid")
    format: str
    format_version: int
    created_utc: str
    code_version: str
    spec: dict[str, Any]
    backbone_weights_sha256: str
    backbone_weights_path: str | None = None
    tensors_sha256: str
    calibration: Calibration | None = None
    training: dict[str, Any] = {}

    def model_spec(self) -> ModelSpec:
        """The model's :class:`ModelSpec` (JSON lists back to tuples).

        Raises:
            IncompatibleModelError: the file names a variant this code does not know.
        """
        values = dict(self.spec)
        for key in ("classes", "mean", "std"):
            values[key] = tuple(values[key])
        try:
            components(values.get("variant", "cras"))
        except ValueError as error:  # written by a newer version of this code
            raise IncompatibleModelError(
                str(error), hint="update cras-station, or re-train the model with this version"
            ) from None
        return ModelSpec(**values)

    @property
    def model_hash(self) -> str:
        """Identity of the trained model (hash of its tensors)."""
        return self.tensors_sha256


def code_version() -> str:
    """The installed cras-station version, or ``"unknown"`` outside an install."""
    try:
        from importlib.metadata import version

        return version("cras-station")
    except Exception:
        return "unknown"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (the identity of a model's tensors)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_metadata(model_dir: str | Path) -> ModelMetadata:
    """Read and validate ``model.json`` (cheap: no tensors, no backbone).

    Raises:
        ModelFileError: missing folder or file, invalid JSON, wrong format.
    """
    model_dir = Path(model_dir)
    path = model_dir / METADATA_FILE
    if not path.is_file():
        raise ModelFileError(
            f"{model_dir} is not a model folder: {METADATA_FILE} is missing",
            hint="pass the folder written by `station train --out`",
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFileError(
            f"{path} is corrupt (not JSON): {error}", hint="re-train or copy the model folder again"
        ) from None
    # Format and version first: a newer file may carry fields this code does not know.
    if not isinstance(raw, dict):
        raise ModelFileError(f"{path} is corrupt (not a JSON object)", hint="re-train the model")
    version = raw.get("format_version")
    if raw.get("format") != FORMAT_NAME or (isinstance(version, int) and version > FORMAT_VERSION):
        raise IncompatibleModelError(
            f"{path} has format {raw.get('format')!r} version {version}; this code reads "
            f"{FORMAT_NAME!r} up to version {FORMAT_VERSION}",
            hint="update cras-station, or re-train the model with this version",
        )
    try:
        return ModelMetadata.model_validate(raw)
    except ValidationError as error:
        raise ModelFileError(
            f"{path} is corrupt: {str(error).splitlines()[0]}",
            hint="re-train or copy the model folder again",
        ) from None
