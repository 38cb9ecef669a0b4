"""QA feedback export: the reviewed crops ``station train`` learns from (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml
from sqlalchemy import make_url

from station.store.config import StoreConfig
from station.store.errors import DatabaseUnreachableError
from station.store.images import ImageStore
from station.store.repository import DefectRepository
from station.store.training_feedback import (
    TooFewReviewedDefectsError,
    prepare_training_feedback,
)
from tests.integration.store.feedback_roll import ReviewedRoll, write_reviewed_roll
from training.errors import ConfigError


@pytest.fixture
def rolls(store_config: StoreConfig) -> tuple[ReviewedRoll, ReviewedRoll]:
    """A grey_twill roll (4 false alarms, 6 confirmed) and a dark_plain roll (2 and 2)."""
    twill = write_reviewed_roll(
        store_config, article="grey_twill", lot_number="LOT-T", false_alarms=4, confirmed=6
    )
    plain = write_reviewed_roll(
        store_config,
        article="dark_plain",
        lot_number="LOT-P",
        false_alarms=2,
        confirmed=2,
        reviewed_at_start=30,
    )
    return twill, plain


def _crop_path(config: StoreConfig, key) -> Path:
    repository = DefectRepository.connect(config.url)
    try:
        defect = repository.get_defect(key)
    finally:
        repository.close()
    return ImageStore(config.image_root).resolve(defect.crop_path)


def _with_password(url: str) -> str:
    """The URL with a password (ignored by SQLite and by the test server's trust login)."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return url
    return parsed.set(password="s3cret-pw").render_as_string(hide_password=False)


def test_normals_are_exactly_the_false_alarm_crops_of_the_article(
    store_config: StoreConfig, rolls, tmp_path: Path, caplog
) -> None:
    twill, _ = rolls
    corrupt, missing = twill.false_alarms[0], twill.false_alarms[1]
    _crop_path(store_config, corrupt).write_bytes(b"\x89PNG\r\n\x1a\nnot the stored bytes")
    _crop_path(store_config, missing).unlink()
    originals = {key: _crop_path(store_config, key).read_bytes() for key in twill.false_alarms[2:]}
    url = _with_password(store_config.url)

    with caplog.at_level(logging.WARNING, logger="station.store.training_feedback"):
        feedback = prepare_training_feedback(
            tmp_path / "model",
            normals_url=url,
            validation_url=None,
            articles=["grey_twill"],
            image_root=store_config.image_root,
        )

    manifest_path = feedback.fields["extra_normals"]
    assert set(feedback.fields) == {"extra_normals"}
    manifest = json.loads(manifest_path.read_text())
    exported = {crop["defect_key"]: crop for crop in manifest["crops"]}
    assert set(exported) == {str(key) for key in originals}  # not dark_plain, not confirmed
    for key, data in originals.items():
        crop = exported[str(key)]
        assert crop["fabric"] == "grey_twill"  # the roll's article, not the model's guess
        assert (manifest_path.parent / crop["path"]).read_bytes() == data
    source = manifest["source"]
    assert source["skipped"] == {"corrupt": 1, "missing": 1}
    assert source["exported"] == 2 and source["articles"] == ["grey_twill"]
    assert source["review_status"] == "false_alarm"
    assert "s3cret-pw" not in manifest_path.read_text()
    assert source["newest_review_at"] == "2025-03-01T09:03:00+00:00"  # 4th rejection, T0+1h+3min
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "1 corrupt, 1 missing" in warnings[0].getMessage()
    assert any("skipped 1 corrupt, 1 missing" in line for line in feedback.messages)


def test_confirmed_defects_of_several_articles_and_the_minimum(
    store_config: StoreConfig, rolls, tmp_path: Path
) -> None:
    twill, plain = rolls
    feedback = prepare_training_feedback(
        tmp_path / "model",
        normals_url=None,
        validation_url=store_config.url,
        articles=["grey_twill", "dark_plain"],
        image_root=store_config.image_root,
        min_confirmed=8,
    )
    manifest = json.loads(feedback.fields["confirmed_defects"].read_text())
    assert {c["defect_key"] for c in manifest["crops"]} == {
        str(k) for k in twill.confirmed + plain.confirmed
    }
    assert {c["fabric"] for c in manifest["crops"]} == {"grey_twill", "dark_plain"}

    station_yaml = tmp_path / "station.yaml"  # the image folder from its store section
    station_yaml.write_text(yaml.safe_dump({"store": {"image_root": str(store_config.image_root)}}))
    with pytest.raises(TooFewReviewedDefectsError) as refused:
        prepare_training_feedback(
            tmp_path / "model2",
            normals_url=None,
            validation_url=store_config.url,
            articles=["dark_plain"],
            store_config=station_yaml,
        )
    assert refused.value.message == (
        "the store holds 2 QA-confirmed defect(s) with a usable crop for fabric dark_plain; "
        "--validation-from-store needs at least 5"
    )
    assert "--min-confirmed-defects" in refused.value.hint


def test_user_errors_are_one_clear_message(store_config: StoreConfig, rolls, tmp_path) -> None:
    with pytest.raises(ConfigError, match="used only with QA feedback"):
        prepare_training_feedback(
            tmp_path, normals_url=None, validation_url=None, articles=["grey_twill"]
        )
    with pytest.raises(ConfigError, match="need the fabric articles"):
        prepare_training_feedback(
            tmp_path, normals_url=store_config.url, validation_url=None, articles=None
        )
    with pytest.raises(ConfigError, match=r"image store folder .* does not exist"):
        prepare_training_feedback(
            tmp_path,
            normals_url=store_config.url,
            validation_url=None,
            articles=["grey_twill"],
            image_root=tmp_path / "no-such-folder",
        )
    with pytest.raises(TooFewReviewedDefectsError, match="0 false alarm"):
        prepare_training_feedback(
            tmp_path,
            normals_url=store_config.url,
            validation_url=None,
            articles=["denim"],
            image_root=store_config.image_root,
        )


def test_unreachable_store_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    with pytest.raises(DatabaseUnreachableError):
        prepare_training_feedback(
            tmp_path,
            normals_url="postgresql+psycopg://qa:pw@127.0.0.1:1/nothing",
            validation_url=None,
            articles=["grey_twill"],
            image_root=tmp_path / "images",
        )
