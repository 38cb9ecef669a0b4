"""Exports: a roll's report (CSV or JSON) and reviewed defects as a training set."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from station.store.errors import ExportError, ImageStoreError
from station.store.images import ImageStore
from station.store.records import ReviewStatus, utc_now
from station.store.repository import DefectRepository
from station.store.views import DefectOrder, DefectQuery, DefectView

REPORT_VERSION = 1
DEFECT_COLUMNS = (
    "key",
    "along_mm",
    "across_mm",
    "length_mm",
    "width_mm",
    "area_mm2",
    "peak_score",
    "points",
    "is_hole",
    "fabric_class",
    "defect_type",
    "review_status",
    "reviewer",
    "reviewed_at",
    "review_comment",
    "detected_at",
    "run_key",
    "crop_path",
    "crop_sha256",
    "heatmap_path",
    "heatmap_sha256",
    "images_deleted_at",
)


class ReportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def iter_defects(repository: DefectRepository, query: DefectQuery) -> Iterator[DefectView]:
    """Every defect matching ``query``, page by page."""
    cursor = None
    while True:
        page = repository.find_defects(dataclasses.replace(query, cursor=cursor))
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise ExportError(
            f"cannot write {path}: {error}", hint="choose a writable place for --out"
        ) from None


@dataclass(frozen=True, slots=True)
class ReportResult:
    path: Path
    defect_count: int
    passed: bool | None


def build_roll_report(
    repository: DefectRepository, roll_key: uuid.UUID, *, limit_points_per_100yd2: float
) -> dict[str, Any]:
    """A roll's report as plain data: roll, grade, counts, runs, events and every defect."""
    summary = repository.roll_summary(roll_key, limit_points_per_100yd2=limit_points_per_100yd2)
    defects = list(
        iter_defects(
            repository, DefectQuery(roll_key=roll_key, order=DefectOrder.ALONG, limit=1000)
        )
    )
    return {
        "report_version": REPORT_VERSION,
        "generated_at": utc_now().isoformat(),
        "roll": _plain(summary.roll),
        "grade": _plain(summary.grade),
        "grade_problem": summary.grade_problem,
        "summary": {
            "defect_count": summary.defect_count,
            "defects_by_status": summary.defects_by_status,
            "defects_by_class": summary.defects_by_class,
            "defects_by_type": summary.defects_by_type,
            "events_by_kind": summary.events_by_kind,
            "uninspected_mm": summary.uninspected_mm,
            "dropped_blocks": summary.dropped_blocks,
            "defects_without_images": summary.defects_without_images,
        },
        "runs": _plain(list(summary.runs)),
        "events": _plain(repository.list_events(roll_key=roll_key, limit=100_000)),
        "defects": [
            {column: _plain(getattr(d, column)) for column in DEFECT_COLUMNS} for d in defects
        ],
    }


def _report_csv(report: dict[str, Any]) -> str:
    """Summary as ``# name: value`` lines, then one row per defect.

    Read it back with ``csv`` after skipping lines that start with ``#``, or with
    ``pandas.read_csv(path, comment="#")``.
    """
    roll, grade = report["roll"], report["grade"]
    lines = [
        f"# roll report v{report['report_version']} generated {report['generated_at']}",
        f"# lot_number: {roll['lot_number']}",
        f"# roll_key: {roll['key']}",
        f"# station: {roll['station']}",
        f"# fabric_type: {roll['fabric_type']}",
        f"# width_mm: {roll['width_mm']}",
        f"# length_inspected_mm: {roll['length_inspected_mm']}",
        f"# started_at: {roll['started_at']}",
        f"# ended_at: {roll['ended_at']}",
        f"# defects: {report['summary']['defect_count']}",
        "# defects_by_status: "
        + json.dumps(report["summary"]["defects_by_status"], sort_keys=True),
        f"# uninspected_mm: {report['summary']['uninspected_mm']}",
    ]
    if grade is not None:
        lines += [
            f"# points_capped: {grade['capped_points']}",
            f"# points_per_100yd2: {grade['points_per_100yd2']:.2f}",
            f"# grade_limit_points_per_100yd2: {grade['limit_points_per_100yd2']}",
            f"# grade: {'PASS' if grade['passed'] else 'FAIL'}",
        ]
    else:
        lines.append(f"# grade: not graded ({report['grade_problem']})")
    buffer = io.StringIO()
    buffer.write("\n".join(lines) + "\n")
    writer = csv.DictWriter(buffer, fieldnames=DEFECT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for defect in report["defects"]:
        writer.writerow({k: "" if v is None else v for k, v in defect.items()})
    return buffer.getvalue()


def write_roll_report(
    repository: DefectRepository,
    roll_key: uuid.UUID,
    path: str | Path,
    *,
    report_format: ReportFormat | str,
    limit_points_per_100yd2: float,
) -> ReportResult:
    """Write a roll's report to ``path`` (atomically) as CSV or JSON.

    Raises:
        NotFoundError: no such roll.
        ExportError: the file cannot be written, or the format is unknown.
    """
    try:
        report_format = ReportFormat(report_format)
    except ValueError:
        raise ExportError(
            f"unknown report format {report_format!r}", hint="use csv or json"
        ) from None
    report = build_roll_report(
        repository, roll_key, limit_points_per_100yd2=limit_points_per_100yd2
    )
    if report_format is ReportFormat.JSON:
        text = json.dumps(report, indent=2, sort_keys=False) + "\n"
    else:
        text = _report_csv(report)
    _write_atomically(Path(path), text)
    grade = report["grade"]
    return ReportResult(
        path=Path(path),
        defect_count=len(report["defects"]),
        passed=None if grade is None else grade["passed"],
    )


@dataclass(frozen=True, slots=True)
class TrainingSetResult:
    """What a training-set export wrote.

    Attributes:
        exported: Crops copied.
        by_label: Crops per label (``false_alarm`` for rejected defects).
        skipped: Defect key -> reason, for reviewed defects whose crop could not be used.
    """

    out_dir: Path
    exported: int
    by_label: dict[str, int]
    skipped: dict[str, str]


def _folder_name(label: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("._")
    return cleaned or "unnamed"


def export_training_set(
    repository: DefectRepository,
    images: ImageStore,
    out_dir: str | Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    fabric_class: str | None = None,
) -> TrainingSetResult:
    """Copy crops of reviewed defects into ``out_dir/crops/<label>/`` with ``labels.csv``.

    Confirmed defects are labelled with their type (``defect`` when they have
    none); false alarms with ``false_alarm``. Every crop is checked against its
    recorded hash; missing or changed ones are skipped and listed in ``manifest.json``.

    Raises:
        ExportError: ``out_dir`` exists and is not empty, or cannot be written.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ExportError(f"{out_dir} is not empty", hint="export into a new or empty folder")
    query = DefectQuery(
        since=since,
        until=until,
        fabric_class=fabric_class,
        order=DefectOrder.NEWEST,
        review_status=(ReviewStatus.CONFIRMED, ReviewStatus.FALSE_ALARM),
        limit=1000,
    )
    rows: list[dict[str, Any]] = []
    by_label: Counter[str] = Counter()
    skipped: dict[str, str] = {}
    for defect in iter_defects(repository, query):
        label = (
            "false_alarm"
            if defect.review_status is ReviewStatus.FALSE_ALARM
            else defect.defect_type or "defect"
        )
        if defect.crop_path is None or defect.images_deleted_at is not None:
            skipped[str(defect.key)] = (
                "no crop stored" if defect.crop_path is None else "deleted by retention"
            )
            continue
        try:
            data = images.read(defect.crop_path, expected_sha256=defect.crop_sha256)
        except ImageStoreError as error:
            skipped[str(defect.key)] = error.message
            continue
        relative = f"crops/{_folder_name(label)}/{defect.key}.png"
        target = out_dir / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as error:
            raise ExportError(
                f"cannot write {target}: {error}", hint="free disk space or pick another --out"
            ) from None
        by_label[label] += 1
        rows.append(
            {
                "path": relative,
                "label": label,
                "review_status": defect.review_status.value,
                "fabric_class": defect.fabric_class,
                "defect_key": str(defect.key),
                "lot_number": defect.lot_number,
                "along_mm": defect.along_mm,
                "across_mm": defect.across_mm,
                "length_mm": defect.length_mm,
                "width_mm": defect.width_mm,
                "peak_score": defect.peak_score,
                "reviewer": defect.reviewer or "",
                "reviewed_at": defect.reviewed_at.isoformat() if defect.reviewed_at else "",
                "sha256": defect.crop_sha256,
            }
        )
    buffer = io.StringIO()
    fields = [
        "path",
        "label",
        "review_status",
        "fabric_class",
        "defect_key",
        "lot_number",
        "along_mm",
        "across_mm",
        "length_mm",
        "width_mm",
        "peak_score",
        "reviewer",
        "reviewed_at",
        "sha256",
    ]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _write_atomically(out_dir / "labels.csv", buffer.getvalue())
    manifest = {
        "generated_at": utc_now().isoformat(),
        "exported": len(rows),
        "by_label": dict(by_label),
        "skipped": skipped,
        "filters": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "fabric_class": fabric_class,
        },
    }
    _write_atomically(out_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return TrainingSetResult(
        out_dir=out_dir, exported=len(rows), by_label=dict(by_label), skipped=skipped
    )
