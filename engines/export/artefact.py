"""What every exported artefact says about the model inside it.

The same fields travel in an ONNX file's ``metadata_props`` (as strings, keys
prefixed ``cras.``) and in an engine file's header (as JSON), so a station can
run an artefact without the model folder and still know the classes, the tile
size, the thresholds and which trained model it came from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engines.errors import ArtefactError, EngineMismatchError
from training.cras.spec import ModelSpec

ARTEFACT_FORMAT = "cras-station-artefact"
ARTEFACT_FORMAT_VERSION = 1
KEY_PREFIX = "cras."
PRECISIONS = ("fp32", "fp16")
# Names of the graph's input and outputs, in output order (the fields of CrasOutput).
INPUT_NAME = "tiles"
OUTPUT_NAMES = ("tile_score", "score_grid", "anomaly_map", "matched_class")


@dataclass(frozen=True)
class ArtefactMetadata:
    """Identity and interface of an exported model.

    Attributes:
        model_hash: ``ModelMetadata.model_hash`` of the trained model.
        backbone: Backbone name.
        classes: Fabric class names, in center order.
        tile_px: S of the uint8 input tiles [B, S, S, C].
        in_channels: C.
        grid_px: H = W of the score grid.
        precision: "fp32" or "fp16" (the compute precision of the graph).
        tile_threshold: Calibrated tile-score threshold, None if uncalibrated.
        pixel_threshold: Calibrated anomaly-map threshold, None if uncalibrated.
        code_version: cras-station version that exported it.
        created_utc: ISO time of export.
    """

    model_hash: str
    backbone: str
    classes: tuple[str, ...]
    tile_px: int
    in_channels: int
    grid_px: int
    precision: str
    tile_threshold: float | None
    pixel_threshold: float | None
    code_version: str
    created_utc: str

    @classmethod
    def from_model(cls, spec: ModelSpec, metadata: Any, *, precision: str) -> ArtefactMetadata:
        """Describe a loaded model (``metadata`` is its ``ModelMetadata``)."""
        calibration = getattr(metadata, "calibration", None)
        return cls(
            model_hash=metadata.model_hash,
            backbone=spec.backbone,
            classes=tuple(spec.classes),
            tile_px=spec.tile_px,
            in_channels=spec.in_channels,
            grid_px=spec.grid_px,
            precision=precision,
            tile_threshold=None if calibration is None else float(calibration.tile_threshold),
            pixel_threshold=None if calibration is None else float(calibration.pixel_threshold),
            code_version=_code_version(),
            created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (engine headers, parity reports)."""
        values = asdict(self)
        values["classes"] = list(self.classes)
        return {"format": ARTEFACT_FORMAT, "format_version": ARTEFACT_FORMAT_VERSION, **values}

    def to_metadata_props(self) -> dict[str, str]:
        """String key/values for ONNX ``metadata_props``."""
        return {
            f"{KEY_PREFIX}{key}": json.dumps(value) for key, value in self.to_json_dict().items()
        }

    @classmethod
    def from_json_dict(cls, values: dict[str, Any], *, origin: Path) -> ArtefactMetadata:
        """Parse and validate; raises :class:`ArtefactError` naming the file."""
        if values.get("format") != ARTEFACT_FORMAT:
            raise ArtefactError(
                f"{origin} is not a cras-station export (format {values.get('format')!r})",
                hint="export the model with `station export`",
            )
        if int(values.get("format_version", 0)) > ARTEFACT_FORMAT_VERSION:
            raise ArtefactError(
                f"{origin} was written by a newer cras-station "
                f"(artefact format {values.get('format_version')})",
                hint="update cras-station, or export the model again with this version",
            )
        names = [f.name for f in fields(cls)]
        missing = [name for name in names if name not in values]
        if missing:
            raise ArtefactError(
                f"{origin} lacks the export metadata {', '.join(missing)}",
                hint="export the model again with `station export`",
            )
        try:
            result = cls(
                model_hash=str(values["model_hash"]),
                backbone=str(values["backbone"]),
                classes=tuple(str(name) for name in values["classes"]),
                tile_px=int(values["tile_px"]),
                in_channels=int(values["in_channels"]),
                grid_px=int(values["grid_px"]),
                precision=str(values["precision"]),
                tile_threshold=_optional_float(values["tile_threshold"]),
                pixel_threshold=_optional_float(values["pixel_threshold"]),
                code_version=str(values["code_version"]),
                created_utc=str(values["created_utc"]),
            )
        except (TypeError, ValueError) as error:
            raise ArtefactError(
                f"{origin} has malformed export metadata: {error}",
                hint="export the model again with `station export`",
            ) from None
        if result.precision not in PRECISIONS or not result.classes or result.tile_px <= 0:
            raise ArtefactError(
                f"{origin} has inconsistent export metadata (precision {result.precision!r}, "
                f"{len(result.classes)} classes, tile {result.tile_px} px)",
                hint="export the model again with `station export`",
            )
        return result

    @classmethod
    def from_metadata_props(cls, props: dict[str, str], *, origin: Path) -> ArtefactMetadata:
        """Parse ONNX ``metadata_props`` written by :meth:`to_metadata_props`."""
        values: dict[str, Any] = {}
        for key, text in props.items():
            if not key.startswith(KEY_PREFIX):
                continue
            try:
                values[key[len(KEY_PREFIX) :]] = json.loads(text)
            except json.JSONDecodeError:
                raise ArtefactError(
                    f"{origin}: metadata {key} is not valid JSON",
                    hint="export the model again with `station export`",
                ) from None
        if not values:
            raise ArtefactError(
                f"{origin} carries no cras-station metadata: it is not a `station export` file",
                hint="export the model with `station export --format onnx`",
            )
        return cls.from_json_dict(values, origin=origin)

    def check_model_hash(self, expected: str | None, *, origin: Path) -> None:
        """Raise unless the artefact was exported from the model with hash ``expected``."""
        if expected is not None and expected != self.model_hash:
            raise EngineMismatchError(
                f"{origin} was exported from model {self.model_hash[:16]}..., "
                f"not from the model {expected[:16]}... it is used with",
                hint="export the artefact again from this model with `station export`",
            )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _code_version() -> str:
    try:
        from importlib.metadata import version

        return version("cras-station")
    except Exception:
        return "unknown"
