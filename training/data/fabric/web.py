"""An endless fabric web with defects, delivered line block by line block.

This is the picture behind the station's ``SyntheticFabricSource``: a roll of
one fabric style passing a line-scan camera, with defects planted at a seeded
rate. Defects live in absolute roll coordinates, so one that straddles two
blocks continues exactly into the next, and any split of the roll into blocks
gives the same pixels and masks.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.data.fabric.defects import Defect, DefectTruth, draw_defects, sample_defect
from training.data.fabric.errors import FabricRenderError
from training.data.fabric.planting import check_kinds
from training.data.fabric.style import FabricStyle
from training.data.fabric.weave import check_block_request, render_fabric

DEFECT_REGION_LINES = 2048
"""A defect lies within this many lines of its start; broken ends run 40-100 % of it."""
_TRIES_PER_DEFECT = 10
_REFERENCE_LINES = 64


@dataclass(frozen=True)
class WebBlock:
    """One block of camera lines.

    Attributes:
        pixels: uint8 [lines, width] (grey) or [lines, width, 3] (RGB).
        mask: bool [lines, width], True on defect pixels.
        defects: Defects whose box overlaps this block, with boxes in absolute lines
            (a defect straddling blocks appears in each, with the same ``defect_id``).
        first_line: Absolute line index of the block's first row.
    """

    pixels: np.ndarray
    mask: np.ndarray
    defects: list[DefectTruth]
    first_line: int


class FabricWeb:
    """An endless, seeded fabric web with planted defects.

    Args:
        style: The fabric.
        width_px: Camera pixels across the web (e.g. 4096).
        seed: Identity of the roll: same seed -> same fabric and defects.
        defects_per_metre: Mean number of defects per metre of roll (Poisson), >= 0.
        mm_per_px: Pixel size across the web, mm.
        mm_per_line: Roll advance per camera line, mm (defaults to ``mm_per_px``).
        channels: 1 for grey, 3 for RGB.
        kinds: Defect kinds to plant (None: all of :data:`~.defects.DEFECT_KINDS`).
        defect_scale: Size multiplier of compact defects.

    Raises:
        FabricRenderError: a non-positive size or pixel size, a negative rate, bad channels
            or unknown kinds.
    """

    def __init__(
        self,
        style: FabricStyle,
        *,
        width_px: int,
        seed: int,
        defects_per_metre: float = 2.0,
        mm_per_px: float = 0.1,
        mm_per_line: float | None = None,
        channels: int = 1,
        kinds: Sequence[str] | None = None,
        defect_scale: float = 1.0,
    ) -> None:
        check_block_request(height_px=1, width_px=width_px, first_line=0, channels=channels)
        mm_per_line = mm_per_px if mm_per_line is None else mm_per_line
        for name, value in (("mm_per_px", mm_per_px), ("mm_per_line", mm_per_line)):
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise FabricRenderError(
                    f"{name} must be a number > 0 (got {value!r})",
                    hint="give the pixel size in millimetres, e.g. 0.1 for 10 pixels per mm",
                )
        rate_ok = isinstance(defects_per_metre, int | float) and math.isfinite(defects_per_metre)
        if not rate_ok or defects_per_metre < 0:
            raise FabricRenderError(
                f"defects_per_metre must be a number >= 0 (got {defects_per_metre!r})",
                hint="use 0 for a defect-free roll, or the mean number of defects per metre",
            )
        if not isinstance(defect_scale, int | float) or not 0.05 <= defect_scale <= 20:
            raise FabricRenderError(
                f"defect_scale must be from 0.05 to 20 (got {defect_scale!r})",
                hint="1.0 gives compact defects of a few mm at 0.1 mm per pixel",
            )
        self.style = style
        self.width_px = int(width_px)
        self.seed = int(seed)
        self.channels = int(channels)
        self.mm_per_px = float(mm_per_px)
        self.mm_per_line = float(mm_per_line)
        self.defects_per_metre = float(defects_per_metre)
        self.kinds = check_kinds(kinds)
        self.defect_scale = float(defect_scale)
        self.next_line = 0
        self._rng = np.random.default_rng([self.seed, 0xDEFEC7])
        self._defects: list[Defect] = []
        self._region_starts: list[int] = []
        # Regions start one region early, so defects are as dense at line 0 as anywhere.
        self._next_start = self._draw_gap(-float(DEFECT_REGION_LINES))
        reference = render_fabric(
            style,
            height_px=_REFERENCE_LINES,
            width_px=self.width_px,
            seed=self.seed,
            channels=self.channels,
        )
        self._reference = tuple(float(v) for v in reference.reshape(-1, self.channels).mean(axis=0))

    @property
    def lines_per_metre(self) -> float:
        """Camera lines per metre of roll."""
        return 1000.0 / self.mm_per_line

    def next_block(self, lines: int) -> WebBlock:
        """The next ``lines`` camera lines of the roll (advances the web)."""
        block = self.block_at(self.next_line, lines)
        self.next_line += int(lines)
        return block

    def block_at(self, first_line: int, lines: int) -> WebBlock:
        """Lines [first_line, first_line + lines) of the roll, without moving the web.

        Raises:
            FabricRenderError: ``lines`` < 1 or ``first_line`` < 0.
        """
        check_block_request(
            height_px=lines, width_px=self.width_px, first_line=first_line, channels=self.channels
        )
        first_line, lines = int(first_line), int(lines)
        end_line = first_line + lines
        pixels = render_fabric(
            self.style,
            height_px=lines,
            width_px=self.width_px,
            first_line=first_line,
            seed=self.seed,
            channels=self.channels,
        )
        overlapping = self._defects_overlapping(first_line, end_line)
        mask = np.zeros((lines, self.width_px), dtype=bool)
        draw_defects(pixels, mask, overlapping, first_line=first_line)
        return WebBlock(pixels, mask, [d.truth() for d in overlapping], first_line)

    def defects_before(self, line: int) -> list[DefectTruth]:
        """Every defect whose box starts before ``line``, in planting order."""
        self._generate_until(line)
        return [d.truth() for d in self._defects if d.bbox[1] < line]

    def _defects_overlapping(self, first_line: int, end_line: int) -> list[Defect]:
        self._generate_until(end_line)
        low = bisect.bisect_left(self._region_starts, first_line - DEFECT_REGION_LINES)
        high = bisect.bisect_left(self._region_starts, end_line)
        return [
            defect
            for defect in self._defects[low:high]
            if defect.bbox[1] < end_line and defect.bbox[3] > first_line
        ]

    def _draw_gap(self, start: float) -> float:
        if self.defects_per_metre == 0:
            return math.inf
        mean_gap_lines = self.lines_per_metre / self.defects_per_metre
        return start + float(self._rng.exponential(mean_gap_lines))

    def _generate_until(self, line: int) -> None:
        """Plant every defect whose region starts before ``line`` (in a fixed order)."""
        while self._next_start < line:
            start = math.floor(self._next_start)
            region = (0, max(start, 0), self.width_px, start + DEFECT_REGION_LINES)
            kind = self.kinds[int(self._rng.integers(0, len(self.kinds)))]
            for _ in range(_TRIES_PER_DEFECT):
                defect = sample_defect(
                    kind,
                    self._rng,
                    region=region,
                    reference_of=lambda box: self._reference,
                    scale=self.defect_scale,
                    defect_id=len(self._defects),
                )
                if defect is not None:
                    self._defects.append(defect)
                    self._region_starts.append(start)
                    break
            self._next_start = self._draw_gap(self._next_start)
