"""What the station may use from ``training``: the seam between the two.

The station (``station/`` outside its CLI) imports from ``training`` only
through this module; an import-linter contract in ``pyproject.toml`` holds it.
Nothing here needs torch or timm, so ``import station.pipeline`` stays light.
The trainer, the network and loading its weights stay behind the seam: the
station opens a model through ``engines.backends.open_backend``.

The surface, by concern:

* **Errors and typed configuration** -- the project-wide exception bases
  (:class:`CrasStationError` and its kinds) and the pydantic base
  :class:`StrictModel` with its YAML loader.
* **Model files** -- ``model.json`` read without torch: :func:`read_metadata`,
  :class:`ModelMetadata`, :class:`ModelSpec`, :class:`Calibration`.
* **Tiling and the background rule** -- :func:`window_starts`,
  :func:`background_mask`, :data:`NEIGHBOURHOOD_PX`; the web's edges
  (:func:`find_web_span`, :func:`fabric_columns`, :class:`WebSpan`); and
  :func:`label_regions`, the connected-region rule the calibration counted
  alarms with (so a logged defect is what calibration called an alarm).
* **Images and data sets** -- :func:`read_image`, :func:`read_mask`, :func:`list_images`,
  :data:`IMAGE_SUFFIXES`, :func:`aitex_items`.
* **Synthetic fabric** -- :class:`FabricWeb` with its ground truth
  :class:`DefectTruth`, :func:`fabric_style_preset`, :data:`FABRIC_PRESETS`,
  :data:`GREY_PRESETS`, :data:`DEFECT_KINDS` (the station's synthetic source).

Each name is imported from its home module on first use, so importing one
error class does not pull in the fabric generator or scipy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training.calibration import label_regions
    from training.cras.spec import ModelSpec
    from training.data.aitex import aitex_items
    from training.data.fabric.defects import DEFECT_KINDS, DefectTruth
    from training.data.fabric.style import FABRIC_PRESETS, GREY_PRESETS
    from training.data.fabric.style import preset as fabric_style_preset
    from training.data.fabric.web import FabricWeb
    from training.data.images import IMAGE_SUFFIXES, list_images, read_image, read_mask
    from training.data.tiling import NEIGHBOURHOOD_PX, background_mask, window_starts
    from training.data.web_span import WebSpan, fabric_columns, find_web_span
    from training.errors import (
        ConfigError,
        CrasStationError,
        DataError,
        IncompatibleModelError,
        ModelFileError,
        UnreadableImageError,
    )
    from training.model_metadata import Calibration, ModelMetadata, read_metadata
    from training.typed_config import StrictModel, load_yaml_config, validate_config

# Public name -> (home module, name there).
_HOMES: dict[str, tuple[str, str]] = {
    # errors and typed configuration
    "CrasStationError": ("training.errors", "CrasStationError"),
    "ConfigError": ("training.errors", "ConfigError"),
    "DataError": ("training.errors", "DataError"),
    "UnreadableImageError": ("training.errors", "UnreadableImageError"),
    "ModelFileError": ("training.errors", "ModelFileError"),
    "IncompatibleModelError": ("training.errors", "IncompatibleModelError"),
    "StrictModel": ("training.typed_config", "StrictModel"),
    "load_yaml_config": ("training.typed_config", "load_yaml_config"),
    "validate_config": ("training.typed_config", "validate_config"),
    # model files (metadata only)
    "read_metadata": ("training.model_metadata", "read_metadata"),
    "ModelMetadata": ("training.model_metadata", "ModelMetadata"),
    "Calibration": ("training.model_metadata", "Calibration"),
    "ModelSpec": ("training.cras.spec", "ModelSpec"),
    # tiling, background, web edges, regions
    "window_starts": ("training.data.tiling", "window_starts"),
    "background_mask": ("training.data.tiling", "background_mask"),
    "NEIGHBOURHOOD_PX": ("training.data.tiling", "NEIGHBOURHOOD_PX"),
    "WebSpan": ("training.data.web_span", "WebSpan"),
    "fabric_columns": ("training.data.web_span", "fabric_columns"),
    "find_web_span": ("training.data.web_span", "find_web_span"),
    "label_regions": ("training.calibration", "label_regions"),
    # images and data sets
    "read_image": ("training.data.images", "read_image"),
    "read_mask": ("training.data.images", "read_mask"),
    "list_images": ("training.data.images", "list_images"),
    "IMAGE_SUFFIXES": ("training.data.images", "IMAGE_SUFFIXES"),
    "aitex_items": ("training.data.aitex", "aitex_items"),
    # synthetic fabric
    "FabricWeb": ("training.data.fabric.web", "FabricWeb"),
    "DefectTruth": ("training.data.fabric.defects", "DefectTruth"),
    "DEFECT_KINDS": ("training.data.fabric.defects", "DEFECT_KINDS"),
    "FABRIC_PRESETS": ("training.data.fabric.style", "FABRIC_PRESETS"),
    "GREY_PRESETS": ("training.data.fabric.style", "GREY_PRESETS"),
    "fabric_style_preset": ("training.data.fabric.style", "preset"),
}

__all__ = [
    "DEFECT_KINDS",
    "FABRIC_PRESETS",
    "GREY_PRESETS",
    "IMAGE_SUFFIXES",
    "NEIGHBOURHOOD_PX",
    "Calibration",
    "ConfigError",
    "CrasStationError",
    "DataError",
    "DefectTruth",
    "FabricWeb",
    "IncompatibleModelError",
    "ModelFileError",
    "ModelMetadata",
    "ModelSpec",
    "StrictModel",
    "UnreadableImageError",
    "WebSpan",
    "aitex_items",
    "background_mask",
    "fabric_columns",
    "fabric_style_preset",
    "find_web_span",
    "label_regions",
    "list_images",
    "load_yaml_config",
    "read_image",
    "read_mask",
    "read_metadata",
    "validate_config",
    "window_starts",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its home module on first use (PEP 562)."""
    try:
        module_name, attribute = _HOMES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(import_module(module_name), attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
