"""A roll's report as a PDF: roll facts, both grades, the roll map, defects with pictures.

Built with reportlab from the same data as the CSV and JSON reports
(:func:`station.store.export.build_roll_report`). Page 1 holds the roll, its
4-point grade twice (every detection QA has not rejected, and confirmed
defects only), the review progress and the roll map; the defect table follows
with :data:`ROWS_PER_PAGE` defects a page, each with its crop and heatmap.
So a roll with ``n`` defects gives ``1 + max(1, ceil(n / ROWS_PER_PAGE))`` pages.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image as PilImage
from reportlab.graphics.shapes import Circle, Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    Image,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from station.grading import GradingError, RollGrade
from station.store.errors import ExportError, ImageStoreError
from station.store.export import build_roll_report
from station.store.images import ImageStore
from station.store.records import EventKind
from station.store.repository import DefectRepository

ROWS_PER_PAGE = 9
THUMB_MM = 17.0
MARGIN_MM = 12.0
_MARK_RADIUS = 3.6
MAX_COUNT_ROWS = 8  # keeps page 1 to one page however many types a roll has
POINT_COLOURS = {
    0: colors.HexColor("#9e9e9e"),
    1: colors.HexColor("#7cb342"),
    2: colors.HexColor("#fbc02d"),
    3: colors.HexColor("#fb8c00"),
    4: colors.HexColor("#e53935"),
}
_STATUS_TEXT = {
    "unreviewed": "unreviewed",
    "confirmed": "confirmed",
    "false_alarm": "false alarm",
}


@dataclass(frozen=True, slots=True)
class PdfReportResult:
    """What :func:`write_pdf_report` wrote.

    Attributes:
        path: The PDF.
        defect_count: Defects in the table.
        pages: Pages of the PDF.
        passed: The grade of every detection not rejected (None: not graded).
    """

    path: Path
    defect_count: int
    pages: int
    passed: bool | None


def expected_pages(defect_count: int) -> int:
    """Pages of a report with ``defect_count`` defects."""
    return 1 + max(1, math.ceil(defect_count / ROWS_PER_PAGE))


def _styles() -> dict[str, ParagraphStyle]:
    sheet = getSampleStyleSheet()
    return {
        "title": sheet["Title"],
        "heading": sheet["Heading2"],
        "body": sheet["BodyText"],
        "small": ParagraphStyle("small", parent=sheet["BodyText"], fontSize=7.5, leading=9),
    }


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _grade_row(label: str, grade: RollGrade | None, problem: str | None) -> list[str]:
    if grade is None:
        return [label, "-", "-", f"not graded: {problem}"]
    verdict = "PASS" if grade.passed else "FAIL"
    return [
        label,
        f"{_count(grade.defect_count, 'defect')}, {_count(grade.capped_points, 'point')}",
        f"{grade.points_per_100yd2:.1f} / 100 yd²",
        f"{verdict} (limit {grade.limit_points_per_100yd2:g})",
    ]


def _confirmed_grade(
    repository: DefectRepository, roll_key: uuid.UUID, limit: float
) -> tuple[RollGrade | None, str | None]:
    try:
        return (
            repository.grade(roll_key, limit_points_per_100yd2=limit, include_unreviewed=False),
            None,
        )
    except GradingError as error:
        return None, error.message


def _table(rows: list[list[Any]], widths: list[float], *, header: bool = True) -> Table:
    table = Table(rows, colWidths=widths)
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8.5),
        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#b0b0b0")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if header:
        style += [
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eaf0")),
        ]
    table.setStyle(TableStyle(style))
    return table


def roll_map_drawing(report: dict[str, Any], *, width_pt: float, height_pt: float) -> Drawing:
    """The roll map of ``report``: the strip, defects by points, false alarms hollow."""
    roll = report["roll"]
    length = max(1.0, float(roll["length_inspected_mm"] or 0.0))
    length = max([length] + [float(d["along_mm"]) for d in report["defects"]])
    web = max(1.0, float(roll["width_mm"]))
    ruler = 14.0
    strip_h = height_pt - ruler
    drawing = Drawing(width_pt, height_pt)
    drawing.add(Rect(0, ruler, width_pt, strip_h, fillColor=colors.HexColor("#f4f1ea")))
    for event in report["events"]:
        if event["kind"] == EventKind.UNINSPECTED_STRETCH and event["from_mm"] is not None:
            left = width_pt * float(event["from_mm"]) / length
            span = max(1.5, width_pt * (float(event["to_mm"]) - float(event["from_mm"])) / length)
            fill = colors.Color(0.35, 0.35, 0.35, alpha=0.35)
            drawing.add(Rect(left, ruler, span, strip_h, fillColor=fill, strokeColor=None))

    def centre(defect: dict[str, Any]) -> tuple[float, float]:
        # Keep a mark's radius inside the strip, so marks at the edges are not cut.
        x = width_pt * min(max(float(defect["along_mm"]) / length, 0.0), 1.0)
        x = min(max(x, _MARK_RADIUS), width_pt - _MARK_RADIUS)
        across = min(max(float(defect["across_mm"]) / web, 0.0), 1.0)
        y = ruler + _MARK_RADIUS + (strip_h - 2 * _MARK_RADIUS) * (1.0 - across)
        return x, y

    ordered = sorted(report["defects"], key=lambda d: d["review_status"] != "false_alarm")
    for defect in ordered:
        x, y = centre(defect)
        if defect["review_status"] == "false_alarm":
            drawing.add(
                Circle(
                    x, y, _MARK_RADIUS - 0.4, fillColor=None, strokeColor=colors.grey, strokeWidth=1
                )
            )
        else:
            colour = POINT_COLOURS.get(int(defect["points"]), POINT_COLOURS[4])
            drawing.add(Circle(x, y, _MARK_RADIUS, fillColor=colour, strokeColor=colour.clone()))
    step = _tick_step_m(length / 1000.0)
    tick = 0.0
    while tick * 1000.0 <= length + 1e-6:
        x = width_pt * tick * 1000.0 / length
        drawing.add(Line(x, ruler, x, ruler - 3, strokeWidth=0.5))
        drawing.add(String(x, 2, f"{tick:g} m", fontSize=7, textAnchor="middle"))
        tick += step
    return drawing


def _tick_step_m(length_m: float) -> float:
    for exponent in range(-2, 7):
        for base in (1.0, 2.0, 5.0):
            if length_m / (base * 10.0**exponent) <= 10:
                return base * 10.0**exponent
    return 10.0**7


def _thumbnail(images: ImageStore | None, path: str | None, sha256: str | None) -> Flowable | str:
    if path is None or images is None:
        return "no image"
    try:
        data = images.read(path, expected_sha256=sha256)
        with PilImage.open(io.BytesIO(data)) as picture:
            picture.load()
            width, height = picture.size
    except ImageStoreError as error:
        return "damaged" if "hash" in error.message else "missing"
    except (OSError, ValueError):
        return "damaged"
    scale = THUMB_MM * mm / max(width, height)
    return Image(io.BytesIO(data), width=width * scale, height=height * scale)


def _defect_rows(report: dict[str, Any], images: ImageStore | None, start: int) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for number, defect in enumerate(report["defects"], start=start):
        size = f"{defect['length_mm']:.0f} x {defect['width_mm']:.0f}"
        rows.append(
            [
                str(number),
                _thumbnail(images, defect["crop_path"], defect["crop_sha256"]),
                _thumbnail(images, defect["heatmap_path"], defect["heatmap_sha256"]),
                f"{defect['along_mm'] / 1000.0:.3f}",
                f"{defect['across_mm']:.0f}",
                size,
                f"{defect['peak_score']:.3f}",
                str(defect["points"]),
                defect["fabric_class"],
                defect["defect_type"] or "",
                _STATUS_TEXT.get(defect["review_status"], defect["review_status"]),
                defect["reviewer"] or "",
            ]
        )
    return rows


def _first_page(
    report: dict[str, Any], confirmed: tuple[RollGrade | None, str | None], width: float
) -> list[Flowable]:
    styles = _styles()
    roll, summary = report["roll"], report["summary"]
    length = roll["length_inspected_mm"]
    facts = [
        ["Lot number", roll["lot_number"], "Station", roll["station"]],
        ["Fabric", roll["fabric_type"], "Width", f"{roll['width_mm']:.0f} mm"],
        [
            "Inspected",
            f"{length / 1000.0:.2f} m" if length is not None else "roll not ended",
            "Not inspected",
            f"{summary['uninspected_mm'] / 1000.0:.2f} m",
        ],
        ["Started", roll["started_at"][:19].replace("T", " "), "Ended",
         (roll["ended_at"] or "running")[:19].replace("T", " ")],
        ["Model", ", ".join(sorted({run["model_name"] for run in report["runs"]})) or "-",
         "Roll key", roll["key"]],
    ]  # fmt: skip
    by_status = summary["defects_by_status"]
    progress = (
        f"{_count(summary['defect_count'], 'defect')}: {by_status.get('confirmed', 0)} confirmed, "
        f"{_count(by_status.get('false_alarm', 0), 'false alarm')}, "
        f"{by_status.get('unreviewed', 0)} not reviewed yet."
    )
    grade_rows = [
        ["4-point grade", "counted", "score", "result"],
        _grade_row("all detections except false alarms", _grade(report), report["grade_problem"]),
        _grade_row("confirmed by QA only", *confirmed),
    ]
    legend = (
        "Roll map: along the roll left to right, across the web top to bottom. Marks by points: "
        '<font color="#7cb342">1</font>, <font color="#fbc02d">2</font>, '
        '<font color="#fb8c00">3</font>, <font color="#e53935">4</font>; '
        "hollow grey: false alarm; shaded: not inspected."
    )
    return [
        Paragraph(f"Roll report: {roll['lot_number']}", styles["title"]),
        _table(facts, [0.16 * width, 0.34 * width, 0.16 * width, 0.34 * width], header=False),
        Spacer(1, 5 * mm),
        _table(grade_rows, [0.36 * width, 0.24 * width, 0.18 * width, 0.22 * width]),
        Spacer(1, 2 * mm),
        Paragraph(progress, styles["body"]),
        Spacer(1, 4 * mm),
        Paragraph("Roll map", styles["heading"]),
        roll_map_drawing(report, width_pt=width, height_pt=42 * mm),
        Spacer(1, 2 * mm),
        Paragraph(legend, styles["small"]),
        Spacer(1, 4 * mm),
        Paragraph("Counts", styles["heading"]),
        _counts_table(summary, width),
        Spacer(1, 3 * mm),
        Paragraph(
            f"Generated {report['generated_at'][:19].replace('T', ' ')} UTC", styles["small"]
        ),
    ]


def _top_counts(counts: dict[str, int]) -> list[tuple[str, int]]:
    """The largest counts first; past :data:`MAX_COUNT_ROWS` the rest are summed as "others"."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ordered) <= MAX_COUNT_ROWS:
        return ordered
    kept = ordered[: MAX_COUNT_ROWS - 1]
    return [*kept, (f"{len(ordered) - len(kept)} others", sum(n for _, n in ordered[len(kept) :]))]


def _counts_table(summary: dict[str, Any], width: float) -> Table:
    """Defects by type and by fabric class, and the roll's events by kind, side by side."""
    columns = [
        ("defect type", summary["defects_by_type"]),
        ("fabric class", summary["defects_by_class"]),
        ("event", summary["events_by_kind"]),
    ]
    lists = [_top_counts(counts) for _, counts in columns]
    height = max(1, *(len(entries) for entries in lists))
    rows: list[list[str]] = [[cell for name, _ in columns for cell in (name, "count")]]
    for index in range(height):
        row: list[str] = []
        for entries in lists:
            name, count = entries[index] if index < len(entries) else ("", "")
            row += [name.replace("_", " ") if name else ("none" if index == 0 else ""), str(count)]
        rows.append(row)
    narrow, wide = 0.08 * width, 0.253 * width
    return _table(rows, [wide, narrow] * 3)


def _grade(report: dict[str, Any]) -> RollGrade | None:
    return RollGrade(**report["grade"]) if report["grade"] is not None else None


def write_pdf_report(
    repository: DefectRepository,
    images: ImageStore | None,
    roll_key: uuid.UUID,
    path: str | Path,
    *,
    limit_points_per_100yd2: float,
) -> PdfReportResult:
    """Write a roll's PDF report to ``path``.

    Args:
        repository: The defect database.
        images: The image store for the thumbnails (None: the table says "no image").
        roll_key: The roll.
        path: The PDF file to write (its folder is created).
        limit_points_per_100yd2: The grade's pass/fail limit.

    Raises:
        NotFoundError: no such roll.
        ExportError: the file cannot be written.
    """
    report = build_roll_report(
        repository, roll_key, limit_points_per_100yd2=limit_points_per_100yd2
    )
    confirmed = _confirmed_grade(repository, roll_key, limit_points_per_100yd2)
    path = Path(path)
    width = A4[0] - 2 * MARGIN_MM * mm
    story = _first_page(report, confirmed, width)
    header = ["#", "crop", "heatmap", "along\nm", "across\nmm", "size\nmm", "score", "pts",
              "class", "type", "status", "reviewer"]  # fmt: skip
    fractions = [0.035, 0.105, 0.105, 0.075, 0.085, 0.09, 0.065, 0.04, 0.09, 0.1, 0.11, 0.1]
    defects = report["defects"]
    chunks = [defects[i : i + ROWS_PER_PAGE] for i in range(0, len(defects), ROWS_PER_PAGE)]
    for index, chunk in enumerate(chunks or [[]]):
        story += [
            PageBreak(),
            Paragraph(f"Defects of {report['roll']['lot_number']}", _styles()["heading"]),
        ]
        if not chunk:
            story.append(Paragraph("No defects were logged on this roll.", _styles()["body"]))
            continue
        rows = _defect_rows({"defects": chunk}, images, start=index * ROWS_PER_PAGE + 1)
        table = _table([header, *rows], [f * width for f in fractions])
        table.setStyle(TableStyle([("ROWHEIGHT", (0, 1), (-1, -1), (THUMB_MM + 3) * mm)]))
        story.append(table)
    pages: list[int] = []

    def footer(canvas: Any, document: Any) -> None:
        pages.append(document.page)
        canvas.setFont("Helvetica", 7.5)
        canvas.drawString(MARGIN_MM * mm, 7 * mm, f"roll {report['roll']['lot_number']}")
        canvas.drawRightString(A4[0] - MARGIN_MM * mm, 7 * mm, f"page {document.page}")

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_MM * mm,
        rightMargin=MARGIN_MM * mm,
        topMargin=MARGIN_MM * mm,
        bottomMargin=MARGIN_MM * mm,
        title=f"Roll report {report['roll']['lot_number']}",
    )
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(buffer.getvalue())
        os.replace(temp, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        raise ExportError(
            f"cannot write {path}: {error.strerror or error}",
            hint="choose a writable place for the PDF",
        ) from None
    grade = report["grade"]
    return PdfReportResult(
        path=path,
        defect_count=len(defects),
        pages=len(pages),
        passed=None if grade is None else grade["passed"],
    )
