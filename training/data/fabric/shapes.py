"""Defect geometry: coverage fields alpha(y, x) in [0, 1] over absolute coordinates.

A shape is evaluated on any window of the web (rows = absolute line indices,
columns = pixel indices across), so a defect that straddles two line blocks is
drawn identically in both. Shapes use only +, -, *, /, sqrt, floor and hashes,
so a pixel's value never depends on the window it was computed in.

Each shape also returns a texture field in [-1, 1] (fibres, fraying, sparse
picks) that modulates the defect's colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.data.fabric.hashing import hash_uniform, value_noise_1d

Field = tuple[np.ndarray, np.ndarray]  # (alpha, texture), both float64 [h, w]
Box = tuple[int, int, int, int]  # (x0, y0, x1, y1), ends exclusive, y in absolute lines


def _grid(ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates as broadcastable [h, 1] and [1, w] float64 arrays."""
    return ys.astype(np.float64)[:, None] + 0.5, xs.astype(np.float64)[None, :] + 0.5


def _bump(distance: np.ndarray, radius: float) -> np.ndarray:
    """Compact smooth bump (1 - (d / r)^2)^2 for d < r, else 0."""
    inside = np.clip(1.0 - (distance / radius) ** 2, 0.0, 1.0)
    return inside * inside


@dataclass(frozen=True)
class IrregularDisc:
    """A blob with a wobbly outline, an optional frayed rim and threads crossing it.

    Used for holes (rim = torn yarn ends, threads = surviving warp yarns), oil
    spots and knot cores.
    """

    cx: float
    cy: float
    radius: float
    aspect: float  # height / width of the blob
    wobble: tuple[tuple[float, float], ...]  # (cos, sin) amplitude of harmonics 2, 3, ...
    edge_px: float
    fray_px: float
    thread_xs: tuple[float, ...]
    seed: int

    def extent(self) -> tuple[float, float, float, float]:
        """Nominal (x0, y0, x1, y1) that contains every non-zero pixel."""
        wobble = sum(abs(a) + abs(b) for a, b in self.wobble)
        reach = self.radius * (1.0 + wobble) + self.edge_px + self.fray_px + 1.0
        return (
            self.cx - reach,
            self.cy - reach * self.aspect,
            self.cx + reach,
            self.cy + reach * self.aspect,
        )

    def field(self, ys: np.ndarray, xs: np.ndarray) -> Field:
        y, x = _grid(ys, xs)
        dx, dy = x - self.cx, (y - self.cy) / self.aspect
        distance = np.sqrt(dx * dx + dy * dy)
        safe = np.maximum(distance, 1e-9)
        cos1, sin1 = dx / safe, dy / safe
        outline = np.ones_like(distance)
        cos_m, sin_m = cos1, sin1
        for amp_cos, amp_sin in self.wobble:  # harmonics m = 2, 3, ... by complex powers
            cos_m, sin_m = cos_m * cos1 - sin_m * sin1, cos_m * sin1 + sin_m * cos1
            outline = outline + amp_cos * cos_m + amp_sin * sin_m
        rim = self.radius * outline
        alpha = np.clip((rim - distance) / self.edge_px + 0.5, 0.0, 1.0)
        # Inside: loose fibres over the backing, a random shade per 2x2 pixels.
        cells_y, cells_x = np.broadcast_arrays(np.floor(y / 2.0), np.floor(x / 2.0))
        texture = hash_uniform(self.seed + 2, cells_y.astype(np.int64), cells_x.astype(np.int64))
        texture = 2.0 * texture - 1.0
        if self.fray_px > 0:
            # Torn yarn ends: radial strands of random length beyond the outline.
            # A monotonic stand-in for the angle (0-4 around the circle), without atan2.
            diamond = cos1 / (np.abs(cos1) + np.abs(sin1) + 1e-12)
            pseudo_angle = np.where(sin1 >= 0, 1.0 - diamond, 3.0 + diamond)
            strand = np.floor(pseudo_angle * self.radius * 2.0).astype(np.int64)
            reach = self.fray_px * (0.3 + 0.7 * hash_uniform(self.seed, strand))
            fray = 0.85 * np.clip(1.0 - (distance - rim) / reach, 0.0, 1.0) * (distance > rim)
            strand_shade = 2.0 * hash_uniform(self.seed + 1, strand) - 1.0
            texture = np.where(fray > alpha, strand_shade, texture)
            alpha = np.maximum(alpha, fray)
        for thread_x in self.thread_xs:
            thread = np.clip(1.0 - np.abs(x - thread_x) / 1.2, 0.0, 1.0)
            alpha = alpha * (1.0 - 0.8 * thread)
        return alpha, texture


@dataclass(frozen=True)
class BumpCluster:
    """Overlapping soft bumps (a stain), with an optional darker tide line at the rim."""

    centres: tuple[tuple[float, float], ...]  # (x, y)
    radii: tuple[float, ...]
    weights: tuple[float, ...]
    tide: float

    def extent(self) -> tuple[float, float, float, float]:
        xs = [x for x, _ in self.centres]
        ys = [y for _, y in self.centres]
        reach = max(self.radii) + 1.0
        return min(xs) - reach, min(ys) - reach, max(xs) + reach, max(ys) + reach

    def field(self, ys: np.ndarray, xs: np.ndarray) -> Field:
        y, x = _grid(ys, xs)
        total = np.zeros(np.broadcast_shapes(y.shape, x.shape))
        for (cx, cy), radius, weight in zip(self.centres, self.radii, self.weights, strict=True):
            total += weight * _bump(np.sqrt((x - cx) ** 2 + (y - cy) ** 2), radius)
        alpha = np.clip(total, 0.0, 1.0)
        tide_line = np.clip(1.0 - np.abs(alpha - 0.3) / 0.12, 0.0, 1.0)
        return np.clip(alpha + self.tide * tide_line, 0.0, 1.0), np.zeros_like(alpha)


@dataclass(frozen=True)
class WanderingLine:
    """A line along one axis that wanders slightly (broken end, broken pick, tails).

    ``along_axis`` 0: the line runs along the roll (rows), 1: across the web.
    """

    along_axis: int
    start: float  # along-coordinate range
    stop: float
    centre: float  # across-coordinate at the start
    drift: float  # across shift from start to stop
    wander_px: float
    wander_period: float
    half_width: float
    taper_px: float
    seed: int

    def extent(self) -> tuple[float, float, float, float]:
        reach = self.wander_px + self.half_width * 1.3 + 1.0
        low = min(self.centre, self.centre + self.drift) - reach
        high = max(self.centre, self.centre + self.drift) + reach
        if self.along_axis == 0:
            return low, self.start, high, self.stop
        return self.start, low, self.stop, high

    def field(self, ys: np.ndarray, xs: np.ndarray) -> Field:
        y, x = _grid(ys, xs)
        along, across = (y, x) if self.along_axis == 0 else (x, y)
        length = max(self.stop - self.start, 1.0)
        centre = (
            self.centre
            + self.drift * (along - self.start) / length
            + self.wander_px * value_noise_1d(self.seed, along, period=self.wander_period)
        )
        width = self.half_width * (
            1.0 + 0.3 * value_noise_1d(self.seed + 1, along, period=self.wander_period / 3.0)
        )
        profile = np.clip(1.0 - ((across - centre) / width) ** 2, 0.0, 1.0)
        taper = np.clip(np.minimum(along - self.start, self.stop - along) / self.taper_px, 0, 1)
        texture = value_noise_1d(self.seed + 2, along, period=6.0)
        return profile * taper, texture * np.ones_like(profile)


@dataclass(frozen=True)
class BezierFibre:
    """A thin curved fibre lying on the fabric (contamination)."""

    points: tuple[tuple[float, float], ...]  # three (x, y) control points
    half_width: float

    def _samples(self) -> np.ndarray:
        (x0, y0), (x1, y1), (x2, y2) = self.points
        length = np.hypot(x1 - x0, y1 - y0) + np.hypot(x2 - x1, y2 - y1)
        t = np.linspace(0.0, 1.0, max(8, int(length * 2)))
        curve_x = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * x1 + t**2 * x2
        curve_y = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * y1 + t**2 * y2
        return np.stack([curve_x, curve_y], axis=1)

    def extent(self) -> tuple[float, float, float, float]:
        samples = self._samples()
        reach = self.half_width + 1.0
        low, high = samples.min(axis=0) - reach, samples.max(axis=0) + reach
        return float(low[0]), float(low[1]), float(high[0]), float(high[1])

    def field(self, ys: np.ndarray, xs: np.ndarray) -> Field:
        y, x = _grid(ys, xs)
        nearest = np.full(np.broadcast_shapes(y.shape, x.shape), np.inf)
        for sample_x, sample_y in self._samples():
            np.minimum(nearest, (x - sample_x) ** 2 + (y - sample_y) ** 2, out=nearest)
        alpha = np.clip(1.0 - nearest / self.half_width**2, 0.0, 1.0)
        return alpha, np.zeros_like(alpha)


@dataclass(frozen=True)
class Spindle:
    """A thick, fibrous segment of one yarn, fattest in the middle (a slub)."""

    along_axis: int
    centre_along: float
    centre_across: float
    half_length: float
    half_width: float
    seed: int

    def extent(self) -> tuple[float, float, float, float]:
        a0, a1 = self.centre_along - self.half_length - 1, self.centre_along + self.half_length + 1
        c0, c1 = self.centre_across - self.half_width - 1, self.centre_across + self.half_width + 1
        return (c0, a0, c1, a1) if self.along_axis == 0 else (a0, c0, a1, c1)

    def field(self, ys: np.ndarray, xs: np.ndarray) -> Field:
        y, x = _grid(ys, xs)
        along, across = (y, x) if self.along_axis == 0 else (x, y)
        t = (along - self.centre_along) / self.half_length
        width = self.half_width * np.sqrt(np.clip(1.0 - t * t, 0.0, 1.0))
        offset = np.abs(across - self.centre_across)
        alpha = np.clip(1.6 * (1.0 - offset / np.maximum(width, 1e-6)), 0.0, 1.0)
        # Fibres run along the slub: a random shade per (fibre, 5-pixel chunk).
        fibre, chunk = np.broadcast_arrays(np.floor(across * 1.5), np.floor(along / 5.0))
        fibre, chunk = fibre.astype(np.int64), chunk.astype(np.int64)
        texture = 2.0 * hash_uniform(self.seed, fibre, chunk) - 1.0
        return alpha, texture


@dataclass(frozen=True)
class Band:
    """A band across the web with soft ends and periodic texture (a thin place)."""

    x0: float
    x1: float
    centre_y: float
    half_height: float
    ramp_px: float
    period_lines: float

    def extent(self) -> tuple[float, float, float, float]:
        return (
            self.x0,
            self.centre_y - self.half_height - 2,
            self.x1,
            self.centre_y + self.half_height + 2,
        )

    def field(self, ys: np.ndarray, xs: np.ndarray) -> Field:
        y, x = _grid(ys, xs)
        across = np.clip((self.half_height - np.abs(y - self.centre_y)) / 1.5 + 0.5, 0.0, 1.0)
        ends = np.clip(np.minimum(x - self.x0, self.x1 - x) / self.ramp_px, 0.0, 1.0)
        alpha = across * ends
        phase = y / self.period_lines
        triangle = 4.0 * np.abs(phase - np.floor(phase) - 0.5) - 1.0
        return alpha, triangle * np.ones_like(alpha)


@dataclass(frozen=True)
class Union:
    """Several shapes as one defect: alpha is the maximum, texture from the strongest part."""

    parts: tuple

    def extent(self) -> tuple[float, float, float, float]:
        boxes = np.array([part.extent() for part in self.parts])
        return (*boxes[:, :2].min(axis=0).tolist(), *boxes[:, 2:].max(axis=0).tolist())

    def field(self, ys: np.ndarray, xs: np.ndarray) -> Field:
        alpha, texture = self.parts[0].field(ys, xs)
        for part in self.parts[1:]:
            part_alpha, part_texture = part.field(ys, xs)
            texture = np.where(part_alpha > alpha, part_texture, texture)
            alpha = np.maximum(alpha, part_alpha)
        return alpha, texture
