"""The engineer's loop end to end: capture two fabrics, train one model, publish two recipes,
and one station process that picks each roll's recipe by its fabric article.

Real parts throughout: ``station capture`` on the synthetic source (two styles of
the generator: fabric A and fabric B), ``station train`` with the tests' tiny
settings, ``station recipe publish`` into a real model store and a migrated SQLite
database, and the real pipeline run by ``station run``'s library function
(:func:`~station.pipeline.headless.run_headless`) -- every roll in this test
process, so nothing restarts between rolls -- and ``station run`` itself for the
refused roll.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from station.cli import EXIT_USER_ERROR, main
from station.pipeline.config import StationConfig, load_station_config
from station.pipeline.headless import run_headless
from station.pipeline.roll_recipe import RollRefusedError
from station.store.engine import create_store_engine
from station.store.migrate import upgrade_database
from station.store.models import FabricType, InspectionRun, ModelVersion, Roll
from training.public import read_metadata

MM_PER_PX = 0.5
WIDTH_PX = 192
STRIP_LINES = 128
# Fabric article -> the generator style the synthetic camera sees, and its seed.
FABRICS = {"fabric_a": ("grey_twill", 21), "fabric_b": ("dark_plain", 22)}
ROLL_METRES = 0.2


def station_yaml(folder: Path, article: str) -> Path:
    """The station's config (recipes per roll, no model.path), looking at ``article``'s fabric."""
    preset, seed = FABRICS[article]
    data: dict[str, Any] = {
        "station": {"name": "loop-station"},
        "source": {
            "kind": "synthetic",
            "synthetic": {
                "fabric_preset": preset,
                "width_px": WIDTH_PX,
                "seed": seed,
                "defects_per_metre": 3.0,
                "mm_per_px": MM_PER_PX,
                "lines_per_block": 96,
            },
        },
        "model": {"backend": "torch", "device": "cpu", "batch_size": 8},
        "store": {
            "url": f"sqlite:///{folder / 'station.sqlite3'}",
            "image_root": str(folder / "images"),
            "journal_dir": str(folder / "journal"),
            "flush_interval_s": 0.01,
            "fsync_images": False,
        },
        "pipeline": {"when_behind": "wait", "status_interval_s": 0.2},
        "recipes": {"model_store": str(folder / "model_store"), "per_roll": True},
    }
    path = folder / f"station-{article}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def roll(config_path: Path, article: str, lot: str) -> uuid.UUID:
    """One roll of ``article`` through the pipeline, in this process; its roll key."""
    config: StationConfig = load_station_config(config_path)
    config.roll.fabric_type = article
    config.roll.lot_number = lot
    summary = run_headless(config, stop=threading.Event(), max_metres=ROLL_METRES, status_every_s=0)
    assert summary.error is None and summary.metres_inspected > 0
    assert summary.roll_key is not None
    return summary.roll_key


def recorded_run(url: str, roll_key: uuid.UUID) -> dict[str, Any]:
    """The roll's inspection run as the database holds it."""
    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                select(
                    InspectionRun.recipe_name,
                    InspectionRun.recipe_version,
                    InspectionRun.settings,
                    ModelVersion.sha256,
                    FabricType.name.label("fabric"),
                )
                .join(Roll, InspectionRun.roll_id == Roll.id)
                .join(ModelVersion, InspectionRun.model_version_id == ModelVersion.id)
                .join(FabricType, Roll.fabric_type_id == FabricType.id)
                .where(Roll.key == roll_key)
            ).one()
    finally:
        engine.dispose()
    return dict(row._mapping)


def publish(config: Path, model: Path, name: str, article: str, factor: float) -> None:
    argv = ["recipe", "publish", str(model), "--config", str(config), "--name", name]
    argv += ["--fabric", article, "--threshold-factor", str(factor), "--by", "emil"]
    assert main(argv) == 0


@pytest.mark.slow  # captures 2 m, trains a tiny model, runs seven short rolls
def test_capture_train_publish_and_each_roll_runs_its_articles_recipe(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    configs = {article: station_yaml(tmp_path, article) for article in FABRICS}
    config_a, config_b = configs["fabric_a"], configs["fabric_b"]
    url = f"sqlite:///{tmp_path / 'station.sqlite3'}"
    engine = create_store_engine(url, create=True)
    upgrade_database(engine)
    engine.dispose()

    # Capture good fabric of both articles with the station's own config (no model needed).
    captures = tmp_path / "captures"
    for article, config in configs.items():
        argv = ["capture", "--config", str(config), "--fabric", article, "--metres", "1.0"]
        assert main([*argv, "--out", str(captures), "--strip-lines", str(STRIP_LINES)]) == 0

    # One model for both articles, with the tests' tiny training settings.
    model = tmp_path / "model"
    tiny = ["--tile-px", "64", "--batch-size", "4", "--positions-per-tile", "16"]
    argv = ["train", "--data", str(captures), "--layout", "folder", "--out", str(model)]
    assert main([*argv, *tiny, "--noise-std", "1.0", "--epochs", "2"]) == 0
    model_hash = read_metadata(model).model_hash

    # Two recipes on the one model: article A runs line-a, article B line-b.
    publish(config_a, model, "line-a", "fabric_a", 1.1)
    publish(config_a, model, "line-b", "fabric_b", 1.4)

    # Rolls A, B, A through one process: each run records its recipe, model and fabric.
    expected = [("fabric_a", "line-a", 1, 1.1), ("fabric_b", "line-b", 1, 1.4)]
    expected.append(expected[0])
    for index, (article, name, version, factor) in enumerate(expected):
        run = recorded_run(url, roll(configs[article], article, f"LOT-{index}"))
        assert (run["fabric"], run["recipe_name"], run["recipe_version"]) == (
            article,
            name,
            version,
        )
        assert run["sha256"] == model_hash
        assert run["settings"]["recipe"]["model_sha256"] == model_hash
        assert run["settings"]["model"]["threshold_factor"] == factor
        assert Path(run["settings"]["model"]["path"]).name == model_hash  # the stored copy

    # A new version of line-a is used by the next roll of A, without a restart.
    publish(config_a, model, "line-a", "fabric_a", 0.9)
    run = recorded_run(url, roll(config_a, "fabric_a", "LOT-3"))
    assert (run["recipe_name"], run["recipe_version"]) == ("line-a", 2)
    assert run["settings"]["model"]["threshold_factor"] == 0.9
    capsys.readouterr()

    # An article without a recipe: `station run` refuses the roll with one message, exit 2 ...
    argv = ["run", "--config", str(config_a), "--fabric", "satin", "--max-metres", "0.1"]
    assert main([*argv, "--lot", "LOT-SATIN"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "roll refused: no recipe covers the fabric article 'satin'" in err, err
    assert "station recipe publish" in err and "Traceback" not in err
    # ... and the next good roll still runs (B, in this process).
    run = recorded_run(url, roll(config_b, "fabric_b", "LOT-5"))
    assert (run["recipe_name"], run["recipe_version"]) == ("line-b", 1)
    engine = create_store_engine(url)
    with engine.connect() as connection:
        lots = connection.execute(select(Roll.lot_number)).scalars().all()
    engine.dispose()
    assert "LOT-SATIN" not in lots

    # A corrupted stored model refuses its roll; it is never inspected with anything else.
    tensors = tmp_path / "model_store" / model_hash / "model.safetensors"
    data = bytearray(tensors.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tensors.write_bytes(bytes(data))
    with pytest.raises(RollRefusedError) as refused:
        roll(config_a, "fabric_a", "LOT-6")
    message = refused.value.message
    assert message.startswith("roll of fabric article 'fabric_a' refused: ")
    assert "model.safetensors does not match its SHA-256" in message
    assert "publish the model again" in refused.value.hint
