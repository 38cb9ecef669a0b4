"""Defect extraction: connected components of the stitched map above the threshold.

Components are labelled (8-connected; fragments within the calibrated merge
gap are one defect, as in the model's calibration) over the *final* part of the band:
lines no future tile row can change. A component that reaches the newest
final line may continue into the next rows, so it stays open and the band
keeps its lines; any other component is finished and reported once, whatever
the tile rows, tile borders or line blocks it spans. Segments (a replay's
image files, stretches between lost lines) are labelled apart: no component
joins two, and a defect's images stay inside its segment. A component longer
than ``max_length_lines`` is reported in pieces so that memory stays bounded.

Geometry of a reported defect (pixel boxes have exclusive ends):

* along the roll: ``along_mm`` is the centre of its extent, from the roll's
  start; ``length_mm`` = lines x mm/line (encoder positions where used);
* across: ``across_mm`` is the centre **from the web's left edge** (the
  leftmost edge detected along the defect's lines; for a straight web, the
  edge at its centre line); ``across_camera_mm`` is the same from the camera's
  first pixel; ``width_mm`` = columns x mm/px. A defect lies inside the web
  span of its lines by construction (``0 <= across_mm``, its box inside the
  web, never wider than it); :func:`~station.pipeline.defect_bounds.keep_inside_web`
  checks it, logs a violation as an ERROR and clips;
* ``area_mm2`` = defective pixels x mm/px x mm/line; ``peak_score`` the
  highest stitched score inside it; ``fabric_class`` the class most of its
  tiles matched; ``points`` from the 4-point system. Holes are not told apart
  from other defects (``is_hole`` is always False).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from station.grading import points_for_defect
from station.pipeline.defect_bounds import (
    Box,
    crop_window,
    keep_inside_web,
    segment_runs,
    web_span_of_lines,
)
from station.pipeline.defect_images import crop_png, heatmap_png
from station.pipeline.stitching import ScoreBand
from training.public import label_regions


@dataclass(frozen=True, eq=False)
class FoundDefect:
    """One defect found on the web (see the module docstring for the geometry).

    Attributes:
        first_line, end_line: Lines of its box (end exclusive).
        x0, x1: Camera columns of its box (end exclusive).
        continued: True when it is a piece of a defect longer than the length limit.
        crop_png, heatmap_png: PNG bytes of its region with margin, or None.
    """

    first_line: int
    end_line: int
    x0: int
    x1: int
    along_mm: float
    across_mm: float
    across_camera_mm: float
    length_mm: float
    width_mm: float
    area_mm2: float
    area_px: int
    peak_score: float
    class_index: int
    fabric_class: str
    points: int
    is_hole: bool = False
    continued: bool = False
    crop_png: bytes | None = None
    heatmap_png: bytes | None = None


@dataclass(frozen=True)
class ExtractionSettings:
    """How components become defects.

    Attributes:
        threshold: Score above which a pixel is defective (calibrated x factor).
        mm_per_px: Pixel size across the web.
        mm_per_line: Roll advance per line.
        classes: The model's class names (index -> name).
        min_area_mm2: Smaller components are not reported.
        max_length_lines: Longer components are reported in pieces.
        crop_margin_px: Context around a defect in its images.
        max_crop_px: Longer image sides are scaled down.
        save_images: Render the crop and heatmap PNGs.
        merge_gap_px: Fragments at most this far apart are one defect (the gap the
            threshold was calibrated with; see ``training.calibration.label_regions``).
    """

    threshold: float
    mm_per_px: float
    mm_per_line: float
    classes: Sequence[str]
    min_area_mm2: float = 0.0
    max_length_lines: int = 5000
    crop_margin_px: int = 24
    max_crop_px: int = 512
    save_images: bool = True
    merge_gap_px: int = 0


class DefectExtractor:
    """Finds finished defects in a :class:`ScoreBand` and trims what it no longer needs.

    Args:
        band: The stitched band (the extractor trims it).
        settings: Threshold, geometry and image settings.
    """

    def __init__(self, band: ScoreBand, settings: ExtractionSettings) -> None:
        if not (math.isfinite(settings.threshold) and settings.threshold > 0):
            raise ValueError(f"threshold must be > 0, got {settings.threshold!r}")
        self.band = band
        self.settings = settings
        self.open_components = 0

    def extract(self, final_until: int, *, end: bool = False) -> list[FoundDefect]:
        """Report the defects that are finished.

        Each segment of the band (see :mod:`station.pipeline.assembly`) is labelled
        on its own, so no component joins two segments; a segment followed by a
        newer one is complete, and all its components are finished.

        Args:
            final_until: Lines before this no longer change (no future row covers them).
            end: The web has ended (or stops here): everything held is final.

        Returns:
            Defects in the order of their labels (segment by segment, top to bottom,
            left to right).
        """
        band = self.band
        first = band.origin_line
        last = band.end_line if end else min(final_until, band.end_line)
        if last <= first:
            return []
        scores = band.blended(first, last)
        rows = last - first
        mask = (scores > self.settings.threshold) & ~band.claimed[:rows]
        found: list[FoundDefect] = []
        open_tops: list[int] = []
        if mask.any():  # defect-free fabric, the usual case: nothing to label
            newest_segment = band.segment[band.num_lines - 1]
            for lo, hi in segment_runs(band.segment[:rows]):
                complete = end or hi < rows or band.segment[lo] != newest_segment
                open_tops += self._extract_run(scores, mask, lo, hi, complete, found)
        self.open_components = len(open_tops)
        if end:
            band.trim(last)
        else:
            # Keep a crop margin of final lines above what may still be reported, so a
            # defect's image has context above it too; their components are claimed.
            keep = self.settings.crop_margin_px if self.settings.save_images else 0
            band.trim(first + max(0, min(open_tops, default=rows) - keep))
        return found

    def _extract_run(
        self,
        scores: np.ndarray,
        mask: np.ndarray,
        lo: int,
        hi: int,
        complete: bool,
        found: list[FoundDefect],
    ) -> list[int]:
        """Label band lines [lo, hi) (one segment), append finished defects to ``found``.

        Returns:
            The top lines of the components left open (they reach the newest final
            line of a segment that is not complete yet).
        """
        band = self.band
        run_mask = mask[lo:hi]
        columns = np.flatnonzero(run_mask.any(axis=0))
        if len(columns) == 0:
            return []
        # Label only the columns that hold defective pixels (cheaper on a wide web).
        x_lo, x_hi = int(columns[0]), int(columns[-1]) + 1
        count, labels = label_regions(
            run_mask[:, x_lo:x_hi], merge_gap_px=self.settings.merge_gap_px
        )
        areas = np.bincount(labels.ravel(), minlength=count + 1)
        segment_end = self._segment_end(lo, hi)
        open_tops: list[int] = []
        for label, box in enumerate(ndimage.find_objects(labels, max_label=count), start=1):
            if box is None:
                continue
            y, h = box[0].start + lo, box[0].stop - box[0].start
            x, w = box[1].start + x_lo, box[1].stop - box[1].start
            reaches_newest = y + h == hi and not complete
            too_long = h >= self.settings.max_length_lines
            if reaches_newest and not too_long:
                open_tops.append(y)
                continue
            component = labels[y - lo : y - lo + h, x - x_lo : x - x_lo + w] == label
            band.claimed[y : y + h, x : x + w] |= component
            defect = self._describe(
                scores,
                component,
                Box(x, y, w, h),
                int(areas[label]),
                segment=(lo, segment_end),
                continued=too_long,
            )
            if defect is not None:
                found.append(defect)
        return open_tops

    def _segment_end(self, lo: int, hi: int) -> int:
        """One past the band's last line (index) of the segment that holds line index ``lo``."""
        segment = self.band.segment
        later = np.flatnonzero(segment[hi:] != segment[lo])
        return hi + int(later[0]) if len(later) else len(segment)

    def _describe(
        self,
        scores: np.ndarray,
        component: np.ndarray,
        box: Box,
        area_px: int,
        *,
        segment: tuple[int, int],
        continued: bool,
    ) -> FoundDefect | None:
        s = self.settings
        band = self.band
        y, h = box.y, box.h
        web = web_span_of_lines(band.web_left[y : y + h], band.web_right[y : y + h])
        box, component = keep_inside_web(box, component, web, first_line=band.origin_line + y)
        if box is None:
            return None
        x, w = box.x, box.w
        area_px = min(area_px, int(component.sum()))
        area_mm2 = area_px * s.mm_per_px * s.mm_per_line
        if area_mm2 < s.min_area_mm2:
            return None
        along = band.along_mm[y : y + h]
        known = np.isfinite(along)
        start_mm = float(along[known][0]) if known.any() else (band.origin_line + y) * s.mm_per_line
        end_mm = (
            float(along[known][-1]) + s.mm_per_line if known.any() else start_mm + h * s.mm_per_line
        )
        centre_x_px = x + w / 2.0
        length_mm = end_mm - start_mm
        width_mm = w * s.mm_per_px
        class_index = self._majority_class(band.origin_line + y, band.origin_line + y + h, x, x + w)
        crop, heatmap = self._images(scores, box, segment) if s.save_images else (None, None)
        return FoundDefect(
            first_line=band.origin_line + y,
            end_line=band.origin_line + y + h,
            x0=x,
            x1=x + w,
            along_mm=(start_mm + end_mm) / 2.0,
            across_mm=(centre_x_px - web[0]) * s.mm_per_px,
            across_camera_mm=centre_x_px * s.mm_per_px,
            length_mm=length_mm,
            width_mm=width_mm,
            area_mm2=area_mm2,
            area_px=area_px,
            peak_score=float(scores[y : y + h, x : x + w][component].max()),
            class_index=class_index,
            fabric_class=s.classes[class_index] if 0 <= class_index < len(s.classes) else "unknown",
            points=points_for_defect(length_mm=length_mm, width_mm=width_mm, is_hole=False),
            continued=continued,
            crop_png=crop,
            heatmap_png=heatmap,
        )

    def _majority_class(self, first_line: int, end_line: int, x0: int, x1: int) -> int:
        tiles = self.band.tiles_overlapping(first_line, end_line, x0, x1)
        if not tiles:
            return -1
        votes = Counter(tile.class_index for tile in tiles)
        return votes.most_common(1)[0][0]

    def _images(
        self, scores: np.ndarray, box: Box, segment: tuple[int, int]
    ) -> tuple[bytes, bytes]:
        """Crop and heatmap PNGs of a defect with its margin, never reaching past its segment.

        Where the segment cuts the margin on one side, the window slides to the other
        (as far as the segment and the band allow), so a defect next to a file boundary
        still gets a crop of the usual size rather than a sliver.
        """
        s = self.settings
        band = self.band
        margin = s.crop_margin_px
        # The margin may reach into lines that are not final yet; their pixels are known.
        y0, y1 = crop_window(box.y, box.h, margin, segment)
        x0, x1 = max(0, box.x - margin), min(scores.shape[1], box.x + box.w + margin)
        pixels = band.pixels[y0:y1, x0:x1]
        if y1 <= scores.shape[0]:
            region = scores[y0:y1, x0:x1]
        else:
            origin = band.origin_line
            region = band.blended(origin + y0, origin + y1)[:, x0:x1]
        return (
            crop_png(pixels, max_side_px=s.max_crop_px),
            heatmap_png(pixels, region, threshold=s.threshold, max_side_px=s.max_crop_px),
        )
