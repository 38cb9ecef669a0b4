"""Replayed files are separate pieces of fabric: nothing joins across a file boundary.

Four generated strips of different lengths, widths, brightness and web edges
are replayed through the whole pipeline. Dark rectangles are planted inside
them, two of them touching a boundary from both sides. With the transparent
pixel rule (:class:`DarkPixelBackend`) the planted defects must come back
exactly, each piece in its own file; with the real (untrained) model, which
flags all sorts of things, no defect may span a boundary, be wider than the
web or lie outside it. Either way every line is inspected: a boundary is not
lost fabric.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from station.pipeline import Pipeline
from station.pipeline.extraction import FoundDefect
from station.pipeline.run_summary import RunSummary
from station.store.config import StoreConfig
from tests.integration.pipeline.conftest import TILE_PX, station_config
from tests.integration.pipeline.pixel_rule_backend import DARK_LEVEL, DarkPixelBackend
from tests.integration.pipeline.store_reading import read_roll
from tests.unit.pipeline.helpers import fabric
from training.model_file import read_metadata

WIDTH = 320  # the line width: the first strip's
MM_PX, MM_LINE = 0.2, 0.25
MARGIN_PX = 24  # extraction.crop_margin_px (the default)
DARK = 40


@dataclass(frozen=True)
class Strip:
    """A generated strip: its size, look, web edge and planted (y0, y1, x0, x1) rectangles."""

    lines: int
    width: int
    seed: int
    gain: float = 1.0
    offset: int = 0
    left_margin: int = 0  # white machine background left of the web
    rectangles: tuple[tuple[int, int, int, int], ...] = ()


STRIPS = (
    Strip(150, WIDTH, 11, rectangles=((20, 50, 100, 130), (140, 150, 200, 240))),
    # Narrower (padded to the line width) and brighter; a rectangle continues the one above.
    Strip(130, 280, 12, offset=40, rectangles=((0, 12, 200, 240),)),
    # Its web edge lies elsewhere: 60 px of machine background on the left.
    Strip(170, WIDTH, 13, left_margin=60, rectangles=((60, 100, 150, 153), (160, 170, 70, 90))),
    Strip(96, WIDTH, 14, gain=0.85, rectangles=((0, 8, 70, 90), (40, 60, 250, 300))),
)


def _starts() -> list[int]:
    """First line of every strip on the replayed web."""
    return [sum(s.lines for s in STRIPS[:k]) for k in range(len(STRIPS))]


def _strip_images() -> list[np.ndarray]:
    images = []
    for strip in STRIPS:
        image = fabric(strip.lines, strip.width, seed=strip.seed).astype(np.float32)
        image = np.clip(image * strip.gain + strip.offset, 0, 255).astype(np.uint8)
        assert image.min() > DARK_LEVEL  # only the planted rectangles are dark
        image[:, : strip.left_margin] = 255
        for y0, y1, x0, x1 in strip.rectangles:
            image[y0:y1, x0:x1] = DARK
        images.append(image)
    return images


def _write_strips(folder: Path) -> tuple[list[Path], list[np.ndarray]]:
    images = _strip_images()
    paths = []
    for index, image in enumerate(images):
        path = folder / f"strip_{index}.png"
        cv2.imwrite(str(path), image)
        paths.append(path)
    # What the replay plays: narrower strips padded with their last column.
    played = [np.pad(i, ((0, 0), (0, WIDTH - i.shape[1])), mode="edge") for i in images]
    return paths, played


def _run(
    model_dir: Path, store_config: StoreConfig, paths: list[Path], *, backend=None, **sections
) -> RunSummary:
    config = station_config(
        model_dir,
        store_config,
        source={
            "kind": "replay",
            "replay": {"paths": [str(p) for p in paths], "lines_per_block": 40},
        },
        geometry={"mm_per_px": MM_PX, "mm_per_line": MM_LINE},
        tiling={"overlap_px": 16},
        pipeline={"when_behind": "wait"},
        **sections,
    )
    pipeline = Pipeline(config, backend=backend)
    pipeline.start()
    assert pipeline.wait(timeout_s=150), "the pipeline did not finish the replay"
    summary = pipeline.stop()
    assert summary.error is None
    return summary


def _strip_of(line: int) -> int:
    return max(k for k, start in enumerate(_starts()) if start <= line)


def _assert_inside_one_strip_and_its_web(defect: FoundDefect) -> None:
    """The invariants: one strip, inside that strip's web, never wider than it."""
    index = _strip_of(defect.first_line)
    start, strip = _starts()[index], STRIPS[index]
    assert defect.end_line <= start + strip.lines, f"{defect} spans a file boundary"
    # The background rule's 9 x 9 window blurs the web edge by up to 4 px.
    web_left_px = max(0, strip.left_margin - 4)
    web_mm = (WIDTH - web_left_px) * MM_PX
    assert web_left_px <= defect.x0 < defect.x1 <= WIDTH, defect
    assert 0 <= defect.across_mm <= web_mm and defect.width_mm <= web_mm, defect
    assert defect.length_mm <= strip.lines * MM_LINE + 1e-9, defect


def test_replayed_strips_give_their_planted_defects_each_inside_its_own_file(
    model_dir: Path, store_config: StoreConfig, tmp_path: Path
) -> None:
    paths, played = _write_strips(tmp_path)
    metadata = read_metadata(model_dir)
    backend = DarkPixelBackend(
        tile_px=TILE_PX, model_hash=metadata.model_hash, classes=("grey_twill",)
    )
    summary = _run(model_dir, store_config, paths, backend=backend, model={"pixel_threshold": 0.5})

    # Every line inspected: the joins are not uninspected fabric.
    total_lines = sum(s.lines for s in STRIPS)
    assert summary.stretches == () and summary.metres_uninspected == 0
    assert summary.metres_inspected == pytest.approx(total_lines * MM_LINE / 1000)

    # Exactly the planted rectangles, in web lines; the two that touch a boundary from
    # both sides (lines 150 and 450) are two defects each, one per file.
    planted = sorted(
        (start + y0, start + y1, x0, x1)
        for start, strip in zip(_starts(), STRIPS, strict=True)
        for y0, y1, x0, x1 in strip.rectangles
    )
    found = sorted(summary.defects, key=lambda d: (d.first_line, d.x0))
    assert [(d.first_line, d.end_line, d.x0, d.x1) for d in found] == planted
    for defect in found:
        _assert_inside_one_strip_and_its_web(defect)
        # From the strip's own web edge (blurred by up to 4 px), not a neighbour's.
        margin = STRIPS[_strip_of(defect.first_line)].left_margin
        assert defect.across_mm == pytest.approx(
            ((defect.x0 + defect.x1) / 2 - margin) * MM_PX, abs=4 * MM_PX + 1e-6
        )

    # Each crop is a window of its own file (found there pixel for pixel), with context.
    _, stored, _, _ = read_roll(store_config, summary.roll_key)
    stored = sorted(stored, key=lambda d: d.along_mm)
    assert len(stored) == len(found)
    for view, defect in zip(stored, sorted(found, key=lambda d: d.along_mm), strict=True):
        crop = cv2.imread(str(store_config.image_root / view.crop_path), cv2.IMREAD_UNCHANGED)
        index = _strip_of(defect.first_line)
        image = played[index]
        x0 = max(0, defect.x0 - MARGIN_PX)
        lines = defect.end_line - defect.first_line
        assert crop.shape[1] == min(WIDTH, defect.x1 + MARGIN_PX) - x0
        assert crop.shape[0] == min(lines + 2 * MARGIN_PX, image.shape[0]), (defect, crop.shape)
        matches = [
            top
            for top in range(image.shape[0] - crop.shape[0] + 1)
            if np.array_equal(image[top : top + crop.shape[0], x0 : x0 + crop.shape[1]], crop)
        ]
        assert len(matches) == 1, f"the crop of {defect} is not a window of its own file"


def test_the_real_model_never_reports_a_defect_across_a_boundary_or_off_the_web(
    model_dir: Path, store_config: StoreConfig, tmp_path: Path
) -> None:
    """An untrained model flags plenty (threshold x 0.8): seams would show up if joined."""
    paths, _ = _write_strips(tmp_path)
    summary = _run(model_dir, store_config, paths, model={"threshold_factor": 0.8})
    assert summary.stretches == ()
    total_lines = sum(s.lines for s in STRIPS)
    assert summary.metres_inspected == pytest.approx(total_lines * MM_LINE / 1000)
    assert summary.defect_count > 0 and len(summary.defects) == summary.defect_count
    for defect in summary.defects:
        _assert_inside_one_strip_and_its_web(defect)
