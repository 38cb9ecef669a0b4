"""Web assembly: rows of S lines every S - overlap lines, positions in mm, gaps."""

from __future__ import annotations

import numpy as np
import pytest

from station.pipeline.assembly import LinePositions, WebAssembler
from tests.unit.pipeline.helpers import block, fabric

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
