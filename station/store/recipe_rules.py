"""What a recipe is, and the checks a recipe and its model pass before it is published.

:mod:`station.store.recipes` records recipes; this module holds the plain
:class:`Recipe` record, the errors, and :func:`check_publishable`, which reads
the model's ``model.json`` (through ``training.public``, no torch) to check its
hash, its calibration and its classes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from station.grading import FIRST_QUALITY_LIMIT_POINTS_PER_100YD2
from station.store.errors import NotFoundError, StoreError
from station.store.model_store import check_model_folder
from training.public import read_metadata

MAX_NAME_LENGTH = 128
MAX_SENSITIVITY = 10.0
DEFAULT_SENSITIVITY_RANGE = (0.8, 1.25)  # the operator window's default range


class RecipeError(StoreError):
    """A recipe cannot be published, found or retired as asked."""


class NoRecipeError(RecipeError, NotFoundError):
    """No current (non-retired) recipe covers the fabric article."""


@dataclass(frozen=True, slots=True)
class Recipe:
    """One version of a recipe.

    Attributes:
        name, version: The recipe and its version (1, 2, ...).
        fabrics: Fabric articles it covers (sorted).
        model_sha256: Hash of its model in the model store.
        threshold_factor: Multiplies the model's calibrated threshold.
        sensitivity_min, sensitivity_max: The range operators may set.
        grade_limit_points_per_100yd2: Pass/fail limit of the 4-point grade.
        published_by, published_at: Who published it, when.
        retired_at: When it was retired (None: live).
    """

    name: str
    version: int
    fabrics: tuple[str, ...]
    model_sha256: str
    threshold_factor: float
    sensitivity_min: float
    sensitivity_max: float
    grade_limit_points_per_100yd2: float
    published_by: str
    published_at: datetime
    retired_at: datetime | None

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


def clean_name(value: str, what: str) -> str:
    """``value`` stripped; a :class:`RecipeError` naming ``what`` when empty or too long."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_NAME_LENGTH:
        raise RecipeError(
            f"a {what} must be 1 to {MAX_NAME_LENGTH} characters, got {value!r}",
            hint=f"give a short {what}, e.g. denim-12oz",
        )
    return text


def check_settings(
    threshold_factor: float, sensitivity: tuple[float, float], grade_limit: float
) -> None:
    """Raise a :class:`RecipeError` unless the settings fit the station's config limits."""
    low, high = sensitivity
    if not threshold_factor > 0:
        raise RecipeError(
            f"the threshold factor must be above 0, got {threshold_factor}",
            hint="use 1.0 for the calibrated threshold, above 1 for fewer detections",
        )
    if not (0 < low <= 1 <= high <= MAX_SENSITIVITY):
        raise RecipeError(
            f"the sensitivity range {low},{high} must hold 1 and lie within 0..{MAX_SENSITIVITY}",
            hint="e.g. --sensitivity-range 0.8,1.25",
        )
    if not grade_limit >= 0:
        raise RecipeError(
            f"the grade limit must be 0 or more points per 100 yd², got {grade_limit}",
            hint=f"use {FIRST_QUALITY_LIMIT_POINTS_PER_100YD2:g} for first quality",
        )


def check_publishable(model_dir: str | Path, fabrics: Iterable[str]) -> str:
    """Check that a model folder may back a recipe for ``fabrics``.

    Returns:
        The model hash.

    Raises:
        ModelFileError: not a readable model folder.
        ModelHashMismatchError: its tensors do not match its hash.
        RecipeError: no calibration, or an article is not among the model's classes.
    """
    model_dir = Path(model_dir)
    model_hash = check_model_folder(model_dir)
    metadata = read_metadata(model_dir)
    if metadata.calibration is None:
        raise RecipeError(
            f"the model {model_dir} has no calibration (no threshold), so it cannot run a roll",
            hint="train it with a validation split (`station train` calibrates the threshold)",
        )
    classes = [str(name) for name in metadata.spec.get("classes", ())]
    missing = [article for article in fabrics if article not in classes]
    if missing:
        raise RecipeError(
            f"the model {model_dir} does not know the fabric article(s) "
            f"{', '.join(missing)}; its classes are {', '.join(classes) or 'none'}",
            hint="publish the recipe for articles the model was trained on, or train it on them",
        )
    return model_hash
