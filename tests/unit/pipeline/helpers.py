"""Small builders shared by the pipeline's unit tests: fabric lines, rows, scored rows."""

from __future__ import annotations

import numpy as np

from station.acquisition.lines import Lines
from station.pipeline.assembly import WebRow
from station.pipeline.stitching import ScoredRow
from station.pipeline.web_edges import WebSpan
from training.data.fabric.style import preset
from training.data.fabric.weave import render_fabric


def fabric(lines: int, width: int, *, seed: int = 0, first_line: int = 0) -> np.ndarray:
    """uint8 [lines, width] of real generated grey twill (textured: never background)."""
    return render_fabric(
        preset("grey_twill"), height_px=lines, width_px=width, seed=seed, first_line=first_line
    )


def web_with_margin(lines: int, width: int, *, left_margin: int, seed: int = 0) -> np.ndarray:
    """Fabric with a flat white machine background left of the web edge."""
    pixels = fabric(lines, width, seed=seed)
    pixels[:, :left_margin] = 255
    return pixels


def block(pixels: np.ndarray, first_line: int, *, encoder_mm: float | None = None) -> Lines:
    """A Lines block holding a copy of ``pixels``."""
    return Lines(
        pixels=pixels.copy(), first_line=first_line, timestamp_s=0.0, encoder_mm=encoder_mm
    )


def web_row(
    first_line: int,
    *,
    tile_px: int,
    width: int,
    span: WebSpan | None = None,
    mm_per_line: float = 0.1,
    background: np.ndarray | None = None,
) -> WebRow:
    """A row of fabric with positions ``line x mm_per_line``."""
    return WebRow(
        first_line=first_line,
        pixels=fabric(tile_px, width, first_line=first_line),
        background=np.zeros((tile_px, width), bool) if background is None else background,
        along_mm=(first_line + np.arange(tile_px)) * mm_per_line,
        span=span or WebSpan(0, width),
        received_s=0.0,
    )


def scored_row(
    row: WebRow, xs: tuple[int, ...], maps: list[np.ndarray], *, classes: list[int] | None = None
) -> ScoredRow:
    """A ScoredRow with the given tile maps (float32 [S, S] each)."""
    tile_px = row.num_lines
    stacked = (
        np.stack(maps).astype(np.float32) if maps else np.zeros((0, tile_px, tile_px), np.float32)
    )
    return ScoredRow(
        row=row,
        xs=xs,
        tile_px=tile_px,
        anomaly_maps=stacked,
        tile_scores=stacked.reshape(len(xs), -1).max(axis=1) if xs else np.zeros(0, np.float32),
        matched_class=np.array(classes or [0] * len(xs), np.int64),
    )
