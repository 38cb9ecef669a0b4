"""Each roll's recipe (``recipes.per_roll``): the configuration rule and the refusals.

The full loop (capture, train, publish, rolls of two articles through one
process) is ``tests/integration/test_engineer_loop.py``; these are the quick cases,
with a real (untrained, calibrated) model, a real model store and SQLite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from station.pipeline.builders import model_facts
from station.pipeline.config import StationConfig, load_station_config
from station.pipeline.errors import PipelineConfigError
from station.pipeline.events import PipelineState
from station.pipeline.orchestrator import Pipeline
from station.pipeline.roll_recipe import RollRefusedError, apply_roll_recipe
from station.store.config import StoreConfig
from station.store.model_store import ModelStore
from station.store.recipes import RecipeBook
from tests.integration.pipeline.pixel_rule_backend import DarkPixelBackend
from training.public import ConfigError, read_metadata
from training.testing import shared_model_dir

CLASSES = ("denim", "twill")


def config_data(store: StoreConfig, model_store: Path, **recipes: Any) -> dict[str, Any]:
    return {
        "station": {"name": "recipe-station"},
        "source": {
            "kind": "synthetic",
            "synthetic": {"fabric_preset": "grey_twill", "width_px": 128, "mm_per_px": 0.5},
        },
        "model": {"backend": "torch", "device": "cpu"},
        "store": store.model_dump(mode="json"),
        "recipes": {"model_store": str(model_store), **recipes},
    }


def test_model_path_may_be_left_out_only_with_recipes_per_roll(
    store_config: StoreConfig, tmp_path: Path
) -> None:
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(config_data(store_config, tmp_path / "ms", per_roll=True)))
    config = load_station_config(path)
    assert config.recipes.per_roll and config.model.path is None
    # A command that needs the model itself says so (e.g. capture --skip-defects).
    with pytest.raises(PipelineConfigError, match=r"model\.path is not set"):
        model_facts(config.model)
    path.write_text(yaml.safe_dump(config_data(store_config, tmp_path / "ms")))
    with pytest.raises(ConfigError, match=r"model\.path is not set") as refused:
        load_station_config(path)
    assert "recipes.per_roll" in str(refused.value)


def test_recipes_off_leave_the_configuration_as_it_is(
    model_dir: Path, store_config: StoreConfig, tmp_path: Path
) -> None:
    data = config_data(store_config, tmp_path / "ms") | {"model": {"path": str(model_dir)}}
    config = StationConfig.model_validate(data)
    assert apply_roll_recipe(config) == (config, None)


def test_a_roll_without_article_or_database_is_refused_with_one_message(
    store_config: StoreConfig, tmp_path: Path
) -> None:
    config = StationConfig.model_validate(config_data(store_config, tmp_path / "ms", per_roll=True))
    with pytest.raises(RollRefusedError, match="names no fabric article") as no_article:
        apply_roll_recipe(config)
    assert "roll.fabric_type" in no_article.value.hint
    down = config.model_copy(deep=True)
    down.store.url = "postgresql+psycopg://root@127.0.0.1:1/none"
    down.store.connect_timeout_s = 1.0
    down.roll.fabric_type = "denim"
    with pytest.raises(RollRefusedError, match=r"^roll of fabric article 'denim' refused: "):
        apply_roll_recipe(down)


def test_the_pipeline_runs_the_recipe_and_refuses_a_roll_it_cannot_run(
    store_config: StoreConfig, tmp_path: Path
) -> None:
    """The recipe's model and settings replace the YAML's; a tampered store refuses the roll."""
    model = shared_model_dir(classes=CLASSES, seed=0)
    model_store = ModelStore(tmp_path / "ms")
    book = RecipeBook.connect(store_config.url)
    try:
        book.publish(
            model,
            model_store,
            name="denim-line",
            fabrics=["denim"],
            threshold_factor=1.5,
            sensitivity=(0.6, 1.6),
            grade_limit_points_per_100yd2=25,
            published_by="emil",
        )
    finally:
        book.close()
    data = config_data(store_config, model_store.root, per_roll=True)
    data["roll"] = {"fabric_type": "denim"}
    config = StationConfig.model_validate(data)
    roll_config, selection = apply_roll_recipe(config)
    model_hash = read_metadata(model).model_hash
    assert selection is not None and selection.run_fields == {
        "recipe_name": "denim-line",
        "recipe_version": 1,
    }
    assert roll_config.model.path == model_store.root / model_hash
    assert roll_config.model.threshold_factor == 1.5
    assert (roll_config.operator.sensitivity_min, roll_config.operator.sensitivity_max) == (
        0.6,
        1.6,
    )
    assert roll_config.store.grade_limit_points_per_100yd2 == 25
    # A backend handed to the pipeline that runs another model than the recipe's is refused.
    other_backend = DarkPixelBackend(tile_px=64, model_hash="0" * 64, classes=CLASSES)
    pipeline = Pipeline(config, backend=other_backend)
    with pytest.raises(RollRefusedError, match="the inference backend runs model 000000000000"):
        pipeline.start()
    assert pipeline.state is PipelineState.FAILED
    other_backend.close()
    # The stored model.json is replaced by another model's: the roll is refused, never run.
    other = shared_model_dir(classes=CLASSES, seed=1)
    stored_json = model_store.root / model_hash / "model.json"
    stored_json.chmod(0o644)
    stored_json.write_bytes((other / "model.json").read_bytes())
    pipeline = Pipeline(config)
    with pytest.raises(RollRefusedError, match=r"roll of fabric article .denim. refused: "):
        pipeline.start()
    assert pipeline.state is PipelineState.FAILED and pipeline.backend_info is None
