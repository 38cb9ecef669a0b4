"""Typed configuration: strict pydantic models loaded from YAML with clear errors.

Every configuration concept (training, camera, database, ...) is a
:class:`StrictModel`. Unknown fields are rejected, and a validation failure
becomes one :class:`~training.errors.ConfigError` that names the file, the
dotted path of each bad field and what was wrong with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from training.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for configuration models: unknown fields are an error, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def describe_validation_error(error: ValidationError, *, source: str) -> str:
    """Turn a pydantic error into lines like ``source: field `a.b`: message (got 3)``."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "<root>"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field (check its spelling against the documented fields)"
        got = item.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        lines.append(f"{source}: field `{field}`: {message}{shown}")
    return "\n".join(lines)


def validate_config(model_cls: type[ModelT], data: Any, *, source: str) -> ModelT:
    """Validate plain data against ``model_cls``; raise :class:`ConfigError` naming the fields."""
    try:
        return model_cls.model_validate(data if data is not None else {})
    except ValidationError as error:
        raise ConfigError(
            "invalid configuration:\n" + describe_validation_error(error, source=source),
            hint="fix the named field(s); see deploy/station.example.yaml for every field",
        ) from None


def load_yaml_config(model_cls: type[ModelT], path: str | Path) -> ModelT:
    """Load and validate a YAML file.

    Raises:
        ConfigError: the file is missing, is not YAML, or a field is invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"configuration file {path} does not exist",
            hint="pass the path of an existing YAML file (see deploy/station.example.yaml)",
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}", hint="fix the syntax") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of fields at its top level")
    return validate_config(model_cls, data, source=str(path))
