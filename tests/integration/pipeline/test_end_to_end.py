"""The whole pipeline on a synthetic roll and on replayed strips, down to the database."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from station.grading import points_for_defect
from station.pipeline import (
    DefectFound,
    FiguresUpdated,
    Pipeline,
    PipelineState,
    StatusChanged,
)
from station.store.config import StoreConfig
from tests.integration.pipeline.conftest import TILE_PX, station_config
from tests.integration.pipeline.pixel_rule_backend import DarkPixelBackend
from tests.integration.pipeline.store_reading import read_roll
from tests.unit.pipeline.helpers import fabric
from training.data.tiling import window_starts
from training.model_file import read_metadata

SYNTHETIC_LINES = 1600
SYNTHETIC_WIDTH = 256


def test_synthetic_roll_is_inspected_end_to_end_and_recorded(
    model_dir: Path, store_config: StoreConfig
) -> None:
    """Real model (untrained), real store: every line inspected, every defect in the database."""
    config = station_config(
        model_dir,
        store_config,
        source={
            "kind": "synthetic",
            "synthetic": {
                "fabric_preset": "grey_twill",
                "width_px": SYNTHETIC_WIDTH,
                "seed": 5,
                "defects_per_metre": 20.0,
                "lines_per_block": 100,
                "total_lines": SYNTHETIC_LINES,
                "mm_per_px": 0.1,
            },
        },
        model={"threshold_factor": 0.9},  # an untrained model: make sure it reports something
        tiling={"overlap_px": 16},
        pipeline={"when_behind": "wait"},
        alarm={"min_points": 1},
    )
    pipeline = Pipeline(config)
    events = pipeline.bus.subscribe_queue(maxsize=100_000)
    pipeline.start()
    assert pipeline.wait(timeout_s=150), "the pipeline did not finish the roll"
    summary = pipeline.stop()
    assert summary.error is None

    # Every line of the 160 mm roll was inspected; nothing dropped.
    assert summary.stretches == ()
    assert summary.metres_seen == pytest.approx(0.16)
    assert summary.metres_inspected == pytest.approx(0.16)
    assert summary.dropped_rows == 0 and summary.source_dropped_blocks == 0
    rows = window_starts(SYNTHETIC_LINES, TILE_PX, TILE_PX - 16)
    tiles_per_row = window_starts(SYNTHETIC_WIDTH, TILE_PX, TILE_PX - 16)
    assert summary.tiles == len(rows) * len(tiles_per_row)  # the fabric fills the camera
    assert summary.defect_count > 0

    # The database holds exactly what the pipeline reported.
    roll, defects, stored_events, runs = read_roll(store_config, summary.roll_key)
    assert roll.ended_at is not None and roll.length_inspected_mm == pytest.approx(160.0)
    assert roll.width_mm == pytest.approx(SYNTHETIC_WIDTH * 0.1)
    assert roll.station == "test-station" and roll.fabric_type == "grey_twill"
    assert len(defects) == summary.defect_count == len(summary.defects)
    reported = sorted((d.along_mm, d.across_mm, d.length_mm, d.width_mm) for d in summary.defects)
    stored = sorted((d.along_mm, d.across_mm, d.length_mm, d.width_mm) for d in defects)
    np.testing.assert_allclose(np.array(stored), np.array(reported))
    metadata = read_metadata(model_dir)
    assert runs[0].model_sha256 == metadata.model_hash
    assert runs[0].threshold == pytest.approx(metadata.calibration.pixel_threshold * 0.9)
    assert sum(1 for e in stored_events if e.kind == "alarm") == summary.defect_count

    for defect in defects:
        assert 0 <= defect.along_mm <= 160 and 0 <= defect.across_mm <= SYNTHETIC_WIDTH * 0.1
        assert defect.points == points_for_defect(
            length_mm=defect.length_mm, width_mm=defect.width_mm, is_hole=False
        )
        assert defect.fabric_class == "grey_twill" and defect.peak_score > runs[0].threshold
        crop = cv2.imread(str(Path(store_config.image_root) / defect.crop_path))
        assert crop is not None and crop.size > 0

    # The bus told the same story.
    published = events.drain()
    assert sum(isinstance(e, DefectFound) for e in published) == summary.defect_count
    states = [e.state for e in published if isinstance(e, StatusChanged)]
    assert states == [
        PipelineState.STARTING,
        PipelineState.RUNNING,
        PipelineState.STOPPING,
        PipelineState.STOPPED,
    ]
    assert any(isinstance(e, FiguresUpdated) for e in published)
    assert pipeline.source is not None and pipeline.source.planted_defects  # ground truth kept


# Dark rectangles painted into fabric: (first line, end line, first column, end column).
RECTANGLES = [
    (50, 90, 150, 180),  # crosses a tile-row border (rows every 48 lines) and a block border (80)
    (140, 160, 300, 330),  # crosses the border between two replayed files (line 150)
    (300, 420, 200, 203),  # a thin line along the roll spanning three tile rows
]
# Replayed files are separate pieces of fabric: a defect is never joined across two,
# so the rectangle painted across the border at line 150 is found as two defects.
FOUND = [(50, 90, 150, 180), (140, 150, 300, 330), (150, 160, 300, 330), (300, 420, 200, 203)]
LEFT_MARGIN = 72  # white machine background left of the web edge
STRIP_LINES, WIDTH = 150, 400
MM_PX, MM_LINE = 0.2, 0.25


def _painted_strips(folder: Path) -> list[Path]:
    web = fabric(3 * STRIP_LINES, WIDTH, seed=9)
    web[:, :LEFT_MARGIN] = 255
    for y0, y1, x0, x1 in RECTANGLES:
        web[y0:y1, x0:x1] = 40
    paths = []
    for index in range(3):
        path = folder / f"strip_{index}.png"
        cv2.imwrite(str(path), web[index * STRIP_LINES : (index + 1) * STRIP_LINES])
        paths.append(path)
    return paths


def test_positions_and_sizes_in_mm_match_the_known_geometry(
    model_dir: Path, store_config: StoreConfig, tmp_path: Path
) -> None:
    """Geometry through tiling, overlap, stitching and the store, checked to the pixel.

    The model is replaced by :class:`DarkPixelBackend` (a transparent pixel rule)
    so the expected anomaly map is known exactly; everything else is the product.
    """
    paths = _painted_strips(tmp_path)
    config = station_config(
        model_dir,
        store_config,
        source={
            "kind": "replay",
            "replay": {"paths": [str(p) for p in paths], "lines_per_block": 40},
        },
        geometry={"mm_per_px": MM_PX, "mm_per_line": MM_LINE},
        model={"pixel_threshold": 0.5},
        tiling={"overlap_px": 16},
        pipeline={"when_behind": "wait"},
    )
    metadata = read_metadata(model_dir)
    backend = DarkPixelBackend(
        tile_px=TILE_PX, model_hash=metadata.model_hash, classes=("grey_twill",)
    )
    pipeline = Pipeline(config, backend=backend)
    pipeline.start()
    assert pipeline.wait(timeout_s=60)
    summary = pipeline.stop()
    assert summary.error is None and summary.stretches == ()

    found = sorted(summary.defects, key=lambda d: d.first_line)
    assert [(d.first_line, d.end_line, d.x0, d.x1) for d in found] == FOUND
    for defect, (y0, y1, x0, x1) in zip(found, FOUND, strict=True):
        assert defect.along_mm == pytest.approx((y0 + y1) / 2 * MM_LINE)
        assert defect.length_mm == pytest.approx((y1 - y0) * MM_LINE)
        assert defect.width_mm == pytest.approx((x1 - x0) * MM_PX)
        assert defect.area_mm2 == pytest.approx((y1 - y0) * (x1 - x0) * MM_PX * MM_LINE)
        assert defect.across_camera_mm == pytest.approx((x0 + x1) / 2 * MM_PX)
        # From the detected web edge; the background rule's 9 x 9 window blurs it by <= 4 px.
        assert defect.across_mm == pytest.approx(
            (x0 + x1) / 2 * MM_PX - LEFT_MARGIN * MM_PX, abs=1.0
        )
        assert defect.peak_score == pytest.approx(1.0)
    assert [d.points for d in found] == [1, 1, 1, 1]

    roll, stored, _, _ = read_roll(store_config, summary.roll_key)
    assert roll.width_mm == pytest.approx((WIDTH - LEFT_MARGIN) * MM_PX, abs=1.0)
    assert roll.length_inspected_mm == pytest.approx(3 * STRIP_LINES * MM_LINE)
    stored_boxes = sorted((d.along_mm, d.length_mm, d.width_mm) for d in stored)
    expected = sorted(
        ((y0 + y1) / 2 * MM_LINE, (y1 - y0) * MM_LINE, (x1 - x0) * MM_PX)
        for y0, y1, x0, x1 in FOUND
    )
    np.testing.assert_allclose(np.array(stored_boxes), np.array(expected))
