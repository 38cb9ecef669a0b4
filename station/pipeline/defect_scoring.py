"""Reported defects against strip masks, counted the way a mill counts.

Replayed strips are separate pieces of fabric laid one after another along the web
(each file starts a segment, docs/run.md "Replaying image files"). A strip either
has a defect mask (a *defect strip*: its mask is one defect, several mask files
unioned) or none (a *defect-free strip*). Each reported defect belongs to the strip
holding its first line. Per strip:

* **found** -- a reported defect's pixel box overlaps a mask pixel; **missed** otherwise;
* **localised** (:data:`LOCALISED_RULE`) -- an overlapping defect has its centre within
  :data:`LOCALISED_MM` of the mask's box, along and across (a region lighting up the
  whole strip overlaps any mask but does not say where the defect is);
* **localisation error** -- the distance in mm from an overlapping defect's centre
  (its ``along_mm`` / ``across_camera_mm``) to the nearest mask pixel, 0 on the mask;
  the smallest over the defects on the mask;
* **box gap** -- how far the box a defect's mm figures describe (centre +- size / 2)
  lies from the mask's box, the larger of along and across (0 = they meet): the
  position check of the mm conversion;
* **false alarms** -- defects on a defect-free strip (a defect strip's other defects
  are counted as ``off_mask``, not as false alarms: AITEX masks are not exhaustive);
* **replay invariants** -- defects reaching past the strip's last line (across a file
  boundary), wider than the strip's web in mm (or with ``across_mm`` off it), or with
  columns outside it. All must be 0.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from station.pipeline.extraction import FoundDefect

# Half a 256 px tile at 0.2 mm/px: the rule the research record has used since the
# first pipeline measurement (docs/research/false_alarms.md).
LOCALISED_MM = 25.6
LOCALISED_RULE = f"centre within {LOCALISED_MM} mm of the mask's box, along and across"


@dataclass(frozen=True)
class StripTruth:
    """One replayed strip: where it lies on the web, its mask and its web.

    Attributes:
        name: The file's name without suffix.
        fabric: Its fabric class.
        first_line, lines: Its lines on the replayed web (``first_line`` + [0, lines)).
        mask: bool [lines, line width] in camera columns, or None (defect-free).
        web: Camera columns [left, right) of the web the pipeline finds on it.
    """

    name: str
    fabric: str
    first_line: int
    lines: int
    mask: np.ndarray | None
    web: tuple[int, int]


@dataclass(frozen=True)
class StripScore:
    """What was reported on one strip (see the module docstring for each figure)."""

    name: str
    fabric: str
    has_mask: bool
    metres: float
    defects: int
    found: bool
    localised: bool
    error_mm: float | None
    box_gap_mm: float | None
    off_mask: int
    false_alarms: int
    across_boundary: int
    wider_than_web: int
    outside_web: int


@dataclass(frozen=True)
class DefectTally:
    """Strip scores summed over one fabric or all strips.

    Attributes:
        label: The fabric, or ``"total"``.
        defect_strips, found, localised: Defect strips, and how many were found / localised.
        error_median_mm, error_max_mm: Localisation error over the found ones (None: none).
        box_gap_max_mm: Largest box gap of a found one (None: none found).
        normal_strips, normal_metres, false_alarms: Defect-free strips, their length, and
            the defects reported on them.
        across_boundary, wider_than_web, outside_web: Replay invariant breaches.
    """

    label: str
    defect_strips: int
    found: int
    localised: int
    error_median_mm: float | None
    error_max_mm: float | None
    box_gap_max_mm: float | None
    normal_strips: int
    normal_metres: float
    false_alarms: int
    across_boundary: int
    wider_than_web: int
    outside_web: int

    @property
    def missed(self) -> int:
        """Defect strips with no reported defect on their mask."""
        return self.defect_strips - self.found

    @property
    def false_alarms_per_m(self) -> float | None:
        """False alarms per metre of defect-free fabric (None without any)."""
        return self.false_alarms / self.normal_metres if self.normal_metres > 0 else None


def _gap(value_low: float, value_high: float, low: float, high: float) -> float:
    """Distance between the intervals [value_low, value_high] and [low, high] (0 = they meet)."""
    return max(0.0, low - value_high, value_low - high)


def _overlaps_mask(defect: FoundDefect, truth: StripTruth) -> bool:
    assert truth.mask is not None
    y0 = max(defect.first_line, truth.first_line) - truth.first_line
    y1 = min(defect.end_line, truth.first_line + truth.lines) - truth.first_line
    return y1 > y0 and bool(truth.mask[y0:y1, defect.x0 : defect.x1].any())


def score_strip(
    defects: Sequence[FoundDefect], truth: StripTruth, *, mm_per_px: float, mm_per_line: float
) -> StripScore:
    """Score the defects reported on one strip (those whose first line lies in it)."""
    end_line = truth.first_line + truth.lines
    left, right = truth.web
    web_mm = (right - left) * mm_per_px
    found = localised = False
    error_mm = box_gap_mm = None
    on_mask = 0
    if truth.mask is not None and truth.mask.any():
        ys, xs = np.nonzero(truth.mask)
        # Mask pixels as mm squares on the web: along from the strip's place on the roll.
        along_lo = (ys + truth.first_line) * mm_per_line
        across_lo = xs * mm_per_px
        box = (
            along_lo.min(),
            along_lo.max() + mm_per_line,
            across_lo.min(),
            across_lo.max() + mm_per_px,
        )
        errors, gaps = [], []
        for defect in (d for d in defects if _overlaps_mask(d, truth)):
            on_mask += 1
            along, across = defect.along_mm, defect.across_camera_mm
            d_along = np.maximum(0.0, np.maximum(along_lo - along, along - along_lo - mm_per_line))
            d_across = np.maximum(
                0.0, np.maximum(across_lo - across, across - across_lo - mm_per_px)
            )
            errors.append(float(np.sqrt(d_along**2 + d_across**2).min()))
            centre_gap = max(_gap(along, along, *box[:2]), _gap(across, across, *box[2:]))
            localised |= bool(centre_gap <= LOCALISED_MM)
            gaps.append(
                max(
                    _gap(along - defect.length_mm / 2, along + defect.length_mm / 2, *box[:2]),
                    _gap(across - defect.width_mm / 2, across + defect.width_mm / 2, *box[2:]),
                )
            )
        if errors:
            found, error_mm, box_gap_mm = True, min(errors), float(max(gaps))
    return StripScore(
        name=truth.name,
        fabric=truth.fabric,
        has_mask=truth.mask is not None,
        metres=truth.lines * mm_per_line / 1000.0,
        defects=len(defects),
        found=found,
        localised=localised,
        error_mm=error_mm,
        box_gap_mm=box_gap_mm,
        off_mask=len(defects) - on_mask if truth.mask is not None else 0,
        false_alarms=len(defects) if truth.mask is None else 0,
        across_boundary=int(sum(d.end_line > end_line for d in defects)),
        wider_than_web=int(
            sum(
                d.width_mm > web_mm + 1e-9 or not 0 <= d.across_mm <= web_mm + 1e-9 for d in defects
            )
        ),
        outside_web=int(sum(d.x0 < left or d.x1 > right for d in defects)),
    )


def score_strips(
    defects: Sequence[FoundDefect],
    truths: Sequence[StripTruth],
    *,
    mm_per_px: float,
    mm_per_line: float,
) -> list[StripScore]:
    """Score every strip; ``truths`` in web order. A defect before the first strip is ignored."""
    scores = []
    for index, truth in enumerate(truths):
        end = truths[index + 1].first_line if index + 1 < len(truths) else None
        own = [
            d
            for d in defects
            if d.first_line >= truth.first_line and (end is None or d.first_line < end)
        ]
        scores.append(score_strip(own, truth, mm_per_px=mm_per_px, mm_per_line=mm_per_line))
    return scores


def tally(label: str, scores: Sequence[StripScore]) -> DefectTally:
    """Sum strip scores (one fabric's, or all of them)."""
    masked = [s for s in scores if s.has_mask]
    errors = [s.error_mm for s in masked if s.error_mm is not None]
    gaps = [s.box_gap_mm for s in masked if s.box_gap_mm is not None]
    normal = [s for s in scores if not s.has_mask]
    return DefectTally(
        label=label,
        defect_strips=len(masked),
        found=sum(s.found for s in masked),
        localised=sum(s.localised for s in masked),
        error_median_mm=statistics.median(errors) if errors else None,
        error_max_mm=max(errors) if errors else None,
        box_gap_max_mm=max(gaps) if gaps else None,
        normal_strips=len(normal),
        normal_metres=sum(s.metres for s in normal),
        false_alarms=sum(s.false_alarms for s in normal),
        across_boundary=sum(s.across_boundary for s in scores),
        wider_than_web=sum(s.wider_than_web for s in scores),
        outside_web=sum(s.outside_web for s in scores),
    )


def tallies(scores: Sequence[StripScore]) -> tuple[tuple[DefectTally, ...], DefectTally]:
    """One tally per fabric (sorted by name) and the total."""
    fabrics = sorted({s.fabric for s in scores})
    by_fabric = tuple(tally(f, [s for s in scores if s.fabric == f]) for f in fabrics)
    return by_fabric, tally("total", scores)
