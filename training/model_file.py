"""Model files: safetensors tensors + JSON metadata, loaded without unpickling.

A model is a folder::

    MODEL_DIR/model.safetensors   adaptor, discriminator, centers, feature statistics
    MODEL_DIR/model.json          spec, backbone id and weights hash, calibration, training summary

The backbone's weights are not copied into the model: they come from the
installed package (or the local file for WideResNet-50) and are checked
against the SHA-256 recorded at training time, so a model can never be run
on the wrong backbone weights silently. Loading never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from training.backbones import build_feature_backbone
from training.calibration import false_alarm_rate_upper_bound
from training.cras.model import CrasModel, ModelSpec
from training.cras.variants import components
from training.errors import IncompatibleModelError, ModelFileError

FORMAT_NAME = "cras-station-model"
FORMAT_VERSION = 1
TENSORS_FILE = "model.safetensors"
METADATA_FILE = "model.json"
# Buffers rebuilt from the spec at construction; they are not stored.
DERIVED_PREFIXES = ("backbone.", "preprocess.", "embedding.", "map_head.")


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


def _code_version() -> str:
    try:
        from importlib.metadata import version

        return version("cras-station")
    except Exception:
        return "unknown"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def trainable_state(model: CrasModel) -> dict[str, torch.Tensor]:
    """The tensors a model file stores (everything not rebuilt from the spec)."""
    return {
        name: tensor.detach().cpu().contiguous()
        for name, tensor in model.state_dict().items()
        if not name.startswith(DERIVED_PREFIXES)
    }


def save_model(
    model: CrasModel,
    model_dir: str | Path,
    *,
    backbone_weights_sha256: str,
    backbone_weights_path: str | None = None,
    calibration: Calibration | None = None,
    training: dict[str, Any] | None = None,
) -> ModelMetadata:
    """Write a model folder atomically (temporary files renamed into place).

    Returns:
        The metadata written.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=model_dir) as scratch:
        tensors_tmp = Path(scratch) / TENSORS_FILE
        save_file(trainable_state(model), str(tensors_tmp), metadata={"format": FORMAT_NAME})
        metadata = ModelMetadata(
            format=FORMAT_NAME,
            format_version=FORMAT_VERSION,
            created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
            code_version=_code_version(),
            spec=asdict(model.spec),
            backbone_weights_sha256=backbone_weights_sha256,
            backbone_weights_path=backbone_weights_path,
            tensors_sha256=_sha256(tensors_tmp),
            calibration=calibration,
            training=training or {},
        )
        json_tmp = Path(scratch) / METADATA_FILE
        json_tmp.write_text(json.dumps(metadata.model_dump(), indent=2), encoding="utf-8")
        os.replace(tensors_tmp, model_dir / TENSORS_FILE)
        os.replace(json_tmp, model_dir / METADATA_FILE)
    return metadata


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


def load_model(
    model_dir: str | Path, *, backbone_weights: str | Path | None = None
) -> tuple[CrasModel, ModelMetadata]:
    """Load a model folder into an eval-mode :class:`CrasModel`.

    Args:
        model_dir: Folder written by :func:`save_model`.
        backbone_weights: Local weights file (needed for ``wide_resnet50_2``; defaults to
            the path recorded at training time).

    Raises:
        ModelFileError: files missing or corrupt.
        IncompatibleModelError: backbone weights differ from training, tensors do not fit.
    """
    model_dir = Path(model_dir)
    metadata = read_metadata(model_dir)
    tensors_path = model_dir / TENSORS_FILE
    if not tensors_path.is_file():
        raise ModelFileError(f"{tensors_path} is missing", hint="copy the whole model folder")
    if _sha256(tensors_path) != metadata.tensors_sha256:
        raise ModelFileError(
            f"{tensors_path} does not match the hash in {METADATA_FILE} (corrupt or mixed files)",
            hint="copy the whole model folder again",
        )
    try:
        state = load_file(str(tensors_path))
    except (SafetensorError, OSError) as error:
        raise ModelFileError(f"cannot read {tensors_path}: {error}") from None
    spec = metadata.model_spec()
    weights = backbone_weights or metadata.backbone_weights_path
    backbone, digest = build_feature_backbone(spec.backbone, weights_path=weights)
    if digest != metadata.backbone_weights_sha256:
        raise IncompatibleModelError(
            f"model {model_dir} was trained on {spec.backbone} weights with SHA-256 "
            f"{metadata.backbone_weights_sha256[:16]}..., but the weights here hash to "
            f"{digest[:16]}...",
            hint="install the same backbone weights as on the training machine, or re-train",
        )
    model = CrasModel(spec, backbone)
    expected = trainable_state(model)
    if set(state) != set(expected) or any(state[k].shape != expected[k].shape for k in expected):
        raise IncompatibleModelError(
            f"the tensors in {tensors_path} do not fit a {spec.backbone} CRAS model "
            f"with D={spec.dim} and {len(spec.classes)} classes",
            hint="the model file was written by an incompatible version; re-train",
        )
    model.load_state_dict(state, strict=False)
    return model.eval(), metadata
