"""Coverage: every line of the roll is either inspected or marked uninspected.

Tile rows reach the extraction stage in line order, whatever was dropped in
between. A line is *inspected* when an inspected row (one with tiles, scored
by the model) covers it. Lines that no inspected row covers form an
uninspected stretch, closed when inspection resumes (or at the end): blocks
the source dropped, incomplete camera frames, tile rows dropped because
inference fell behind, rows where no fabric was found, work discarded at
shutdown. Losses are announced with :meth:`CoverageTracker.note_loss` (from
any thread) so a stretch can say why it happened and how many items were lost.

How far coverage got is written to the store as it goes
(:meth:`CoverageTracker.snapshot`, at the pace of a :class:`CheckpointCadence`),
so a roll a crash left open can be closed with what was inspected.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Stretch:
    """An uninspected stretch of the roll.

    Attributes:
        first_line, end_line: Lines not inspected (end exclusive).
        from_mm, to_mm: The same along the roll.
        reasons: Why, e.g. ``("inference fell behind",)``.
        lost_items: Blocks or tile rows dropped (thrown away) inside it.
    """

    first_line: int
    end_line: int
    from_mm: float
    to_mm: float
    reasons: tuple[str, ...]
    lost_items: int

    @property
    def length_mm(self) -> float:
        """Length along the roll."""
        return self.to_mm - self.from_mm

    def __str__(self) -> str:
        """Where it lies along the roll, for people: ``454.4–512.0 mm``."""
        return f"{self.from_mm:.1f}\u2013{self.to_mm:.1f} mm"

    def describe(self) -> str:
        """One log line: where it lies, why and how many items were lost in it."""
        lost = f", {self.lost_items} block(s) or tile row(s) dropped" if self.lost_items else ""
        return f"{self} ({'; '.join(self.reasons)}{lost})"


@dataclass(frozen=True)
class CoverageSnapshot:
    """How far coverage got (positions from the run's start).

    Attributes:
        inspected_until_line: First line neither inspected nor marked uninspected.
        inspected_until_mm: Its position.
        acquired_until_mm: Position of the end of the last line acquired.
        inspected_mm, uninspected_mm: Lengths inspected and marked uninspected so far.
    """

    inspected_until_line: int
    inspected_until_mm: float
    acquired_until_mm: float
    inspected_mm: float
    uninspected_mm: float


class CheckpointCadence:
    """When the next coverage checkpoint is due: after ``every_s`` or ``every_mm``, whichever first.

    The first call is always due, so a roll has a checkpoint from its first row.

    Args:
        every_s: Longest time between checkpoints (seconds, > 0).
        every_mm: Longest stretch of web between checkpoints (mm, > 0).
    """

    def __init__(self, *, every_s: float, every_mm: float) -> None:
        if not (every_s > 0 and every_mm > 0):
            raise ValueError(f"checkpoint cadence must be > 0, got {every_s} s, {every_mm} mm")
        self.every_s = every_s
        self.every_mm = every_mm
        self._last_s = -math.inf
        self._last_mm = -math.inf

    def take_if_due(self, *, position_mm: float, now_s: float) -> bool:
        """True (and the cadence restarts from here) when a checkpoint is due."""
        due = now_s - self._last_s >= self.every_s or position_mm - self._last_mm >= self.every_mm
        if due:
            self.mark(position_mm=position_mm, now_s=now_s)
        return due

    def mark(self, *, position_mm: float, now_s: float) -> None:
        """A checkpoint was taken here and now (e.g. a forced one at the roll's end)."""
        self._last_s = now_s
        self._last_mm = position_mm


@dataclass(frozen=True)
class _Loss:
    first_line: int
    end_line: int
    reason: str
    dropped: bool


class CoverageTracker:
    """Follows which lines were inspected; returns the stretches that were not.

    Args:
        mm_per_line: Roll advance per line, to place the ends of stretches whose
            lines carry no position (they were never delivered).
    """

    NO_CAUSE_SEEN = "lines never reached the pipeline"

    def __init__(self, *, mm_per_line: float) -> None:
        self.mm_per_line = mm_per_line
        self.covered_until = 0
        self._last_line_mm: tuple[int, float] | None = None  # a line and its position
        self._losses: list[_Loss] = []
        self._lock = threading.Lock()
        self.inspected_lines = 0
        self.uninspected_lines = 0
        self.stretches = 0

    def note_loss(
        self, first_line: int, end_line: int, reason: str, *, dropped: bool = True
    ) -> None:
        """Record that lines [first, end) were not inspected, and why (any thread).

        Args:
            first_line, end_line: The lines.
            reason: Why, for people.
            dropped: A block or tile row was thrown away (counted in ``lost_items``);
                False for lines that were seen but could not be inspected (no fabric).
        """
        with self._lock:
            self._losses.append(_Loss(first_line, end_line, reason, dropped))

    def row_done(
        self, first_line: int, end_line: int, *, first_mm: float, inspected: bool
    ) -> Stretch | None:
        """A row reached extraction (rows come in line order).

        Args:
            first_line, end_line: The row's lines.
            first_mm: Position of its first line.
            inspected: False when it was not scored (e.g. no fabric in it).

        Returns:
            The uninspected stretch this row closes, if any.
        """
        if not inspected:
            return None
        stretch = None
        if first_line > self.covered_until:
            stretch = self._close(first_line, end_mm=first_mm)
        new_until = max(self.covered_until, end_line)
        self.inspected_lines += new_until - self.covered_until
        self.covered_until = new_until
        self._last_line_mm = (first_line, first_mm)
        return stretch

    def finish(self, end_line: int) -> Stretch | None:
        """The web ended at ``end_line``: close the stretch that is still open."""
        if end_line <= self.covered_until:
            return None
        end_mm = self._position(end_line)
        return self._close(end_line, end_mm=end_mm)

    def snapshot(
        self, acquired_until_line: int, *, held_from_line: int | None = None
    ) -> CoverageSnapshot:
        """How far coverage got, with lines acquired up to ``acquired_until_line``.

        Args:
            acquired_until_line: One past the last line acquired.
            held_from_line: First line whose defects may not all be reported yet (the
                extraction band's start); inspected lines from there on are not counted
                as inspected yet, so a crash cannot lose a defect on a line called inspected.
        """
        until = self.covered_until
        if held_from_line is not None:
            until = max(0, min(until, held_from_line))
        acquired = max(acquired_until_line, self.covered_until)
        return CoverageSnapshot(
            inspected_until_line=until,
            inspected_until_mm=self._position(until),
            acquired_until_mm=self._position(acquired),
            inspected_mm=(self.inspected_lines - (self.covered_until - until)) * self.mm_per_line,
            uninspected_mm=self.uninspected_lines * self.mm_per_line,
        )

    def _position(self, line: int) -> float:
        if self._last_line_mm is None:
            return line * self.mm_per_line
        known_line, known_mm = self._last_line_mm
        return known_mm + (line - known_line) * self.mm_per_line

    def _close(self, end_line: int, *, end_mm: float) -> Stretch:
        first_line = self.covered_until
        if self._last_line_mm is None:
            from_mm = end_mm - (end_line - first_line) * self.mm_per_line
        else:
            from_mm = self._position(first_line)
        with self._lock:
            inside = [
                loss
                for loss in self._losses
                if loss.first_line < end_line and first_line < loss.end_line
            ]
            # Counted once; losses wholly before this stretch can never matter again.
            self._losses = [
                loss for loss in self._losses if loss not in inside and loss.end_line > end_line
            ]
        reasons = tuple(dict.fromkeys(loss.reason for loss in inside)) or (self.NO_CAUSE_SEEN,)
        self.uninspected_lines += end_line - first_line
        self.stretches += 1
        self.covered_until = end_line
        return Stretch(
            first_line=first_line,
            end_line=end_line,
            from_mm=from_mm,
            to_mm=end_mm,
            reasons=reasons,
            lost_items=sum(loss.dropped for loss in inside),
        )
