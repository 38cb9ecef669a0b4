"""The weights half of a model file: write a model folder, load it into a network.

A model is a folder::

    MODEL_DIR/model.safetensors   adaptor, discriminator, centers, feature statistics
    MODEL_DIR/model.json          spec, backbone id and weights hash, calibration, training summary

The backbone's weights are not copied into the model: they come from the
installed package (or the local file for WideResNet-50) and are checked
against the SHA-256 recorded at training time, so a model can never be run
on the wrong backbone weights silently. Loading never unpickles anything.

This module needs torch; reading ``model.json`` alone does not, and lives in
:mod:`training.model_metadata` (its names are re-exported here, so
``from training.model_file import read_metadata`` keeps working).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from training.backbones import build_feature_backbone
from training.cras.model import CrasModel
from training.errors import IncompatibleModelError, ModelFileError
from training.model_metadata import (
    FORMAT_NAME,
    FORMAT_VERSION,
    METADATA_FILE,
    TENSORS_FILE,
    Calibration,
    ModelMetadata,
    code_version,
    file_sha256,
    read_metadata,
)

__all__ = [
    "DERIVED_PREFIXES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "METADATA_FILE",
    "TENSORS_FILE",
    "Calibration",
    "ModelMetadata",
    "load_model",
    "read_metadata",
    "save_model",
    "trainable_state",
]

# Buffers rebuilt from the spec at construction; they are not stored.
DERIVED_PREFIXES = ("backbone.", "preprocess.", "embedding.", "map_head.")


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
            code_version=code_version(),
            spec=asdict(model.spec),
            backbone_weights_sha256=backbone_weights_sha256,
            backbone_weights_path=backbone_weights_path,
            tensors_sha256=file_sha256(tensors_tmp),
            calibration=calibration,
            training=training or {},
        )
        json_tmp = Path(scratch) / METADATA_FILE
        json_tmp.write_text(json.dumps(metadata.model_dump(), indent=2), encoding="utf-8")
        os.replace(tensors_tmp, model_dir / TENSORS_FILE)
        os.replace(json_tmp, model_dir / METADATA_FILE)
    return metadata


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
    if file_sha256(tensors_path) != metadata.tensors_sha256:
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
