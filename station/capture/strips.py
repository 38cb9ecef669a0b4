"""Which strips of a capture are good fabric: the rules that skip a strip, and the crop.

A strip is one :class:`~station.pipeline.assembly.WebRow` of the pipeline's
web assembler, cropped to the web span the assembler found in it (the same
web-edge rule as the pipeline and training, less the background rule's halo:
:func:`crop_to_web`). A strip is skipped when

- it overlaps a stretch the operator marked (``--skip FROM_M-TO_M``),
- its web is missing or narrower than the strip is long (training could not tile it),
- the source knows defects in it (the synthetic source's ``Lines.truth_mask``),
- or, with ``--skip-defects``, the station's model flags it: some pixel of its
  anomaly maps is above the model's threshold (the pixel rule the pipeline's
  defect extraction starts from).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engines.backends.base import InferenceBackend
from station.acquisition.lines import Lines
from station.pipeline.assembly import WebRow
from station.pipeline.tiler import to_model_channels
from training.public import NEIGHBOURHOOD_PX, ConfigError, window_starts

SKIP_OPERATOR = "operator_marked"
SKIP_NO_WEB = "no_web"
SKIP_TRUTH = "known_defect"
SKIP_MODEL = "model_flagged"
SKIP_REASONS = (SKIP_OPERATOR, SKIP_NO_WEB, SKIP_TRUTH, SKIP_MODEL)

_HALO_PX = NEIGHBOURHOOD_PX // 2
_RANGE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*-\s*(\d+(?:\.\d*)?)\s*$")


@dataclass(frozen=True)
class SkipRange:
    """A stretch of the roll the operator marked not to record, in metres from the start."""

    from_m: float
    to_m: float

    def overlaps(self, from_m: float, to_m: float) -> bool:
        """True when [from_m, to_m) meets this stretch."""
        return from_m < self.to_m and to_m > self.from_m

    def as_list(self) -> list[float]:
        """``[from_m, to_m]`` for JSON."""
        return [self.from_m, self.to_m]


def parse_skip_range(text: str) -> SkipRange:
    """``"1.5-2.25"`` -> SkipRange(1.5, 2.25).

    Raises:
        ConfigError: not two numbers ``FROM-TO`` with FROM < TO.
    """
    match = _RANGE.match(text)
    if match is None or float(match.group(1)) >= float(match.group(2)):
        raise ConfigError(
            f"--skip {text!r} is not a stretch FROM_M-TO_M",
            hint="give metres from the capture's start, the smaller first, e.g. --skip 12.5-14",
        )
    return SkipRange(float(match.group(1)), float(match.group(2)))


@dataclass(frozen=True, eq=False)
class Strip:
    """A row of the web cropped to its fabric.

    Attributes:
        row: The assembler's row (all columns).
        left: First fabric column (camera pixels).
        right: One past the last fabric column.
    """

    row: WebRow
    left: int
    right: int

    @property
    def pixels(self) -> np.ndarray:
        """uint8 [S, right - left(, 3)]: the fabric only."""
        return self.row.pixels[:, self.left : self.right]

    @property
    def from_m(self) -> float:
        """Position of the strip's first line along the roll."""
        return float(self.row.along_mm[0]) / 1000.0

    @property
    def to_m(self) -> float:
        """Position just past its last line."""
        along = self.row.along_mm
        step = float(along[-1] - along[-2]) if len(along) > 1 else 0.0
        return (float(along[-1]) + step) / 1000.0


def crop_to_web(row: WebRow) -> Strip | None:
    """The row cut to its web span; None where there is no span at least S columns wide.

    The background rule judges a pixel by its 9 x 9 neighbourhood, so the span
    reaches up to 4 columns (``NEIGHBOURHOOD_PX // 2``) into flat background
    beside the web; those are cut off on each side where the span ends before
    the camera line does. A real web's edge wanders from line to line, and the
    span keeps a column with up to ``max_background_fraction`` background, so
    the columns next to each edge that still hold a background pixel are cut
    off too, with the same 4-column halo, so a strip holds fabric only.
    """
    span = row.span
    if span is None:
        return None
    left = span.left + (_HALO_PX if span.left > 0 else 0)
    right = span.right - (_HALO_PX if span.right < row.width_px else 0)
    if right > left:
        holds_background = row.background[:, left:right].any(axis=0)
        left += _edge_run(holds_background)
        right -= _edge_run(holds_background[::-1])
    if right - left < row.num_lines:
        return None
    return Strip(row=row, left=left, right=right)


def _edge_run(holds_background: np.ndarray) -> int:
    """Columns to cut from the start of ``holds_background``: its leading run, plus the halo."""
    clean = np.flatnonzero(~holds_background)
    run = int(clean[0]) if len(clean) else len(holds_background)
    return run + _HALO_PX if run else 0


class KnownDefects:
    """The truth masks of recent blocks (synthetic source), to tell defective strips."""

    def __init__(self) -> None:
        self._blocks: list[tuple[int, np.ndarray]] = []

    def add(self, block: Lines) -> None:
        """Keep the block's truth mask (blocks without one add nothing)."""
        if block.truth_mask is not None:
            self._blocks.append((block.first_line, block.truth_mask))

    def in_strip(self, strip: Strip) -> bool:
        """True when a defect pixel lies in the strip's lines and columns."""
        first, end = strip.row.first_line, strip.row.end_line
        for block_first, mask in self._blocks:
            lo, hi = max(first, block_first), min(end, block_first + len(mask))
            rows = mask[lo - block_first : hi - block_first, strip.left : strip.right]
            if lo < hi and rows.any():
                return True
        return False

    def forget_before(self, line: int) -> None:
        """Drop masks of blocks that end before ``line``."""
        self._blocks = [(f, m) for f, m in self._blocks if f + len(m) > line]


class ModelFlagger:
    """Scores strips with the station's model; a strip is flagged above its threshold.

    Args:
        backend: An opened inference backend.
        threshold: The pipeline's pixel threshold (calibrated x factor).
        overlap_px: Overlap of neighbouring tiles (``tiling.overlap_px``).
    """

    def __init__(self, backend: InferenceBackend, *, threshold: float, overlap_px: int) -> None:
        self.backend = backend
        self.threshold = threshold
        self.overlap_px = overlap_px

    @property
    def tile_px(self) -> int:
        """The model's tile side."""
        return self.backend.info.tile_px

    def tiles(self, strip: Strip) -> np.ndarray:
        """uint8 [N, S, S, C]: the model's tiles over the whole strip."""
        size = self.tile_px
        stride = size - self.overlap_px
        pixels = to_model_channels(strip.pixels, self.backend.info.in_channels)
        return np.stack(
            [
                pixels[y : y + size, x : x + size]
                for y in window_starts(pixels.shape[0], size, stride)
                for x in window_starts(pixels.shape[1], size, stride)
            ]
        )

    def flags(self, strip: Strip) -> bool:
        """True when some anomaly-map pixel of the strip is above the threshold."""
        result = self.backend.infer(self.tiles(strip))
        return bool(float(result.anomaly_map.max()) > self.threshold)
