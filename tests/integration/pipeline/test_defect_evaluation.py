"""Defect-level figures through the real pipeline, on generated strips with known masks.

The model is replaced by the transparent pixel rule (:class:`DarkPixelBackend`: a
pixel is defective exactly where it is dark), nothing else: replay, web edges,
tiling, stitching, extraction and the store are the station's. So what the
evaluation counts -- found, missed, localised, the localisation error in mm, false
alarms per metre of defect-free fabric, the replay invariants -- is known exactly
from what was planted. Geometry: the test model's calibration, 0.1 mm/px, square lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from station.pipeline.defect_evaluation import EvaluationStrip, evaluate_on_strips
from station.pipeline.defect_evaluation_report import evaluation_text, write_evaluation_json
from tests.integration.pipeline.conftest import TILE_PX
from tests.integration.pipeline.pixel_rule_backend import DARK_LEVEL, DarkPixelBackend
from tests.unit.pipeline.helpers import fabric
from training.model_file import read_metadata

WIDTH = 640
DARK = 40
Rect = tuple[int, int, int, int]  # y0, y1, x0, x1


@dataclass(frozen=True)
class Planted:
    """A generated strip: dark rectangles painted in, and its mask (None: defect-free)."""

    name: str
    fabric: str
    lines: int
    dark: tuple[Rect, ...] = ()
    mask: Rect | None = None


STRIPS = (
    # Found on its mask, centre on it (error 0); one more dark spot off the mask.
    Planted(
        "a_hit", "a", 128, dark=((20, 50, 100, 130), (90, 100, 400, 420)), mask=(20, 50, 100, 130)
    ),
    # Nothing dark: missed.
    Planted("a_missed", "a", 96, mask=(30, 40, 200, 220)),
    # Overlaps the mask's right end: centre at column 65.0, the mask ends at 60: 0.5 mm.
    Planted("b_offset", "b", 160, dark=((50, 60, 55, 75),), mask=(50, 60, 40, 60)),
    # A band across the web that touches the mask: centre 29 mm from it, not localised.
    Planted("b_band", "b", 128, dark=((10, 20, 20, 620),), mask=(10, 20, 20, 30)),
    # Defect-free with two dark spots: two false alarms on 12.8 mm.
    Planted("a_normal", "a", 128, dark=((10, 20, 50, 60), (70, 90, 300, 330))),
    # Defect-free and clean, 100 lines (a flush tile row at its end).
    Planted("b_normal", "b", 100),
)


def _write(folder: Path) -> list[EvaluationStrip]:
    strips = []
    for seed, planted in enumerate(STRIPS):
        image = fabric(planted.lines, WIDTH, seed=seed)
        assert image.min() > DARK_LEVEL  # only the planted rectangles are dark
        for y0, y1, x0, x1 in planted.dark:
            image[y0:y1, x0:x1] = DARK
        path = folder / f"{planted.name}.png"
        cv2.imwrite(str(path), image)
        masks: tuple[Path, ...] = ()
        if planted.mask is not None:
            mask = np.zeros_like(image)
            y0, y1, x0, x1 = planted.mask
            mask[y0:y1, x0:x1] = 255
            masks = (folder / f"{planted.name}_mask.png",)
            cv2.imwrite(str(masks[0]), mask)
        strips.append(EvaluationStrip(path, planted.fabric, masks))
    return strips


@pytest.mark.parametrize("overlap_px", [None, 16])
def test_found_missed_localisation_and_false_alarms_come_out_as_planted(
    model_dir: Path, tmp_path: Path, overlap_px: int | None
) -> None:
    metadata = read_metadata(model_dir)
    assert metadata.calibration is not None and metadata.calibration.pixel_threshold < 1.0
    assert metadata.calibration.mm_per_px == 0.1
    backend = DarkPixelBackend(tile_px=TILE_PX, model_hash=metadata.model_hash, classes=("a",))
    calls: list[tuple[int, int]] = []
    result = evaluate_on_strips(
        model_dir,
        _write(tmp_path),
        work_dir=tmp_path / "work",
        overlap_px=overlap_px,
        backend=backend,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert result.overlap_px == (overlap_px or 0)  # None: the station's default (0)
    assert result.metres_uninspected == 0
    assert result.metres_inspected == pytest.approx(sum(s.lines for s in STRIPS) * 1e-4)

    by_name = {s.name: s for s in result.strips}
    hit, missed, offset, band = (by_name[n] for n in ("a_hit", "a_missed", "b_offset", "b_band"))
    assert (hit.found, hit.localised, hit.error_mm, hit.off_mask) == (True, True, 0.0, 1)
    assert (missed.found, missed.localised, missed.error_mm, missed.defects) == (
        False,
        False,
        None,
        0,
    )
    assert (offset.found, offset.localised) == (True, True)
    assert offset.error_mm == pytest.approx(0.5)
    assert (band.found, band.localised) == (True, False)
    assert band.error_mm == pytest.approx(29.0)
    assert by_name["a_normal"].false_alarms == 2 and by_name["b_normal"].false_alarms == 0
    for strip in result.strips:  # the mm boxes meet the masks' boxes exactly
        assert strip.box_gap_mm in (None, pytest.approx(0.0))

    a, b = result.by_fabric
    assert (a.label, a.defect_strips, a.found, a.missed, a.localised) == ("a", 2, 1, 1, 1)
    assert (a.error_median_mm, a.error_max_mm, a.false_alarms) == (0.0, 0.0, 2)
    assert a.false_alarms_per_m == pytest.approx(2 / 0.0128)
    assert (b.label, b.defect_strips, b.found, b.missed, b.localised) == ("b", 2, 2, 0, 1)
    assert b.error_median_mm == pytest.approx(14.75) and b.error_max_mm == pytest.approx(29.0)
    assert (b.false_alarms, b.false_alarms_per_m) == (0, 0.0)
    total = result.total
    assert (total.defect_strips, total.found, total.missed, total.localised) == (4, 3, 1, 2)
    assert total.error_median_mm == pytest.approx(0.5)
    assert total.normal_metres == pytest.approx(0.0228)
    assert total.false_alarms_per_m == pytest.approx(2 / 0.0228)
    assert (total.across_boundary, total.wider_than_web, total.outside_web) == (0, 0, 0)

    # Progress over strips: never backwards, ending at all of them.
    assert calls and calls[-1] == (6, 6)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_the_table_and_the_json_carry_the_figures(model_dir: Path, tmp_path: Path) -> None:
    metadata = read_metadata(model_dir)
    backend = DarkPixelBackend(tile_px=TILE_PX, model_hash=metadata.model_hash, classes=("a",))
    result = evaluate_on_strips(model_dir, _write(tmp_path), backend=backend)
    text = evaluation_text(result)
    lines = text.splitlines()
    total_row = next(line for line in lines if line.startswith("total"))
    assert total_row.split() == [
        "total",
        "4",
        "3",
        "1",
        "2",
        "0.5",
        "/",
        "29.0",
        "0.023",
        "2",
        "87.72",
    ]
    assert any(line.split()[:5] == ["a", "2", "1", "1", "1"] for line in lines)
    assert "all 0, as they must be" in text

    path = tmp_path / "out" / "defects.json"
    write_evaluation_json(result, path)
    data = json.loads(path.read_text())
    assert data["total"]["missed"] == 1 and data["total"]["found"] == 3
    assert data["total"]["false_alarms_per_m"] == pytest.approx(2 / 0.0228)
    assert [s["name"] for s in data["strips"]] == [p.name for p in STRIPS]
    assert data["strips"][3]["error_mm"] == pytest.approx(29.0)
    assert (
        data["localised_mm"] == 25.6 and data["threshold"] == metadata.calibration.pixel_threshold
    )
