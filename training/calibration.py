"""Threshold calibration on validation normals, in false alarms per metre of fabric.

A mill states its tolerance as false alarms per metre of web. On defect-free
validation fabric, an *alarm* is a connected region of the anomaly map above
the threshold (what the station would log as a defect); the rate is alarms
divided by the metres of fabric the validation images cover (their height
along the roll times mm per pixel). The calibrated threshold is the lowest
one whose rate does not exceed the target. A tile threshold for tile-level
decisions is chosen the same way, counting one alarm per tile.

With little validation fabric, the rate can only be resolved in steps of
1 / metres; when the target is below that step, the threshold is the
highest validation score (alarms need a score strictly above it, so zero
alarms), and the report gives the resolution.

What validation fabric can *confirm* is a different matter: having seen k
alarms on L metres, a rate as high as the one-sided 95 % Poisson upper bound
(:func:`false_alarm_rate_upper_bound`; 3.0 / L for k = 0) is still plausible.
A model's **supported** rate (``Calibration.supported_false_alarms_per_m``) is
the larger of that bound and the target: the budget a station can honestly be
held to. On AITEX (0.41 m of validation fabric) it is about 7.3/m, whatever the
target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import stats

from training.errors import DataError

# Relative margin above the highest normal score when no alarm is allowed.
ZERO_ALARM_MARGIN = 1e-4


@dataclass(frozen=True)
class CalibrationResult:
    """Thresholds and the rates they achieve on the validation fabric."""

    pixel_threshold: float
    tile_threshold: float
    achieved_false_alarms_per_m: float
    tile_false_alarms_per_m: float
    validation_metres: float
    resolution_per_m: float


def false_alarm_rate_upper_bound(alarms: int, metres: float, *, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound of a false-alarm rate, per metre (exact Poisson).

    Args:
        alarms: Alarms observed.
        metres: Fabric they were observed on (> 0).
        confidence: Confidence level of the bound.
    """
    if metres <= 0:
        raise ValueError("metres must be positive")
    return float(stats.chi2.ppf(confidence, 2 * (alarms + 1)) / 2.0 / metres)


def label_regions(mask: np.ndarray, *, merge_gap_px: int = 0) -> tuple[int, np.ndarray]:
    """Label defect regions: 8-connected components, fragments within a gap merged.

    A broken pick or a crease often breaks into a dashed line above the
    threshold; a mill counts it as one defect. Fragments whose pixels are at
    most about ``merge_gap_px`` apart share a label (components of the mask
    dilated by a square of side ``merge_gap_px + 1``, rounded up to odd).

    Args:
        mask: bool [H, W], defective pixels.
        merge_gap_px: Largest gap bridged, in pixels (0: plain components).

    Returns:
        ``(count, labels)``: labels int32 [H, W], 1..count on the mask's pixels, 0 elsewhere.
    """
    pixels = np.ascontiguousarray(mask, dtype=np.uint8)
    if merge_gap_px <= 0:
        count, labels = cv2.connectedComponents(pixels, connectivity=8, ltype=cv2.CV_32S)
        return count - 1, labels
    side = 2 * ((merge_gap_px + 1) // 2) + 1
    grown = cv2.dilate(pixels, np.ones((side, side), np.uint8))
    count, labels = cv2.connectedComponents(grown, connectivity=8, ltype=cv2.CV_32S)
    labels[pixels == 0] = 0
    return count - 1, labels


def count_alarms(
    maps: np.ndarray | Sequence[np.ndarray],
    threshold: float,
    *,
    valid=None,
    merge_gap_px: int = 0,
) -> int:
    """Alarm regions (see :func:`label_regions`) of ``maps > threshold``.

    Args:
        maps: Tile maps [T, S, S], or whole-image maps of any sizes (see
            :func:`stitch_tile_maps`), so a defect spanning tiles counts once.
        threshold: Alarm where a score is strictly above it.
        valid: Matching boolean masks; False pixels never alarm.
        merge_gap_px: Fragments this close are one alarm, as in the station.
    """
    total = 0
    for index, image_map in enumerate(maps):
        if image_map.max() <= threshold:
            continue
        above = image_map > threshold
        if valid is not None:
            above &= valid[index]
        if above.any():
            total += label_regions(above, merge_gap_px=merge_gap_px)[0]
    return total


def stitch_tile_maps(
    maps: np.ndarray, image_index: np.ndarray, boxes: np.ndarray, valid: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Put each image's tile maps back at their places (maximum where tiles overlap).

    Args:
        maps: float [T, S, S]; image_index: int [T]; boxes: int [T, 2] (x, y);
            valid: bool [T, S, S].

    Returns:
        ``(image_maps, image_valid)``, one pair per image; pixels no kept tile covers
        (background tiles) are not valid.
    """
    size = maps.shape[-1]
    image_maps, image_valid = [], []
    for number in np.unique(image_index):
        chosen = np.flatnonzero(image_index == number)
        height = int(boxes[chosen, 1].max()) + size
        width = int(boxes[chosen, 0].max()) + size
        stitched = np.full((height, width), -np.inf, dtype=np.float32)
        covered = np.zeros((height, width), dtype=bool)
        for tile in chosen:
            x, y = int(boxes[tile, 0]), int(boxes[tile, 1])
            window = (slice(y, y + size), slice(x, x + size))
            stitched[window] = np.maximum(
                stitched[window], np.where(valid[tile], maps[tile], -np.inf)
            )
            covered[window] |= valid[tile]
        image_maps.append(np.where(covered, stitched, -np.inf).astype(np.float32))
        image_valid.append(covered)
    return image_maps, image_valid


def merge_gap_px(gap_mm: float, mm_per_px: float) -> int:
    """A merge gap in millimetres as whole pixels (rounded)."""
    return round(gap_mm / mm_per_px)


def fabric_metres(image_heights_px: list[int], *, mm_per_px: float) -> float:
    """Metres of roll covered by images of the given heights (lines along the roll)."""
    return float(sum(image_heights_px)) * mm_per_px / 1000.0


def _lowest_threshold(candidates: np.ndarray, rate_of) -> float:
    """Lowest candidate (descending scan) whose rate, and every higher one's, is allowed."""
    chosen = float(candidates[0])
    for candidate in candidates:
        if not rate_of(candidate):
            break
        chosen = float(candidate)
    return chosen


def calibrate_thresholds(
    maps: np.ndarray | Sequence[np.ndarray],
    tile_scores: np.ndarray,
    *,
    metres: float,
    target_per_m: float,
    valid: np.ndarray | None = None,
    merge_gap_px: int = 0,
    max_candidates: int = 400,
) -> CalibrationResult:
    """Choose pixel and tile thresholds for a target false-alarm rate.

    Args:
        maps: float [T, S, S] anomaly maps of defect-free validation tiles, or
            whole-image maps from :func:`stitch_tile_maps` (so that a region spanning
            tiles is one alarm, as in the station).
        tile_scores: float [T] the tiles' scores.
        metres: Fabric length the validation images cover.
        target_per_m: Allowed false alarms per metre.
        valid: bool [T, S, S], pixels that are fabric (others never alarm).
        merge_gap_px: Fragments this close count as one alarm (see :func:`label_regions`).

    Raises:
        DataError: no validation tiles or no fabric length.
    """
    if len(maps) == 0 or metres <= 0:
        raise DataError(
            "threshold calibration needs defect-free validation tiles",
            hint="provide a validation split (AITEX: strips 15-16 of each fabric)",
        )
    if valid is None:
        fabric_maps = list(maps)
    else:
        fabric_maps = [np.where(v, m, -np.inf) for m, v in zip(maps, valid, strict=True)]
    peaks = np.array([float(m.max()) for m in fabric_maps])
    top = float(peaks.max())
    ceiling = top + max(abs(top), 1.0) * ZERO_ALARM_MARGIN
    # Candidates just above each tile's peak (where the alarm count can change), descending.
    peak_candidates = np.sort(np.unique(peaks))[::-1][:max_candidates]
    candidates = np.r_[ceiling, peak_candidates]
    allowed = target_per_m * metres

    pixel_threshold = _lowest_threshold(
        candidates, lambda t: count_alarms(fabric_maps, t, merge_gap_px=merge_gap_px) <= allowed
    )
    ordered = np.sort(tile_scores)[::-1]
    tile_ceiling = float(ordered[0]) + max(abs(float(ordered[0])), 1.0) * ZERO_ALARM_MARGIN
    tile_threshold = _lowest_threshold(
        np.r_[tile_ceiling, ordered], lambda t: int((tile_scores > t).sum()) <= allowed
    )
    return CalibrationResult(
        pixel_threshold=pixel_threshold,
        tile_threshold=tile_threshold,
        achieved_false_alarms_per_m=count_alarms(
            fabric_maps, pixel_threshold, merge_gap_px=merge_gap_px
        )
        / metres,
        tile_false_alarms_per_m=int((tile_scores > tile_threshold).sum()) / metres,
        validation_metres=metres,
        resolution_per_m=1.0 / metres,
    )
