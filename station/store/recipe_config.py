"""The ``recipes:`` section of the station configuration: where published models live."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field

from station.store.config import DEFAULT_DATA_DIR
from training.public import ConfigError, StrictModel, validate_config


class RecipesConfig(StrictModel):
    """Recipes and the model store.

    Attributes:
        model_store: Folder of published models, kept by their hash (a local or
            mounted folder; object-store URLs are not supported).
        per_roll: The station picks each roll's recipe by its fabric article
            (``station/pipeline/roll_recipe.py``); ``model.path`` is then never used
            to inspect.
    """

    model_store: Path = Field(
        default=DEFAULT_DATA_DIR / "model_store",
        description="folder of published models, one sub-folder per model hash",
    )
    per_roll: bool = Field(
        default=False,
        description="true = every roll runs the current recipe of its fabric article (model, "
        "threshold factor, sensitivity range, grade limit); a roll without one is refused",
    )


def load_recipes_config(
    config_path: str | Path | None = None, *, model_store: str | Path | None = None
) -> RecipesConfig:
    """The recipes configuration for a command: defaults, the file's ``recipes:``, overrides.

    Args:
        config_path: A station configuration (its ``recipes:`` section is used, if any).
        model_store: A folder given on the command line wins.

    Raises:
        ConfigError: the file is missing, not YAML, or its ``recipes:`` section is invalid.
    """
    config = RecipesConfig()
    if config_path is not None:
        path = Path(config_path)
        if not path.is_file():
            raise ConfigError(
                f"configuration file {path} does not exist",
                hint="pass the station's YAML config with --config",
            )
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise ConfigError(
                f"{path} is not valid YAML: {str(error).splitlines()[0]}",
                hint="fix the file (see deploy/station.example.yaml)",
            ) from None
        if isinstance(data, dict) and data.get("recipes") is not None:
            config = validate_config(
                RecipesConfig, data["recipes"], source=f"{path} (recipes section)"
            )
    if model_store is not None:
        config.model_store = Path(model_store)
    return config
