"""Planting defects onto any fabric image, real or generated, with their masks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.data.fabric.defects import (
    DEFECT_KINDS,
    Box,
    Defect,
    DefectTruth,
    draw_defects,
    sample_defect,
)
from training.data.fabric.errors import FabricRenderError

MIN_IMAGE_PX = 16
_TRIES_PER_DEFECT = 25
_REFERENCE_MARGIN_PX = 8


@dataclass(frozen=True)
class PlantedDefects:
    """An image with planted defects.

    Attributes:
        image: uint8 [H, W] or [H, W, 3], a new array (the input is not changed).
        mask: bool [H, W], True on every pixel a defect changed or covers.
        defects: One truth per defect, in planting order (``defect_id`` = index).
    """

    image: np.ndarray
    mask: np.ndarray
    defects: list[DefectTruth]


def check_kinds(kinds: Sequence[str] | None) -> tuple[str, ...]:
    """The kinds to draw from (all when None).

    Raises:
        FabricRenderError: an unknown kind or an empty list.
    """
    if kinds is None:
        return DEFECT_KINDS
    if isinstance(kinds, str):
        kinds = (kinds,)
    unknown = [kind for kind in kinds if kind not in DEFECT_KINDS]
    if unknown or not kinds:
        raise FabricRenderError(
            f"unknown defect kind(s) {unknown}" if unknown else "the list of defect kinds is empty",
            hint=f"use some of {', '.join(DEFECT_KINDS)}, or None for all",
        )
    return tuple(kinds)


def _check_image(image: object) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise FabricRenderError(
            f"defects are planted on uint8 images (got {type(image).__name__}"
            f"{'' if not isinstance(image, np.ndarray) else ' of ' + str(image.dtype)})",
            hint="convert the image with np.asarray(image, dtype=np.uint8) or read it with "
            "training.data.images.read_image",
        )
    grey = image.ndim == 2
    rgb = image.ndim == 3 and image.shape[2] == 3
    if not (grey or rgb) or min(image.shape[:2]) < MIN_IMAGE_PX:
        raise FabricRenderError(
            f"cannot plant defects on an image of shape {image.shape}",
            hint=f"pass grey [H, W] or RGB [H, W, 3] with H and W >= {MIN_IMAGE_PX}",
        )
    return image


def local_reference(image: np.ndarray, box: Box, *, first_line: int = 0) -> tuple[float, ...]:
    """Mean colour per channel of ``image`` around ``box`` (absolute lines; a margin added)."""
    x0, y0, x1, y1 = box
    margin = _REFERENCE_MARGIN_PX
    rows = slice(max(y0 - first_line - margin, 0), max(y1 - first_line + margin, 1))
    cols = slice(max(x0 - margin, 0), max(x1 + margin, 1))
    window = image[rows, cols].reshape(-1, 1 if image.ndim == 2 else image.shape[2])
    if window.size == 0:
        window = image.reshape(-1, 1 if image.ndim == 2 else image.shape[2])
    return tuple(float(v) for v in window.mean(axis=0))


def plant_defects(
    image: np.ndarray,
    *,
    rng: np.random.Generator,
    kinds: Sequence[str] | None = None,
    count: int = 1,
    scale: float = 1.0,
) -> PlantedDefects:
    """Plant ``count`` random defects onto a grey or RGB uint8 image.

    Each defect's kind is drawn uniformly from ``kinds``; its colour change is
    set relative to the fabric around it, with a random strength, so defects
    range from subtle to obvious without saturating. Defects may overlap; the
    mask is their union.

    Args:
        image: uint8 [H, W] or [H, W, 3] (H, W >= 16), e.g. a real 256x256 AITEX tile.
        rng: Source of every random choice (same state -> same result).
        kinds: Kinds to draw from (see :data:`DEFECT_KINDS`); None for all.
        count: Number of defects (>= 0).
        scale: Size multiplier for compact defects (> 0; 1 suits 256-pixel tiles).

    Returns:
        The new image, its mask and one :class:`DefectTruth` per defect.

    Raises:
        FabricRenderError: not a uint8 grey/RGB image, an unknown kind, a bad count or
            scale, or no visible defect of a kind fits the image.
    """
    image = _check_image(image)
    kinds = check_kinds(kinds)
    if not isinstance(count, int | np.integer) or count < 0:
        raise FabricRenderError(
            f"count must be an integer >= 0 (got {count!r})", hint="pass the number of defects"
        )
    if not isinstance(scale, int | float) or not 0.05 <= scale <= 20:
        raise FabricRenderError(
            f"scale must be from 0.05 to 20 (got {scale!r})",
            hint="1.0 suits 256-pixel tiles; use 0.5 for smaller, 2 for larger defects",
        )
    height, width = image.shape[:2]
    region = (0, 0, width, height)
    planted: list[Defect] = []
    for defect_id in range(int(count)):
        kind = kinds[int(rng.integers(0, len(kinds)))]
        defect = None
        for _ in range(_TRIES_PER_DEFECT):
            defect = sample_defect(
                kind,
                rng,
                region=region,
                reference_of=lambda box: local_reference(image, box),
                scale=float(scale),
                defect_id=defect_id,
            )
            if defect is not None:
                break
        if defect is None:
            raise FabricRenderError(
                f"could not fit a visible {kind} defect into a {width}x{height} image",
                hint="use a larger image or a larger scale",
            )
        planted.append(defect)
    result = image.copy()
    mask = np.zeros((height, width), dtype=bool)
    draw_defects(result, mask, planted)
    return PlantedDefects(result, mask, [defect.truth() for defect in planted])
