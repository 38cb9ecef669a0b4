"""Each roll's recipe: with ``recipes.per_roll`` the roll's fabric article picks its model.

When a roll's pipeline opens (:meth:`~station.pipeline.orchestrator.Pipeline.start`,
so ``station run`` and every roll of the operator window alike), the current
recipe of the roll's article is read from the station database, its model is
loaded from the model store with every file's hash checked
(:func:`~station.pipeline.recipe_selection.select_recipe`), and the roll runs a
copy of the station configuration set up by the recipe: model, threshold
factor, sensitivity range, grade limit. The process keeps running between
rolls, so a version published meanwhile is used from the next roll on.

Anything that keeps the recipe from being used -- the roll names no article,
no recipe covers it, the stored model is missing, corrupt or another model,
the database cannot be reached -- refuses that roll with one
:class:`RollRefusedError` naming the article, what is wrong and what to do.
``model.path`` is never used instead.

Usage::

    roll_config, selection = apply_roll_recipe(config)   # selection None: recipes off
"""

from __future__ import annotations

import logging
from typing import Any

from station.pipeline.config import StationConfig
from station.pipeline.recipe_selection import RecipeSelection, select_recipe
from station.store.model_store import ModelStore
from station.store.recipes import NoRecipeError, RecipeBook
from station.store.store import DefectStore
from training.public import CrasStationError

logger = logging.getLogger(__name__)


class RollRefusedError(CrasStationError):
    """A roll cannot start because its recipe cannot be used (the station stays up)."""


def apply_roll_recipe(
    config: StationConfig, *, store: DefectStore | None = None
) -> tuple[StationConfig, RecipeSelection | None]:
    """The roll's configuration under its article's current recipe.

    Args:
        config: The station configuration with the roll's details (``roll.fabric_type``).
        store: An open store whose database to read the recipes from; None = connect
            to ``store.url`` for the look-up.

    Returns:
        ``(config, None)`` when ``recipes.per_roll`` is off, else the configuration
        :meth:`RecipeSelection.apply_to` made and the selection.

    Raises:
        RollRefusedError: the roll names no article, no recipe covers it, its stored
            model cannot be used, or the database cannot be reached.
    """
    if not config.recipes.per_roll:
        return config, None
    article = (config.roll.fabric_type or "").strip()
    if not article:
        raise RollRefusedError(
            "roll refused: it names no fabric article, and this station runs the recipe of "
            "each roll's article (recipes.per_roll)",
            hint="enter the fabric article from the roll ticket (operator window) or give "
            "roll.fabric_type / `station run --fabric ARTICLE`",
        )
    book = None
    try:
        if store is not None:
            book = RecipeBook(store.repository.engine)
        else:
            book = RecipeBook.connect(
                config.store.url, connect_timeout_s=config.store.connect_timeout_s
            )
        selection = select_recipe(book, ModelStore(config.recipes.model_store), article)
    except NoRecipeError as error:
        raise RollRefusedError(f"roll refused: {error.message}", hint=error.hint) from None
    except CrasStationError as error:
        raise RollRefusedError(
            f"roll of fabric article {article!r} refused: {error.message}", hint=error.hint
        ) from None
    finally:
        if book is not None and store is None:
            book.close()
    recipe = selection.recipe
    logger.info(
        "fabric article %s: recipe %s version %d, model %s (verified), threshold factor %g",
        article,
        recipe.name,
        recipe.version,
        recipe.model_sha256[:12],
        recipe.threshold_factor,
    )
    return selection.apply_to(config), selection


def check_recipe_backend(selection: RecipeSelection | None, backend_model_hash: str) -> None:
    """Refuse a backend (e.g. one handed to the pipeline) of another model than the recipe's.

    Raises:
        RollRefusedError: the backend runs another model.
    """
    if selection is None or backend_model_hash == selection.model.model_hash:
        return
    raise RollRefusedError(
        f"roll of fabric article {selection.article!r} refused: the inference backend runs "
        f"model {backend_model_hash[:12]}, the recipe {selection.recipe.name} version "
        f"{selection.recipe.version} names model {selection.model.model_hash[:12]}",
        hint="let the station open the recipe's model (do not pass another backend or engine)",
    )


def run_settings(config: StationConfig, selection: RecipeSelection | None) -> dict[str, Any]:
    """The settings stored with the inspection run: the configuration, and the recipe's."""
    settings = config.model_dump(mode="json")
    if selection is not None:
        settings["recipe"] = selection.settings
    return settings
