"""Fabric defects: a shape (where) and an affine colour change (how), drawn by coordinates.

A defect changes a pixel ``p`` (per channel) to::

    p + alpha * (gain * p + offset * (1 + texture_amp * texture) - p)

where ``alpha`` and ``texture`` come from its shape (:mod:`shapes`). ``alpha``
below :data:`ALPHA_CUT` is set to 0, so the defect's mask (``alpha > 0``) covers
every pixel it changes. Shapes live in absolute coordinates, so the same
defect can be drawn into any block of an endless web.

Kinds and what they imitate (AITEX codes in brackets where they exist):
``hole``; ``stain`` (contamination 029); ``oil_spot``; ``broken_end`` (broken
end / yarn 002, 006: a line along the roll); ``broken_pick`` (010: a line across);
``knot`` (027, with nep 030 and fuzzyball 019 as small variants); ``slub`` (thick
segment of a yarn); ``thin_place`` (a band of sparse picks, like weft crack
036); ``foreign_fibre`` (a stray fibre lying on the fabric).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.data.fabric.defect_kinds import SAMPLERS
from training.data.fabric.shapes import Box

DEFECT_KINDS: tuple[str, ...] = tuple(SAMPLERS)
"""Every kind, in a fixed order (see the module docstring)."""
ALPHA_CUT = 0.12  # weaker coverage is dropped, so faint fringes are neither drawn nor masked

ReferenceOf = Callable[[Box], tuple[float, ...]]  # mean colour of the fabric around a box


@dataclass(frozen=True)
class DefectTruth:
    """Ground truth of one planted defect.

    Attributes:
        kind: One of :data:`DEFECT_KINDS`.
        bbox: Tight box of its mask (x0, y0, x1, y1), ends exclusive; y in absolute lines
            (for a single image, line 0 is its first row).
        area_px: Pixels in its mask.
        defect_id: Its index in the order it was planted (unique per web or image).
    """

    kind: str
    bbox: Box
    area_px: int
    defect_id: int = 0


@dataclass(frozen=True)
class Defect:
    """A defect ready to draw: shape, colour change and its tight box and area."""

    kind: str
    shape: object  # one of the shapes in :mod:`shapes`
    gain: tuple[float, ...]
    offset: tuple[float, ...]
    texture_amp: float
    bbox: Box
    area_px: int
    defect_id: int = 0

    def truth(self) -> DefectTruth:
        return DefectTruth(self.kind, self.bbox, self.area_px, self.defect_id)

    def field(self, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(alpha with the cut applied, texture), float64 [len(ys), len(xs)]."""
        alpha, texture = self.shape.field(ys, xs)  # type: ignore[attr-defined]
        return np.where(alpha < ALPHA_CUT, 0.0, alpha), texture


def draw_defects(
    image: np.ndarray, mask: np.ndarray, defects: list[Defect], *, first_line: int = 0
) -> None:
    """Draw defects into ``image`` and mark them in ``mask``, in place, in list order.

    Args:
        image: uint8 [H, W] or [H, W, C]; row r is absolute line ``first_line + r``.
        mask: bool [H, W].
        defects: Drawn in order; each pixel goes through the same steps whatever
            block it lies in, so blocks stitch exactly.
        first_line: Absolute line of the first row.
    """
    height, width = image.shape[:2]
    for defect in defects:
        x0, y0, x1, y1 = defect.bbox
        row0, row1 = max(y0 - first_line, 0), min(y1 - first_line, height)
        col0, col1 = max(x0, 0), min(x1, width)
        if row0 >= row1 or col0 >= col1:
            continue
        ys = np.arange(row0, row1, dtype=np.int64) + first_line
        alpha, texture = defect.field(ys, np.arange(col0, col1, dtype=np.int64))
        window = image[row0:row1, col0:col1]
        base = window.astype(np.float64).reshape((*alpha.shape, -1))
        gain = np.asarray(defect.gain)
        offset = np.asarray(defect.offset)[None, None, :] * (
            1.0 + defect.texture_amp * texture[..., None]
        )
        changed = base + alpha[..., None] * (gain * base + offset - base)
        window[...] = (
            np.clip(np.floor(changed + 0.5), 0, 255).astype(np.uint8).reshape(window.shape)
        )
        mask[row0:row1, col0:col1] |= alpha > 0


def _tighten(shape: object, region: Box) -> tuple[Box, int] | None:
    """Tight box and area of a shape's cut alpha inside ``region``; None if it is empty."""
    ex0, ey0, ex1, ey1 = shape.extent()  # type: ignore[attr-defined]
    x0, y0 = max(int(np.floor(ex0)), region[0]), max(int(np.floor(ey0)), region[1])
    x1, y1 = min(int(np.ceil(ex1)) + 1, region[2]), min(int(np.ceil(ey1)) + 1, region[3])
    if x0 >= x1 or y0 >= y1:
        return None
    alpha, _ = shape.field(np.arange(y0, y1), np.arange(x0, x1))  # type: ignore[attr-defined]
    inside = alpha >= ALPHA_CUT
    if not inside.any():
        return None
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    box = (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)
    return box, int(inside.sum())


def sample_defect(
    kind: str,
    rng: np.random.Generator,
    *,
    region: Box,
    reference_of: ReferenceOf,
    scale: float = 1.0,
    defect_id: int = 0,
) -> Defect | None:
    """Draw a random defect of ``kind`` that lies inside ``region``.

    Args:
        kind: One of :data:`DEFECT_KINDS` (the caller validates it).
        rng: Source of all random choices.
        region: (x0, y0, x1, y1) it must lie in; lines along the roll are absolute.
            Line defects scale their length with the region (broken ends run along
            40-100 % of its height, picks and thin places 30-100 % of its width).
        reference_of: Mean colour (one value per channel) of the fabric around a box;
            bright, dark and flattening changes are set relative to it.
        scale: Multiplies the size of compact defects.
        defect_id: Stored in the defect's truth.

    Returns:
        The defect, or None when its cut shape fell outside the region or was empty.
    """
    seed = int(rng.integers(0, 2**62))
    draw = SAMPLERS[kind](rng, region, scale, seed)
    tight = _tighten(draw.shape, region)
    if tight is None:
        return None
    box, area = tight
    reference = np.asarray(reference_of(box), dtype=np.float64)
    return Defect(
        kind=kind,
        shape=draw.shape,
        gain=tuple(float(v) for v in draw.gain(reference)),
        offset=tuple(float(v) for v in draw.offset(reference)),
        texture_amp=draw.texture_amp,
        bbox=box,
        area_px=area,
        defect_id=defect_id,
    )
