"""Pick the recipe for a roll: the verified model folder and the settings to run it with.

The station (and the operator window) call :func:`select_recipe` when a roll
with a given fabric article goes on the frame, then :meth:`RecipeSelection.apply_to`
to get the roll's :class:`~station.pipeline.config.StationConfig`. Every failure
is one :class:`~station.store.errors.StoreError` to show while the station stays
up: no recipe covers the article (:class:`~station.store.recipes.NoRecipeError`),
the stored model is missing or corrupt
(:class:`~station.store.model_store.ModelNotInStoreError`,
:class:`~station.store.model_store.CorruptModelError`) or is another model
(:class:`~station.store.model_store.ModelHashMismatchError`).

Usage::

    selection = select_recipe(book, ModelStore(config.recipes.model_store), "denim-12oz")
    roll_config = selection.apply_to(config)
    store.start_run(..., **selection.run_fields)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.pipeline.config import StationConfig
from station.store.model_store import ModelStore, StoredModel
from station.store.recipes import Recipe, RecipeBook


@dataclass(frozen=True, slots=True)
class RecipeSelection:
    """The current recipe of a fabric article, with its model verified in the model store.

    Attributes:
        article: The fabric article asked for.
        recipe: The recipe version chosen.
        model: The stored model, every file's hash checked just now.
    """

    article: str
    recipe: Recipe
    model: StoredModel

    @property
    def model_dir(self) -> Path:
        """The verified model folder to open."""
        return self.model.path

    @property
    def settings(self) -> dict[str, Any]:
        """The recipe's settings, as recorded with the inspection run."""
        recipe = self.recipe
        return {
            "recipe": recipe.name,
            "recipe_version": recipe.version,
            "model_sha256": recipe.model_sha256,
            "threshold_factor": recipe.threshold_factor,
            "sensitivity_min": recipe.sensitivity_min,
            "sensitivity_max": recipe.sensitivity_max,
            "grade_limit_points_per_100yd2": recipe.grade_limit_points_per_100yd2,
        }

    @property
    def run_fields(self) -> dict[str, Any]:
        """``recipe_name`` and ``recipe_version`` for ``DefectStore.start_run``."""
        return {"recipe_name": self.recipe.name, "recipe_version": self.recipe.version}

    def apply_to(self, config: StationConfig) -> StationConfig:
        """A copy of ``config`` set up for this roll.

        The model is the recipe's (its calibrated threshold, no explicit
        ``model.pixel_threshold`` or ``model.artefact`` of another model), times
        the recipe's threshold factor; operators get the recipe's sensitivity
        range (the engineers' range widened to hold it); the grade limit is the
        recipe's; the roll's fabric type is the article.
        """
        recipe = self.recipe
        data = config.model_dump()
        data["model"] |= {
            "path": self.model_dir,
            "artefact": None,
            "pixel_threshold": None,
            "threshold_factor": recipe.threshold_factor,
        }
        operator = data["operator"]
        operator["sensitivity_min"] = recipe.sensitivity_min
        operator["sensitivity_max"] = recipe.sensitivity_max
        operator["engineer_sensitivity_min"] = min(
            operator["engineer_sensitivity_min"], recipe.sensitivity_min
        )
        operator["engineer_sensitivity_max"] = max(
            operator["engineer_sensitivity_max"], recipe.sensitivity_max
        )
        data["store"]["grade_limit_points_per_100yd2"] = recipe.grade_limit_points_per_100yd2
        data["roll"]["fabric_type"] = self.article
        return StationConfig.model_validate(data)


def select_recipe(book: RecipeBook, model_store: ModelStore, article: str) -> RecipeSelection:
    """The current recipe for ``article`` and its model, verified.

    Raises:
        NoRecipeError: no live recipe covers the article.
        ModelNotInStoreError, CorruptModelError, ModelHashMismatchError: the recipe's
            model cannot be used (one message saying which file and what to do).
        DatabaseUnreachableError: the database cannot be reached.
    """
    recipe = book.current_for(article)
    model = model_store.load(recipe.model_sha256)
    return RecipeSelection(article=article.strip(), recipe=recipe, model=model)
