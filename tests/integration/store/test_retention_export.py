"""Image retention never touches unreviewed defects; roll reports and training sets export."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from station.cli import main
from station.store.config import RetentionConfig, StoreConfig
from station.store.errors import ExportError
from station.store.export import export_training_set, write_roll_report
from station.store.records import EventKind, EventRecord
from station.store.retention import apply_retention
from station.store.store import DefectStore
from tests.integration.store.helpers import T0, defect, png_bytes


def _logged_roll(store: DefectStore, count: int, *, lot: str = "RT-1", end: bool = True):
    roll = store.start_roll(
        lot_number=lot, station="st-1", fabric_type="denim", width_mm=60 * 25.4, started_at=T0
    )
    records = [
        defect(
            roll.key,
            i,
            along_mm=(i + 0.5) * 914.4,
            points=1 + i % 4,
            detected_at=T0 + timedelta(days=i),
        )
        for i in range(count)
    ]
    for index, record in enumerate(records):
        store.writer.submit_defect(
            record, crop_png=png_bytes(index), heatmap_png=png_bytes(1000 + index)
        )
    store.writer.submit_event(
        EventRecord(
            kind=EventKind.UNINSPECTED_STRETCH,
            message="gap",
            roll_key=roll.key,
            from_mm=100.0,
            to_mm=160.0,
        )
    )
    if end:
        store.end_roll(roll.key, length_inspected_mm=count * 914.4)
    assert store.writer.flush(timeout_s=20)
    return roll, records


def test_retention_by_age_and_size_keeps_unreviewed_images(store: DefectStore) -> None:
    _, records = _logged_roll(store, 10)
    repo = store.repository
    for record in records[:6]:  # the six oldest are reviewed
        repo.confirm_defect(record.key, reviewer="qa") if record is records[
            0
        ] else repo.reject_defect(record.key, reviewer="qa")
    now = T0 + timedelta(days=10)
    by_age = apply_retention(repo, store.images, RetentionConfig(max_age_days=7.5), now=now)
    assert by_age.defects_cleared == 3  # reviewed and detected before day 2.5: days 0, 1, 2
    cleared = [repo.get_defect(r.key) for r in records[:3]]
    assert all(v.images_deleted_at is not None for v in cleared)
    with pytest.raises(Exception, match="not in the image store"):
        store.images.read(cleared[0].crop_path)

    by_size = apply_retention(repo, store.images, RetentionConfig(max_store_bytes=1), now=now)
    assert by_size.defects_cleared == 3  # the other reviewed ones; nothing else may go
    assert by_size.over_limit_bytes > 0  # unreviewed images keep the store over its limit
    for record in records[6:]:
        view = repo.get_defect(record.key)
        assert view.images_deleted_at is None
        assert store.images.read(view.crop_path, expected_sha256=view.crop_sha256)
        assert store.images.read(view.heatmap_path, expected_sha256=view.heatmap_sha256)
    assert by_size.store_bytes == sum(
        store.images.size_of(repo.get_defect(r.key).crop_path)
        + store.images.size_of(repo.get_defect(r.key).heatmap_path)
        for r in records[6:]
    )


def test_roll_report_csv_and_json(store: DefectStore, tmp_path: Path) -> None:
    roll, records = _logged_roll(store, 5)
    store.repository.reject_defect(records[0].key, reviewer="qa")
    json_result = write_roll_report(
        store.repository,
        roll.key,
        tmp_path / "r.json",
        report_format="json",
        limit_points_per_100yd2=40,
    )
    report = json.loads((tmp_path / "r.json").read_text())
    assert json_result.defect_count == 5 and report["roll"]["lot_number"] == "RT-1"
    # 60 in x 5 yd; the false alarm (1 point) is left out: 2 + 3 + 4 + 1 = 10 points,
    # 10 x 3600 / (60 x 5) = 120 points per 100 yd².
    assert report["grade"]["capped_points"] == 10
    assert report["grade"]["points_per_100yd2"] == pytest.approx(120.0)
    assert report["grade"]["passed"] is False and json_result.passed is False
    assert [d["key"] for d in report["defects"]] == [str(r.key) for r in records]
    assert report["summary"]["uninspected_mm"] == pytest.approx(60.0)
    assert report["events"][0]["kind"] == "uninspected_stretch"

    write_roll_report(
        store.repository,
        roll.key,
        tmp_path / "r.csv",
        report_format="csv",
        limit_points_per_100yd2=40,
    )
    text = (tmp_path / "r.csv").read_text()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert "# grade: FAIL" in comments and "# lot_number: RT-1" in comments
    rows = list(
        csv.DictReader(
            io.StringIO("\n".join(line for line in text.splitlines() if not line.startswith("#")))
        )
    )
    assert [row["key"] for row in rows] == [str(r.key) for r in records]
    assert rows[0]["review_status"] == "false_alarm" and rows[1]["points"] == "2"
    with pytest.raises(ExportError):
        write_roll_report(
            store.repository,
            roll.key,
            tmp_path / "r.x",
            report_format="xml",
            limit_points_per_100yd2=40,
        )


def test_training_set_holds_reviewed_crops_with_labels(store: DefectStore, tmp_path: Path) -> None:
    _, records = _logged_roll(store, 6)
    repo = store.repository
    repo.confirm_defect(records[0].key, reviewer="qa", defect_type="slub")
    repo.relabel_defect(records[1].key, reviewer="qa", defect_type="knot/../x")  # odd label
    repo.reject_defect(records[2].key, reviewer="qa")
    repo.confirm_defect(records[3].key, reviewer="qa")
    broken = repo.get_defect(records[3].key)
    (store.images.root / broken.crop_path).write_bytes(png_bytes(777))  # changed on disk
    out = tmp_path / "training"
    result = export_training_set(repo, store.images, out)
    assert result.exported == 3 and result.by_label == {"slub": 1, "knot/../x": 1, "false_alarm": 1}
    assert str(records[3].key) in result.skipped and "hash" in result.skipped[str(records[3].key)]
    labels = list(csv.DictReader((out / "labels.csv").open()))
    assert {row["label"] for row in labels} == {"slub", "knot/../x", "false_alarm"}
    for row in labels:
        path = (out / row["path"]).resolve()
        assert path.is_relative_to(out.resolve())  # a label cannot steer files out of the set
        assert path.read_bytes() == store.images.read(
            repo.get_defect(uuid.UUID(row["defect_key"])).crop_path
        )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["exported"] == 3
    with pytest.raises(ExportError):
        export_training_set(repo, store.images, out)  # not empty any more


def test_cli_report_and_training_export(
    store: DefectStore, store_config: StoreConfig, tmp_path: Path, capsys
) -> None:
    roll, records = _logged_roll(store, 3, lot="CLI-1")
    store.repository.confirm_defect(records[0].key, reviewer="qa", defect_type="hole")
    url = store_config.url
    assert (
        main(
            [
                "report",
                "--url",
                url,
                "--roll",
                "CLI-1",
                "--format",
                "json",
                "--out",
                str(tmp_path / "cli.json"),
            ]
        )
        == 0
    )
    assert "roll CLI-1: 3 defect(s)" in capsys.readouterr().out
    assert json.loads((tmp_path / "cli.json").read_text())["roll"]["key"] == str(roll.key)
    assert (
        main(
            ["report", "--url", url, "--roll-key", str(roll.key), "--out", str(tmp_path / "c.csv")]
        )
        == 0
    )
    assert main(["report", "--url", url, "--list"]) == 0
    assert "CLI-1" in capsys.readouterr().out
    assert main(["report", "--url", url, "--roll", "NOPE", "--out", str(tmp_path / "n.csv")]) == 2
    assert "no roll with lot number 'NOPE'" in capsys.readouterr().err
    assert (
        main(
            [
                "db",
                "export-training",
                "--url",
                url,
                "--image-root",
                str(store_config.image_root),
                "--out",
                str(tmp_path / "ts"),
            ]
        )
        == 0
    )
    assert "exported 1 crop(s)" in capsys.readouterr().out
    assert (
        main(
            [
                "db",
                "retention",
                "--url",
                url,
                "--image-root",
                str(store_config.image_root),
                "--max-store-bytes",
                "1",
            ]
        )
        == 0
    )
    assert "deleted images of 1 reviewed defect(s)" in capsys.readouterr().out
