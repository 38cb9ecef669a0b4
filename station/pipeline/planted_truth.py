"""Found defects against planted ones: hits, misses and false alarms per metre.

A synthetic web knows its defects (:attr:`SyntheticFabricSource.planted_defects`,
boxes in absolute lines). Comparing what the pipeline found with them answers
a newcomer's first question, "did it find the defects?":

* a planted defect is **hit** when at least one found defect's box overlaps its
  box (by at least one pixel); several found pieces on one planted defect count
  it once;
* a found defect whose box overlaps no planted box is a **false alarm**;
* false alarms per metre divide by the metres of web inspected.

Only planted defects that start inside the inspected stretch count as found or
missed: one that lies beyond the last inspected line could not have been found.
A found defect is a false alarm only when it overlaps no planted defect at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from station.pipeline.extraction import FoundDefect
from training.public import DefectTruth

Box = tuple[int, int, int, int]
"""(x0, first_line, x1, end_line): columns and absolute lines, ends exclusive."""


@dataclass(frozen=True)
class KindTally:
    """Planted defects of one kind and how many of them were found.

    Attributes:
        kind: Defect kind (``training.public.DEFECT_KINDS``).
        planted: Planted defects of this kind in the inspected stretch.
        found: Of those, how many a found defect overlaps.
    """

    kind: str
    planted: int
    found: int

    @property
    def missed(self) -> int:
        """Planted defects of this kind that nothing overlaps."""
        return self.planted - self.found


@dataclass(frozen=True)
class TruthComparison:
    """The roll's found defects scored against its planted ones.

    Attributes:
        by_kind: One tally per kind planted, in alphabetical order.
        found_defects: Defects the pipeline logged.
        false_alarms: Found defects that overlap no planted defect.
        metres: Metres of web inspected (the false-alarm rate's denominator).
    """

    by_kind: tuple[KindTally, ...]
    found_defects: int
    false_alarms: int
    metres: float

    @property
    def planted(self) -> int:
        """Planted defects in the inspected stretch."""
        return sum(tally.planted for tally in self.by_kind)

    @property
    def found(self) -> int:
        """Planted defects that a found defect overlaps."""
        return sum(tally.found for tally in self.by_kind)

    @property
    def missed(self) -> int:
        """Planted defects that no found defect overlaps."""
        return self.planted - self.found

    @property
    def false_alarms_per_m(self) -> float:
        """False alarms per metre of inspected web."""
        return self.false_alarms / self.metres


def found_box(defect: FoundDefect) -> Box:
    """The box of a found defect in the planted defects' frame (camera columns, lines)."""
    return (defect.x0, defect.first_line, defect.x1, defect.end_line)


def boxes_overlap(a: Box, b: Box) -> bool:
    """True when two boxes (ends exclusive) share at least one pixel."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def compare_with_planted(
    planted: Sequence[DefectTruth],
    found: Sequence[Box],
    *,
    inspected_lines: int,
    metres: float,
) -> TruthComparison:
    """Score found defect boxes against the planted defects.

    Args:
        planted: The source's planted defects (``bbox`` = x0, y0, x1, y1 in absolute lines).
        found: Boxes of the found defects (:func:`found_box`).
        inspected_lines: Lines ``[0, inspected_lines)`` were inspected; planted defects
            starting at or after it are neither found nor missed.
        metres: Metres of web inspected.

    Returns:
        Hits and misses per kind, and the false alarms.

    Raises:
        ValueError: ``metres`` is not positive.
    """
    if metres <= 0:
        raise ValueError(f"metres inspected must be positive, got {metres}")
    in_reach = [truth for truth in planted if truth.bbox[1] < inspected_lines]
    hit = [any(boxes_overlap(truth.bbox, box) for box in found) for truth in in_reach]
    false_alarms = sum(
        not any(boxes_overlap(truth.bbox, box) for truth in planted) for box in found
    )
    kinds = sorted({truth.kind for truth in in_reach})
    by_kind = tuple(
        KindTally(
            kind=kind,
            planted=sum(truth.kind == kind for truth in in_reach),
            found=sum(
                was_hit for truth, was_hit in zip(in_reach, hit, strict=True) if truth.kind == kind
            ),
        )
        for kind in kinds
    )
    return TruthComparison(
        by_kind=by_kind, found_defects=len(found), false_alarms=false_alarms, metres=metres
    )


def format_truth_table(comparison: TruthComparison) -> str:
    """The comparison as a plain-text table (per kind, then all) and a false-alarm line."""
    header = f"{'kind':<16}{'planted':>8}{'found':>8}{'missed':>8}"
    rows = [header]
    for tally in comparison.by_kind:
        rows.append(f"{tally.kind:<16}{tally.planted:>8}{tally.found:>8}{tally.missed:>8}")
    rows.append(f"{'all':<16}{comparison.planted:>8}{comparison.found:>8}{comparison.missed:>8}")
    rows.append(
        f"False alarms: {comparison.false_alarms} of {comparison.found_defects} found defects "
        f"overlap no planted defect, {comparison.false_alarms_per_m:.1f} per metre "
        f"({comparison.metres:.2f} m inspected)"
    )
    return "\n".join(rows)
