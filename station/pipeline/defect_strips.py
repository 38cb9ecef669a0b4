"""Strips to replay for a defect-level evaluation, and what the replay makes of them.

A strip is an image file with its fabric class and its defect masks (none: the
strip is defect-free). :func:`aitex_test_strips` picks the AITEX test split;
:func:`strip_truths` says where each strip lies on the replayed web (one segment
per file, the first file's width as the line width, narrower files padded with their
last column, wider ones cropped), its mask in camera columns and the web the
pipeline finds on it (the union of the web spans of its tile rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from station.acquisition.replay_source import fit_width
from station.pipeline.config import TilingConfig
from station.pipeline.defect_scoring import StripTruth
from station.pipeline.web_edges import find_web_span
from training.public import (
    DataError,
    aitex_items,
    background_mask,
    read_image,
    read_mask,
    window_starts,
)


@dataclass(frozen=True)
class EvaluationStrip:
    """A strip to replay: its image, fabric and masks (none = defect-free)."""

    path: Path
    fabric: str
    mask_paths: tuple[Path, ...] = ()


def aitex_test_strips(
    aitex_dir: Path, classes: Sequence[str], *, limit: int | None = None
) -> list[EvaluationStrip]:
    """The AITEX test split of these fabric codes (defect strips and strips 17-20).

    With ``limit``, that many strips spread evenly over the defect and the defect-free
    strips in proportion (at least one of each where both exist).

    Raises:
        DataError: not an AITEX folder, no fabric code among ``classes``, or ``limit`` < 1.
    """
    codes = [c for c in classes if c.isdigit() and len(c) == 2]
    if not codes:
        raise DataError(
            f"the classes {', '.join(classes)} are not AITEX fabric codes",
            hint="pass --classes with AITEX fabric codes, e.g. --classes 00,02,03,05",
        )
    items = aitex_items(Path(aitex_dir), split="test", classes=codes)
    strips = [EvaluationStrip(i.path, i.class_name, tuple(i.mask_paths)) for i in items]
    if limit is None or limit >= len(strips):
        return strips
    if limit < 1:
        raise DataError(
            f"--strips {limit}: at least one strip is needed", hint="use --strips 1 or more"
        )
    defective = [s for s in strips if s.mask_paths]
    normal = [s for s in strips if not s.mask_paths]
    wanted_defective = round(limit * len(defective) / len(strips))
    if defective and normal and limit >= 2:
        wanted_defective = min(max(wanted_defective, 1), limit - 1)
    picked = _spread(defective, wanted_defective) + _spread(normal, limit - wanted_defective)
    return sorted(picked, key=lambda s: (s.fabric, bool(s.mask_paths), s.path.name))


def _spread(group: list[EvaluationStrip], count: int) -> list[EvaluationStrip]:
    if count >= len(group):
        return group
    if count <= 0:
        return []
    return [group[i] for i in np.linspace(0, len(group) - 1, count).round().astype(int)]


def strip_truths(
    strips: Sequence[EvaluationStrip], *, tile_px: int, overlap_px: int, tiling: TilingConfig
) -> list[StripTruth]:
    """Each strip's place on the web, mask and web span, as the replay plays it."""
    width = read_image(strips[0].path, channels=1).shape[1]
    truths, first_line = [], 0
    for strip in strips:
        image = read_image(strip.path, channels=1)
        played = fit_width(image, width)
        lines = played.shape[0]
        mask = None
        if strip.mask_paths:
            mask = np.zeros(image.shape, bool)
            for mask_path in strip.mask_paths:
                mask |= read_mask(mask_path, expected_shape=image.shape)
            mask = fit_width(mask.astype(np.uint8), width).astype(bool)
            if image.shape[1] < width:
                mask[:, image.shape[1] :] = False  # padding repeats the edge, not the defect
        truths.append(
            StripTruth(
                name=strip.path.stem,
                fabric=strip.fabric,
                first_line=first_line,
                lines=lines,
                mask=mask,
                web=_web_of(played, tile_px=tile_px, overlap_px=overlap_px, tiling=tiling),
            )
        )
        first_line += lines
    return truths


def _web_of(
    image: np.ndarray, *, tile_px: int, overlap_px: int, tiling: TilingConfig
) -> tuple[int, int]:
    """Columns [left, right) of the union of the web spans of the strip's tile rows."""
    if image.shape[0] < tile_px:
        return (0, 0)
    background = background_mask(image)
    spans = [
        find_web_span(
            background[y : y + tile_px],
            max_background_fraction=tiling.max_background_fraction,
            bridge_gap_px=tiling.edge_gap_px,
        )
        for y in window_starts(image.shape[0], tile_px, tile_px - overlap_px)
    ]
    known = [s for s in spans if s is not None]
    return (int(min(s.left for s in known)), int(max(s.right for s in known))) if known else (0, 0)
