"""Web assembly: rows of S lines every S - overlap lines, positions in mm, gaps, segments."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from station.pipeline.assembly import LinePositions, WebAssembler
from tests.unit.pipeline.helpers import block, fabric
from training.data.tiling import background_mask

WIDTH = 96


def _assemble(total: int, block_lines: int, *, tile_px: int, overlap_px: int) -> list:
    pixels = fabric(total, WIDTH)
    assembler = WebAssembler(
        tile_px=tile_px, overlap_px=overlap_px, positions=LinePositions(mm_per_line=0.25)
    )
    rows = []
    for start in range(0, total, block_lines):
        rows += assembler.add(block(pixels[start : start + block_lines], start))
    return rows + assembler.finish()


def test_rows_start_every_stride_and_the_last_is_flush_with_the_end() -> None:
    rows = _assemble(300, 50, tile_px=64, overlap_px=16)
    assert [r.first_line for r in rows] == [0, 48, 96, 144, 192, 236]
    assert all(r.num_lines == 64 for r in rows)
    assert rows[-1].end_line == 300


def test_rows_do_not_depend_on_how_lines_are_cut_into_blocks() -> None:
    a = _assemble(300, 50, tile_px=64, overlap_px=16)
    b = _assemble(300, 37, tile_px=64, overlap_px=16)
    assert [r.first_line for r in a] == [r.first_line for r in b]
    for row_a, row_b in zip(a, b, strict=True):
        np.testing.assert_array_equal(row_a.pixels, row_b.pixels)
        np.testing.assert_array_equal(row_a.along_mm, row_b.along_mm)
        assert row_a.span == row_b.span


def test_rows_hold_the_lines_they_name() -> None:
    pixels = fabric(200, WIDTH)
    rows = _assemble(200, 30, tile_px=64, overlap_px=0)
    for row in rows:
        np.testing.assert_array_equal(row.pixels, pixels[row.first_line : row.end_line])


def test_line_positions_from_line_count() -> None:
    rows = _assemble(128, 64, tile_px=64, overlap_px=0)
    np.testing.assert_allclose(rows[1].along_mm, (64 + np.arange(64)) * 0.25)


def test_line_positions_from_the_encoder_follow_the_blocks() -> None:
    positions = LinePositions(mm_per_line=0.5, use_encoder=True)
    pixels = fabric(30, 8)
    first = positions.of_block(block(pixels[:10], 0, encoder_mm=1000.0))
    second = positions.of_block(block(pixels[10:20], 10, encoder_mm=1007.0))  # slip: +2 mm
    third = positions.of_block(block(pixels[20:], 20))  # no encoder value: continue
    np.testing.assert_allclose(first, np.arange(10) * 0.5)  # the roll starts at the first line
    np.testing.assert_allclose(second, 7.0 + np.arange(10) * 0.5)
    np.testing.assert_allclose(third, 7.0 + 10 * 0.5 + np.arange(10) * 0.5)


def test_a_gap_in_line_numbers_ends_the_segment_with_a_flush_row() -> None:
    pixels = fabric(400, WIDTH)
    assembler = WebAssembler(tile_px=64, overlap_px=0, positions=LinePositions(mm_per_line=0.1))
    rows = assembler.add(block(pixels[:100], 0))
    rows += assembler.add(block(pixels[200:300], 200))  # lines 100-199 never arrived
    rows += assembler.finish()
    assert [r.first_line for r in rows] == [0, 36, 200, 236]
    assert assembler.gaps_seen == 1


def test_a_segment_shorter_than_a_tile_gives_no_row() -> None:
    pixels = fabric(300, WIDTH)
    assembler = WebAssembler(tile_px=64, overlap_px=0, positions=LinePositions(mm_per_line=0.1))
    rows = assembler.add(block(pixels[:40], 0))
    rows += assembler.add(block(pixels[100:164], 100))
    rows += assembler.finish()
    assert [r.first_line for r in rows] == [100]


def test_buffer_stays_within_a_tile_plus_a_block() -> None:
    pixels = fabric(2000, WIDTH)
    assembler = WebAssembler(tile_px=64, overlap_px=8, positions=LinePositions(mm_per_line=0.1))
    most = 0
    for start in range(0, 2000, 25):
        assembler.add(block(pixels[start : start + 25], start))
        most = max(most, assembler.buffered_lines)
    assert most <= 64 + 25


def test_overlap_must_be_smaller_than_the_tile() -> None:
    with pytest.raises(ValueError, match="overlap"):
        WebAssembler(tile_px=64, overlap_px=64, positions=LinePositions(mm_per_line=0.1))


def _segment_blocks(assembler: WebAssembler, files: list[np.ndarray], block_lines: int) -> list:
    """Feed files the way ReplaySource plays them: own blocks each, the first marked."""
    rows, line = [], 0
    for pixels in files:
        for offset in range(0, len(pixels), block_lines):
            part = pixels[offset : offset + block_lines]
            rows += assembler.add(replace(block(part, line), segment_start=offset == 0))
            line += len(part)
    return rows + assembler.finish()


def test_a_segment_start_block_ends_the_segment_without_a_gap() -> None:
    files = [fabric(100, WIDTH, seed=1), fabric(90, WIDTH, seed=2), fabric(120, WIDTH, seed=3)]
    assembler = WebAssembler(tile_px=64, overlap_px=16, positions=LinePositions(mm_per_line=0.5))
    rows = _segment_blocks(assembler, files, 40)
    # File lines 0-99, 100-189, 190-309: each file's last row is flush with its own end.
    assert [r.first_line for r in rows] == [0, 36, 100, 126, 190, 238, 246]
    assert [r.segment for r in rows] == [0, 0, 1, 1, 2, 2, 2]
    assert assembler.gaps_seen == 0 and assembler.segments_started == 2
    bounds = [(0, 100), (100, 190), (190, 310)]
    for row in rows:  # no row spans two files
        start, end = bounds[row.segment]
        assert start <= row.first_line and row.end_line <= end
        np.testing.assert_array_equal(row.pixels, files[row.segment][row.first_line - start :][:64])
        # Positions run on along the roll: the strips are played one after another.
        np.testing.assert_allclose(row.along_mm, (row.first_line + np.arange(64)) * 0.5)


def test_the_background_and_web_edge_of_a_segment_do_not_see_the_previous_one() -> None:
    first = fabric(80, WIDTH, seed=4)
    first[:, :30] = 255  # a machine background left of this strip's web
    second = fabric(64, WIDTH, seed=5)  # the fabric fills the camera
    assembler = WebAssembler(tile_px=64, overlap_px=0, positions=LinePositions(mm_per_line=0.1))
    rows = _segment_blocks(assembler, [first, second], 80)
    assert [r.first_line for r in rows] == [0, 16, 80]
    # The background rule's 9 x 9 window blurs the edge by <= 4 px.
    assert [abs(r.span.left - 30) <= 4 for r in rows] == [True, True, False]
    assert rows[-1].span.left == 0 and rows[-1].span.right == WIDTH
    np.testing.assert_array_equal(rows[-1].background, background_mask(second))


def test_a_segment_shorter_than_a_tile_gets_no_row_and_does_not_shift_the_next() -> None:
    files = [fabric(64, WIDTH, seed=1), fabric(40, WIDTH, seed=2), fabric(64, WIDTH, seed=3)]
    assembler = WebAssembler(tile_px=64, overlap_px=0, positions=LinePositions(mm_per_line=0.1))
    rows = _segment_blocks(assembler, files, 64)
    assert [(r.first_line, r.segment) for r in rows] == [(0, 0), (104, 2)]
