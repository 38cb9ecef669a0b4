"""The PDF roll report: a valid PDF with the expected pages, from the library and the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from station.cli import main
from station.store.images import ImageStore
from station.store.pdf_report import ROWS_PER_PAGE, expected_pages, write_pdf_report
from station.store.records import DefectRecord
from station.store.repository import DefectRepository
from station.store.store import DefectStore
from tests.integration.store.conftest import fast_config, migrate
from tests.integration.store.review_roll import ReviewRoll, write_review_roll


def pdf_pages(data: bytes) -> int:
    """Page objects in a PDF (reportlab writes no object streams, so they are plain text)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


def pdf_text(path: Path) -> str:
    """The PDF's text, read back with pypdf (a dev dependency)."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    assert len(reader.pages) == pdf_pages(path.read_bytes())
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def roll(tmp_path: Path) -> ReviewRoll:
    config = fast_config(migrate(f"sqlite:///{tmp_path / 'defects.sqlite3'}"), tmp_path)
    return write_review_roll(config)


def test_pdf_report_has_the_roll_grade_and_every_defect(roll: ReviewRoll, tmp_path: Path) -> None:
    repository = DefectRepository.connect(roll.config.url)
    try:
        keys = roll.defect_keys
        repository.reject_defect(keys[3], reviewer="anna")
        repository.confirm_defect(keys[0], reviewer="anna")
        repository.relabel_defect(keys[2], reviewer="anna", defect_type="oil stain")
        images = ImageStore(roll.config.image_root)
        result = write_pdf_report(
            repository, images, roll.roll_key, tmp_path / "out" / "roll.pdf",
            limit_points_per_100yd2=40.0,
        )  # fmt: skip
    finally:
        repository.close()
    data = result.path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert result.pages == expected_pages(5) == 2 == pdf_pages(data)
    assert result.defect_count == 5
    text = pdf_text(result.path)
    assert "Roll report: LOT-QA-1" in text
    assert "false alarm" in text and "oil stain" in text and "anna" in text
    assert "confirmed by QA only" in text and "all detections except false alarms" in text
    assert text.count("damaged") == 0 and "page 2" in text
    assert len(re.findall(rb"/Subtype\s*/Image", data)) == 10  # crop and heatmap per defect


def test_a_damaged_crop_is_named_in_the_table_and_pages_grow_with_defects(
    roll: ReviewRoll, tmp_path: Path
) -> None:
    images = ImageStore(roll.config.image_root)
    repository = DefectRepository.connect(roll.config.url)
    try:
        crop = repository.get_defect(roll.defect_keys[1]).crop_path
        assert crop is not None
        images.resolve(crop).write_bytes(b"\x89PNG\r\n\x1a\n broken")
        result = write_pdf_report(
            repository, images, roll.roll_key, tmp_path / "damaged.pdf",
            limit_points_per_100yd2=40.0,
        )  # fmt: skip
    finally:
        repository.close()
    assert result.pages == 2
    assert pdf_text(result.path).count("damaged") == 1
    assert expected_pages(0) == 2 and expected_pages(ROWS_PER_PAGE + 1) == 3


def test_station_report_format_pdf(roll: ReviewRoll, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli.pdf"
    status = main(
        [
            "report", "--url", roll.config.url, "--image-root", str(roll.config.image_root),
            "--roll", roll.lot_number, "--format", "pdf", "--out", str(out),
        ]
    )  # fmt: skip
    assert status == 0
    assert "report written to" in capsys.readouterr().out
    assert out.read_bytes().startswith(b"%PDF-") and pdf_pages(out.read_bytes()) == 2
    (tmp_path / "a-file").write_text("not a folder")
    bad = main(
        ["report", "--url", roll.config.url, "--roll", roll.lot_number, "--format", "pdf",
         "--out", str(tmp_path / "a-file" / "roll.pdf")]
    )  # fmt: skip
    assert bad == 2
    error = capsys.readouterr().err
    assert "cannot write" in error and "Traceback" not in error


def test_page_one_stays_one_page_with_many_defect_types(roll: ReviewRoll, tmp_path: Path) -> None:
    with DefectStore.open(roll.config) as store:
        for index in range(12):  # twelve more defects, each of its own type
            store.writer.submit_defect(
                DefectRecord(
                    roll_key=roll.roll_key, along_mm=9_000.0 + index, across_mm=50.0,
                    length_mm=5.0, width_mm=5.0, area_mm2=20.0, peak_score=0.7, points=1,
                    fabric_class="denim", defect_type=f"type {index:02d}",
                )
            )  # fmt: skip
        assert store.writer.flush(timeout_s=30)
    repository = DefectRepository.connect(roll.config.url)
    try:
        result = write_pdf_report(
            repository, None, roll.roll_key, tmp_path / "types.pdf", limit_points_per_100yd2=40.0
        )
    finally:
        repository.close()
    assert result.defect_count == 17
    assert result.pages == expected_pages(17) == 3  # page 1, then two pages of defects
    text = pdf_text(result.path)
    assert "others" in text and "no image" in text
