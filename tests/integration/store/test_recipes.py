"""Recipes and the model store on SQLite and the real PostgreSQL, with real model folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from station.cli import main
from station.pipeline.config import StationConfig
from station.pipeline.recipe_selection import select_recipe
from station.store import migrate
from station.store.config import StoreConfig
from station.store.engine import create_store_engine
from station.store.model_store import (
    CorruptModelError,
    ModelHashMismatchError,
    ModelNotInStoreError,
    ModelStore,
    ModelStoreError,
)
from station.store.models import Base, InspectionRun
from station.store.recipe_config import load_recipes_config
from station.store.recipes import NoRecipeError, RecipeBook, RecipeError
from station.store.records import ModelVersionInfo
from station.store.store import DefectStore
from training.public import read_metadata
from training.testing import shared_model_dir

CLASSES = ("denim", "twill")


@pytest.fixture
def model_a() -> Path:
    """A real (untrained, calibrated) model for the articles denim and twill (read-only)."""
    return shared_model_dir(classes=CLASSES, seed=0)


@pytest.fixture
def model_b() -> Path:
    """Another model of the same classes: another hash."""
    return shared_model_dir(classes=CLASSES, seed=1)


@pytest.fixture
def book(migrated_url: str):
    opened = RecipeBook.connect(migrated_url)
    yield opened
    opened.close()


@pytest.fixture
def model_store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "model_store")


def _publish(book: RecipeBook, store: ModelStore, model: Path, name: str, *fabrics: str, **kw):
    return book.publish(model, store, name=name, fabrics=fabrics, published_by="emil", **kw)


def test_publish_show_list_and_versions(book: RecipeBook, model_store, model_a, model_b) -> None:
    first = _publish(
        book,
        model_store,
        model_a,
        "denim-line",
        "denim",
        threshold_factor=1.2,
        sensitivity=(0.7, 1.5),
        grade_limit_points_per_100yd2=28,
    )
    assert (first.name, first.version, first.fabrics) == ("denim-line", 1, ("denim",))
    assert first.model_sha256 == read_metadata(model_a).model_hash
    assert (first.threshold_factor, first.sensitivity_min, first.sensitivity_max) == (1.2, 0.7, 1.5)
    assert first.grade_limit_points_per_100yd2 == 28 and first.published_by == "emil"
    assert not first.retired and first.published_at.tzinfo is not None
    second = _publish(book, model_store, model_b, "denim-line", "denim", "twill")
    assert second.version == 2 and second.fabrics == ("denim", "twill")
    assert second.model_sha256 == read_metadata(model_b).model_hash != first.model_sha256
    assert book.show("denim-line") == second
    assert book.show("denim-line", version=1) == first
    _publish(book, model_store, model_a, "twill-line", "twill")
    listed = [(r.name, r.version) for r in book.list_recipes()]
    assert listed == [("denim-line", 1), ("denim-line", 2), ("twill-line", 1)]
    with pytest.raises(RecipeError, match="no version 7") as missing_version:
        book.show("denim-line", version=7)
    assert "1, 2" in missing_version.value.hint
    with pytest.raises(RecipeError, match="no recipe named"):
        book.show("satin-line")
    # Both models are in the store, each file under the model's hash, and load verified.
    for recipe in (first, second):
        stored = model_store.load(recipe.model_sha256)
        assert stored.path == model_store.root / recipe.model_sha256
        assert {"model.json", "model.safetensors"} <= set(stored.files)
        # Readable by a station running as another user than the publisher.
        assert stored.path.stat().st_mode & 0o055 == 0o055
        assert (stored.path / "manifest.json").stat().st_mode & 0o044 == 0o044


def test_current_for_picks_the_newest_live_version(book, model_store, model_a, model_b) -> None:
    with pytest.raises(NoRecipeError) as none_yet:
        book.current_for("denim")
    assert "denim" in none_yet.value.message and "station recipe publish" in none_yet.value.hint
    _publish(book, model_store, model_a, "denim-line", "denim")
    _publish(book, model_store, model_b, "denim-line", "denim")
    _publish(book, model_store, model_a, "twill-line", "twill")
    assert (book.current_for("denim").name, book.current_for("denim").version) == ("denim-line", 2)
    assert book.current_for("twill").name == "twill-line"
    # Retiring version 2 rolls back to version 1.
    assert [r.version for r in book.retire("denim-line", version=2)] == [2]
    current = book.current_for("denim")
    assert current.version == 1 and current.model_sha256 == read_metadata(model_a).model_hash
    with pytest.raises(RecipeError, match="retired already"):
        book.retire("denim-line", version=2)
    # A newer recipe of another name covering the article wins while it is live.
    _publish(book, model_store, model_b, "mixed-line", "denim", "twill")
    assert book.current_for("denim").name == "mixed-line"
    assert book.current_for("twill").name == "mixed-line"
    assert {r.version for r in book.retire("mixed-line")} == {1}
    assert book.current_for("twill").name == "twill-line"
    # Retiring a name retires every live version; retired ones are listed on request only.
    book.retire("denim-line")
    with pytest.raises(NoRecipeError):
        book.current_for("denim")
    assert [(r.name, r.version) for r in book.list_recipes()] == [("twill-line", 1)]
    retired = [(r.name, r.version) for r in book.list_recipes(include_retired=True) if r.retired]
    assert retired == [("denim-line", 1), ("denim-line", 2), ("mixed-line", 1)]


def test_publish_refuses_models_that_cannot_run_the_recipe(
    book, model_store, model_a, tmp_path
) -> None:
    uncalibrated = tmp_path / "uncalibrated"
    shutil.copytree(model_a, uncalibrated)
    metadata = json.loads((uncalibrated / "model.json").read_text())
    metadata["calibration"] = None
    (uncalibrated / "model.json").write_text(json.dumps(metadata))
    with pytest.raises(RecipeError, match="no calibration") as no_threshold:
        _publish(book, model_store, uncalibrated, "denim-line", "denim")
    assert "station train" in no_threshold.value.hint
    with pytest.raises(RecipeError, match="does not know the fabric article") as unknown:
        _publish(book, model_store, model_a, "satin-line", "denim", "satin")
    assert "satin" in unknown.value.message and "denim, twill" in unknown.value.message
    # Tensors of another model under this model.json: the hash does not match.
    mixed = tmp_path / "mixed"
    shutil.copytree(model_a, mixed)
    other = shared_model_dir(classes=CLASSES, seed=1) / "model.safetensors"
    shutil.copyfile(other, mixed / "model.safetensors")
    with pytest.raises(ModelHashMismatchError, match="does not match the model hash"):
        _publish(book, model_store, mixed, "denim-line", "denim")
    with pytest.raises(RecipeError, match="sensitivity range"):
        _publish(book, model_store, model_a, "denim-line", "denim", sensitivity=(1.2, 2.0))
    with pytest.raises(RecipeError, match="threshold factor"):
        _publish(book, model_store, model_a, "denim-line", "denim", threshold_factor=0)
    # Nothing was recorded and nothing half-copied into the store.
    assert book.list_recipes(include_retired=True) == []
    assert not model_store.root.exists() or not any(model_store.root.iterdir())


def test_selection_verifies_the_stored_model_and_sets_up_the_roll(
    book, model_store, model_a, model_b, tmp_path
) -> None:
    recipe = _publish(
        book, model_store, model_a, "denim-line", "denim", threshold_factor=1.3,
        sensitivity=(0.6, 2.5), grade_limit_points_per_100yd2=20,
    )  # fmt: skip
    selection = select_recipe(book, model_store, " denim ")
    assert (
        selection.recipe == recipe and selection.model_dir == model_store.root / recipe.model_sha256
    )
    assert selection.run_fields == {"recipe_name": "denim-line", "recipe_version": 1}
    base = StationConfig.model_validate(
        {
            "source": {"kind": "synthetic", "synthetic": {"fabric_preset": "grey_twill"}},
            "model": {"path": str(model_b), "pixel_threshold": 0.5, "threshold_factor": 0.9},
        }
    )
    roll = selection.apply_to(base)
    assert roll.model.path == selection.model_dir and roll.model.pixel_threshold is None
    assert roll.model.threshold_factor == 1.3 and roll.roll.fabric_type == "denim"
    assert (roll.operator.sensitivity_min, roll.operator.sensitivity_max) == (0.6, 2.5)
    assert roll.operator.engineer_sensitivity_max == 2.5  # widened to hold the recipe's range
    assert roll.store.grade_limit_points_per_100yd2 == 20
    assert base.model.path == model_b  # the station's own config is untouched
    with pytest.raises(NoRecipeError):
        select_recipe(book, model_store, "satin")

    folder = selection.model_dir
    tensors = folder / "model.safetensors"
    good = tensors.read_bytes()
    tensors.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # one flipped bit
    with pytest.raises(CorruptModelError) as corrupt:
        select_recipe(book, model_store, "denim")
    assert "model.safetensors does not match its SHA-256" in corrupt.value.message
    assert str(folder) in corrupt.value.hint and "Traceback" not in str(corrupt.value)
    tensors.write_bytes(good)
    # The folder named by the recipe's hash holding another model (files and manifest).
    shutil.rmtree(folder)
    other = model_store.publish(model_b)
    shutil.copytree(other.path, folder)
    with pytest.raises(ModelHashMismatchError, match="holds model"):
        select_recipe(book, model_store, "denim")
    shutil.rmtree(folder)
    with pytest.raises(ModelNotInStoreError, match="has no model"):
        select_recipe(book, model_store, "denim")
    model_store.publish(model_a)  # publishing again repairs the store
    assert select_recipe(book, model_store, "denim").model.model_hash == recipe.model_sha256


def test_a_later_publish_adds_new_exports_but_never_changes_stored_files(
    book, model_store, model_a, tmp_path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(model_a, model)
    stored = _publish(book, model_store, model, "denim-line", "denim").model_sha256
    (model / "test_metrics.json").write_text('{"mean": {"i_auroc": 0.9}}')
    (model / "notes.txt").write_text("not a model file")
    _publish(book, model_store, model, "denim-line", "denim")
    files = model_store.load(stored).files
    assert "test_metrics.json" in files and "notes.txt" not in files
    (model / "test_metrics.json").write_text('{"mean": {"i_auroc": 0.5}}')
    with pytest.raises(ModelStoreError, match="other content"):
        _publish(book, model_store, model, "denim-line", "denim")
    assert book.show("denim-line").version == 2


def test_the_run_records_its_recipe(store_config: StoreConfig, book, model_store, model_a) -> None:
    _publish(book, model_store, model_a, "denim-line", "denim")
    selection = select_recipe(book, model_store, "denim")
    store = DefectStore.open(store_config)
    try:
        roll = store.start_roll(lot_number="L1", station="s1", fabric_type="denim", width_mm=1600)
        metadata = read_metadata(selection.model_dir)
        model = ModelVersionInfo(
            sha256=metadata.model_hash, name="denim", classes=CLASSES, threshold=0.5
        )
        run = store.start_run(
            roll_key=roll.key, station="s1", model=model, settings=selection.settings,
            **selection.run_fields,
        )  # fmt: skip
    finally:
        store.close(timeout_s=30)
    columns = (InspectionRun.recipe_name, InspectionRun.recipe_version, InspectionRun.settings)
    with book._engine.connect() as connection:
        row = connection.execute(select(*columns).where(InspectionRun.key == run.key)).one()
    assert (row.recipe_name, row.recipe_version) == ("denim-line", 1)
    assert row.settings["model_sha256"] == metadata.model_hash


def test_cli_publish_list_show_retire(migrated_url: str, model_a, tmp_path, capsys) -> None:
    config = tmp_path / "station.yaml"
    config.write_text(
        f"store:\n  url: {migrated_url}\nrecipes:\n  model_store: {tmp_path / 'models'}\n"
    )
    assert load_recipes_config(config).model_store == tmp_path / "models"
    common = ["--config", str(config)]
    publish = ["recipe", "publish", str(model_a), "--name", "denim-line", "--fabric", "denim,twill"]
    assert main([*publish, "--threshold-factor", "1.1", "--by", "emil", *common]) == 0
    out = capsys.readouterr().out
    assert "published denim-line version 1" in out and "denim, twill" in out
    assert (tmp_path / "models" / read_metadata(model_a).model_hash / "manifest.json").is_file()
    assert main([*publish, "--sensitivity-range", "0.5,2", *common]) == 0
    assert main(["recipe", "list", *common]) == 0
    assert capsys.readouterr().out.count("denim-line") >= 2
    assert main(["recipe", "show", "denim-line", "--version", "1", *common]) == 0
    out = capsys.readouterr().out
    assert "version 1 (live)" in out and "threshold factor:  1.1" in out and "by emil" in out
    assert "model store:       verified, 2 files" in out
    stored = tmp_path / "models" / read_metadata(model_a).model_hash
    (stored / "model.json").write_text((stored / "model.json").read_text() + " ")
    assert main(["recipe", "show", "denim-line", *common]) == 2
    assert "model.json does not match its SHA-256" in capsys.readouterr().err
    assert main(["recipe", "retire", "denim-line", *common]) == 0
    assert "retired denim-line version 2" in capsys.readouterr().out
    assert main(["recipe", "list", *common]) == 0
    assert "no recipes" in capsys.readouterr().out
    # A refusal is one message and what to do, exit status 2, no traceback.
    assert (
        main(["recipe", "publish", str(model_a), "--name", "x", "--fabric", "satin", *common]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "does not know the fabric article(s) satin" in err[0]
    assert err[1].strip().startswith("what to do:")


def test_migration_0004_downgrades_and_upgrades(db_url: str) -> None:
    engine = create_store_engine(db_url, create=True)
    try:
        migrate.upgrade_database(engine)
        with engine.begin() as connection:
            config = migrate._config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0003_roll_recovery")
        with engine.connect() as connection:
            inspector = inspect(connection)
            assert "recipes" not in inspector.get_table_names()
            columns = {c["name"] for c in inspector.get_columns("inspection_runs")}
            assert "recipe_name" not in columns and "started_at" in columns
        assert migrate.upgrade_database(engine).up_to_date
        with engine.connect() as connection:
            diff = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
            )
        assert diff == [], f"models and migrations disagree: {diff}"
    finally:
        engine.dispose()


def test_a_journaled_run_start_keeps_its_recipe() -> None:
    import uuid

    from station.store.errors import InvalidRecordError
    from station.store.records import RunStart, item_to_payload, payload_to_item

    model = ModelVersionInfo(sha256="ab" * 32, name="denim", classes=CLASSES, threshold=0.5)
    start = RunStart(
        roll_key=uuid.uuid4(), station="s1", model=model, recipe_name="denim-line", recipe_version=3
    )
    assert payload_to_item(item_to_payload(start)) == start
    older = item_to_payload(start)  # a journal written before recipes existed
    del older["data"]["recipe_name"], older["data"]["recipe_version"]
    assert payload_to_item(older).recipe_name is None
    with pytest.raises(InvalidRecordError, match="given together"):
        RunStart(roll_key=uuid.uuid4(), station="s1", model=model, recipe_name="denim-line")
