"""``station train`` with QA feedback from a real store: false alarms as good fabric, confirmed
defects in validation, both recorded in the report; too few confirmed defects refuse clearly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from station.cli import EXIT_USER_ERROR, main
from station.store.config import StoreConfig
from station.store.repository import DefectRepository
from tests.integration.store.conftest import fast_config, migrate
from tests.integration.store.feedback_roll import write_reviewed_roll
from training.data.datasets import load_tiles
from training.data.fabric import write_mvtec_dataset
from training.qa_feedback import centred_tile

ARTICLE = "grey_twill"


@pytest.fixture(scope="module")
def fabric(tmp_path_factory) -> Path:
    """One generated fabric (the article) in the MVTec layout, 64-px tiles."""
    return write_mvtec_dataset(
        tmp_path_factory.mktemp("qa") / "fabric",
        classes=[ARTICLE],
        tile_px=64,
        n_train=8,
        n_test_good=1,
        n_test_defect=1,
        seed=2,
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> StoreConfig:
    """A SQLite store: 4 false alarms (one corrupt crop) and 6 confirmed defects of the article,
    and a roll of another article whose reviews must not be used."""
    folder = tmp_path_factory.mktemp("qa-store")
    config = fast_config(migrate(f"sqlite:///{folder / 'defects.sqlite3'}"), folder)
    roll = write_reviewed_roll(
        config, article=ARTICLE, lot_number="LOT-1", false_alarms=4, confirmed=6
    )
    write_reviewed_roll(
        config, article="dark_plain", lot_number="LOT-2", false_alarms=3, confirmed=3
    )
    # Corrupt one false alarm's crop on disk (its hash no longer matches).
    repository = DefectRepository.connect(config.url)
    crop = repository.get_defect(roll.false_alarms[0]).crop_path
    repository.close()
    (Path(config.image_root) / crop).write_bytes(b"damaged")
    return config


def _train(fabric: Path, out: Path, store: StoreConfig, *extra: str) -> int:
    return main(
        [
            "train",
            "--data",
            str(fabric),
            "--layout",
            "mvtec",
            "--out",
            str(out),
            "--tile-px",
            "64",
            "--batch-size",
            "4",
            "--positions-per-tile",
            "16",
            "--noise-std",
            "1.0",
            "--epochs",
            "2",
            "--fabric",
            ARTICLE,
            "--image-root",
            str(store.image_root),
            *extra,
        ]
    )


def test_train_uses_and_records_both_kinds_of_feedback(fabric, store, tmp_path, capsys) -> None:
    out = tmp_path / "model"
    status = _train(
        fabric,
        out,
        store,
        "--normals-from-store",
        store.url,
        "--validation-from-store",
        store.url,
    )
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "QA feedback: 3 false alarm crop(s) of grey_twill" in printed
    assert "skipped 1 corrupt" in printed
    assert "QA-confirmed defects: tile I-AUROC" in printed
    report = json.loads((out / "training_report.json").read_text())
    untouched = json.loads((out / "model.json").read_text())["training"]["qa_feedback"]
    feedback = report["qa_feedback"]
    assert untouched == feedback
    normals, confirmed = feedback["extra_normals"], feedback["confirmed_defects"]
    assert normals["exported"] == 3 and normals["tiles"] == 3
    assert normals["skipped"] == {"corrupt": 1}
    assert confirmed["exported"] == 6 and confirmed["tiles"] == 6
    for block in (normals, confirmed):
        assert block["store_url"] == store.url and block["articles"] == [ARTICLE]
        assert block["newest_review_at"].startswith("2025-03-01T09:")
    assert 0 <= confirmed["above_tile_threshold"] <= 6
    assert 0 <= confirmed["above_pixel_threshold"] <= 6
    # The 3 usable false alarms joined the data set's train tiles.
    plain = load_tiles(fabric, layout="mvtec", split="train", tile_px=64, progress=False)
    assert report["train_tiles"] == len(plain) + 3
    evaluated = [h for h in report["history"] if "val_score" in h]
    assert evaluated, report["history"]
    for record in evaluated:
        store_auroc, synthetic = record["val_store_image_auroc"], record["val_synthetic_score"]
        assert 0.0 <= store_auroc <= 1.0
        assert record["val_score"] == pytest.approx((store_auroc + synthetic) / 2)


def test_too_few_confirmed_defects_refuse_before_training(fabric, store, tmp_path, capsys):
    out = tmp_path / "model"
    status = _train(
        fabric, out, store, "--validation-from-store", store.url, "--min-confirmed-defects", "7"
    )
    captured = capsys.readouterr()
    assert status == EXIT_USER_ERROR
    assert (
        "the store holds 6 QA-confirmed defect(s) with a usable crop for fabric grey_twill; "
        "--validation-from-store needs at least 7" in captured.err
    )
    assert "Traceback" not in captured.err
    assert not (out / "training_report.json").exists()


def test_an_article_that_is_no_training_class_is_refused(fabric, store, tmp_path, capsys):
    status = main(
        [
            "train",
            "--data",
            str(fabric),
            "--layout",
            "mvtec",
            "--out",
            str(tmp_path / "m"),
            "--tile-px",
            "64",
            "--fabric",
            "dark_plain",
            "--image-root",
            str(store.image_root),
            "--normals-from-store",
            store.url,
        ]
    )
    err = capsys.readouterr().err
    assert status == EXIT_USER_ERROR
    assert (
        "QA feedback crops of fabric dark_plain match no training class (classes: grey_twill)"
        in err
    )


def test_a_crop_becomes_one_centred_tile() -> None:
    small = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30)
    tile = centred_tile(small, 64)
    assert tile.shape == (64, 64)
    # The crop sits in the middle, unchanged; the border mirrors it.
    assert (tile[22:42, 17:47] == small).all()
    large = np.arange(100 * 90, dtype=np.uint16).reshape(100, 90).astype(np.uint8)
    assert (centred_tile(large, 64) == large[18:82, 13:77]).all()
