"""Random samplers for each defect kind: geometry, size, strength and colour change.

Sizes are in pixels for ``scale`` 1 (suited to 256-pixel tiles at about 0.1 mm
per pixel); strengths are drawn from ranges that go from subtle to obvious, and
bright, dark and flattening changes are set relative to the fabric's own
colour so nothing saturates by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.data.fabric.shapes import (
    Band,
    BezierFibre,
    Box,
    BumpCluster,
    IrregularDisc,
    Spindle,
    Union,
    WanderingLine,
)


@dataclass(frozen=True)
class DefectDraw:
    """What a kind sampler draws: the shape and the colour change for a reference colour."""

    shape: object
    gain: Callable[[np.ndarray], np.ndarray]
    offset: Callable[[np.ndarray], np.ndarray]
    texture_amp: float = 0.0


def _uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _blend_to(strength: float, level: Callable[[np.ndarray], np.ndarray]) -> tuple:
    """gain/offset that blend a pixel towards ``level(reference)`` by ``strength``."""
    return (lambda ref: np.full_like(ref, 1.0 - strength)), (lambda ref: strength * level(ref))


def _darken(strength: float, tint: np.ndarray | None = None) -> tuple:
    def gain(ref: np.ndarray) -> np.ndarray:
        shade = np.ones_like(ref) if tint is None or len(ref) == 1 else tint / tint.mean()
        return np.clip(1.0 - strength * shade, 0.05, 1.0)

    return gain, (lambda ref: np.zeros_like(ref))


def _brighter(ref: np.ndarray, factor: float, lift: float) -> np.ndarray:
    return np.clip(ref * factor + lift, 0.0, 250.0)


def _centre(rng: np.random.Generator, region: Box, margin: float) -> tuple[float, float]:
    x0, y0, x1, y1 = region
    mx, my = min(margin, (x1 - x0) / 2.0), min(margin, (y1 - y0) / 2.0)
    return _uniform(rng, x0 + mx, x1 - mx), _uniform(rng, y0 + my, y1 - my)


def _hole(rng: np.random.Generator, region: Box, scale: float, seed: int) -> DefectDraw:
    size = min(region[2] - region[0], region[3] - region[1])
    radius = min(_uniform(rng, 3.0, 11.0) * scale, 0.3 * size)
    cx, cy = _centre(rng, region, radius * 1.8 + 4)
    threads = tuple(cx + _uniform(rng, -0.6, 0.6) * radius for _ in range(rng.integers(0, 3)))
    shape = IrregularDisc(
        cx, cy, radius, _uniform(rng, 0.7, 1.4),
        tuple((float(rng.normal(0, 0.1)), float(rng.normal(0, 0.1))) for _ in range(3)),
        edge_px=1.5, fray_px=_uniform(rng, 2.5, 6.0) * scale, thread_xs=threads, seed=seed,
    )  # fmt: skip
    backing = _uniform(rng, 10, 55) if rng.random() < 0.7 else _uniform(rng, 185, 240)
    gain, offset = _blend_to(_uniform(rng, 0.75, 0.95), lambda ref: np.full_like(ref, backing))
    return DefectDraw(shape, gain, offset, texture_amp=0.3)


def _stain(rng: np.random.Generator, region: Box, scale: float, seed: int) -> DefectDraw:
    size = min(region[2] - region[0], region[3] - region[1])
    main = min(_uniform(rng, 6.0, 22.0) * scale, 0.3 * size)
    cx, cy = _centre(rng, region, main * 1.7 + 2)
    count = int(rng.integers(1, 5))
    satellites = [
        (cx + _uniform(rng, -0.6, 0.6) * main, cy + _uniform(rng, -0.6, 0.6) * main)
        for _ in range(count - 1)
    ]
    centres = ((cx, cy), *satellites)
    radii = (main, *(main * _uniform(rng, 0.4, 0.9) for _ in range(count - 1)))
    weights = tuple(_uniform(rng, 0.8, 1.8) for _ in range(count))
    shape = BumpCluster(centres, radii, weights, tide=_uniform(rng, 0.0, 0.5))
    tint = np.array([1.0, 1.2, 1.7]) if rng.random() < 0.7 else np.array([1.0, 1.0, 1.0])
    gain, offset = _darken(_uniform(rng, 0.15, 0.4), tint)
    return DefectDraw(shape, gain, offset)


def _oil_spot(rng: np.random.Generator, region: Box, scale: float, seed: int) -> DefectDraw:
    size = min(region[2] - region[0], region[3] - region[1])
    radius = min(_uniform(rng, 3.0, 10.0) * scale, 0.3 * size)
    cx, cy = _centre(rng, region, radius * 1.8 + 3)
    shape = IrregularDisc(
        cx, cy, radius, _uniform(rng, 0.6, 1.5),
        tuple((float(rng.normal(0, 0.06)), float(rng.normal(0, 0.06))) for _ in range(3)),
        edge_px=_uniform(rng, 1.0, 2.5), fray_px=0.0, thread_xs=(), seed=seed,
    )  # fmt: skip
    darken, flatten = _uniform(rng, 0.25, 0.5), _uniform(rng, 0.2, 0.45)
    tint = np.array([1.0, 1.1, 1.4])

    def gain(ref: np.ndarray) -> np.ndarray:
        shade = tint / tint.mean() if len(ref) == 3 else np.ones_like(ref)
        return (1.0 - darken * shade) * (1.0 - flatten)

    return DefectDraw(shape, gain, lambda ref: gain(ref) / (1.0 - flatten) * flatten * ref)


def _line(
    rng: np.random.Generator, region: Box, scale: float, seed: int, *, along_axis: int
) -> DefectDraw:
    x0, y0, x1, y1 = region
    along_lo, along_hi = (y0, y1) if along_axis == 0 else (x0, x1)
    across_lo, across_hi = (x0, x1) if along_axis == 0 else (y0, y1)
    span = along_hi - along_lo
    length = span * _uniform(rng, 0.4, 1.0) if along_axis == 0 else span * _uniform(rng, 0.3, 1.0)
    start = _uniform(rng, along_lo, along_hi - length)
    margin = min(6.0, (across_hi - across_lo) / 2.0)
    shape = WanderingLine(
        along_axis=along_axis, start=start, stop=start + length,
        centre=_uniform(rng, across_lo + margin, across_hi - margin),
        drift=float(rng.normal(0.0, 0.01 * length)) if along_axis == 0 else 0.0,
        wander_px=_uniform(rng, 0.3, 2.5) if along_axis == 0 else _uniform(rng, 0.2, 1.0),
        wander_period=_uniform(rng, 20, 80) if along_axis == 0 else _uniform(rng, 60, 200),
        half_width=_uniform(rng, 0.8, 2.0) * min(scale, 2.0), taper_px=6.0, seed=seed,
    )  # fmt: skip
    strength = _uniform(rng, 0.2, 0.5)
    if rng.random() < 0.75:  # the gap of a missing yarn is dark; a loose floating yarn is bright
        gain, offset = _darken(strength)
        return DefectDraw(shape, gain, offset)
    gain, offset = _blend_to(strength, lambda ref: _brighter(ref, 1.5, 20.0))
    return DefectDraw(shape, gain, offset, texture_amp=0.2)


def _knot(rng: np.random.Generator, region: Box, scale: float, seed: int) -> DefectDraw:
    radius = _uniform(rng, 1.5, 4.0) * scale
    cx, cy = _centre(rng, region, radius + 12.0 * scale + 2)
    core = IrregularDisc(
        cx, cy, radius, _uniform(rng, 0.7, 1.4),
        tuple((float(rng.normal(0, 0.15)), float(rng.normal(0, 0.15))) for _ in range(2)),
        edge_px=1.0, fray_px=_uniform(rng, 0.5, 2.0) * scale, thread_xs=(), seed=seed,
    )  # fmt: skip
    tails = []
    for index in range(int(rng.integers(1, 3))):
        axis = int(rng.integers(0, 2))
        length = _uniform(rng, 3.0, 10.0) * scale
        along, across = (cy, cx) if axis == 0 else (cx, cy)
        start = along if rng.random() < 0.5 else along - length
        tails.append(
            WanderingLine(
                along_axis=axis,
                start=start,
                stop=start + length,
                centre=across,
                drift=0.0,
                wander_px=0.6,
                wander_period=8.0,
                half_width=_uniform(rng, 0.6, 1.0),
                taper_px=2.0,
                seed=seed + 10 + index,
            )
        )
    strength = _uniform(rng, 0.35, 0.75)
    if rng.random() < 0.6:
        gain, offset = _blend_to(strength, lambda ref: _brighter(ref, 1.45, 25.0))
    else:
        gain, offset = _blend_to(strength, lambda ref: 0.35 * ref)
    return DefectDraw(Union((core, *tails)), gain, offset, texture_amp=0.25)


def _slub(rng: np.random.Generator, region: Box, scale: float, seed: int) -> DefectDraw:
    axis = 0 if rng.random() < 0.6 else 1
    half_length = _uniform(rng, 8.0, 35.0) * scale
    half_width = _uniform(rng, 1.2, 3.2) * min(scale, 2.0)
    extent = (half_width + 2, half_length + 2) if axis == 0 else (half_length + 2, half_width + 2)
    x0, y0, x1, y1 = region
    cx = _uniform(rng, x0 + min(extent[0], (x1 - x0) / 2), x1 - min(extent[0], (x1 - x0) / 2))
    cy = _uniform(rng, y0 + min(extent[1], (y1 - y0) / 2), y1 - min(extent[1], (y1 - y0) / 2))
    along, across = (cy, cx) if axis == 0 else (cx, cy)
    shape = Spindle(axis, along, across, half_length, half_width, seed)
    gain, offset = _blend_to(_uniform(rng, 0.3, 0.7), lambda ref: _brighter(ref, 1.35, 15.0))
    return DefectDraw(shape, gain, offset, texture_amp=0.25)


def _thin_place(rng: np.random.Generator, region: Box, scale: float, seed: int) -> DefectDraw:
    x0, y0, x1, y1 = region
    length = (x1 - x0) * _uniform(rng, 0.3, 1.0)
    start = _uniform(rng, x0, x1 - length)
    half_height = _uniform(rng, 2.0, 6.0) * scale
    cy = _uniform(
        rng, y0 + min(half_height + 3, (y1 - y0) / 2), y1 - min(half_height + 3, (y1 - y0) / 2)
    )
    shape = Band(start, start + length, cy, half_height, _uniform(rng, 5, 30), _uniform(rng, 3, 7))
    shift = _uniform(rng, 0.08, 0.25) * (1 if rng.random() < 0.5 else -1)
    gain, offset = _blend_to(_uniform(rng, 0.3, 0.6), lambda ref: ref * (1.0 + shift))
    return DefectDraw(shape, gain, offset, texture_amp=0.25)


def _foreign_fibre(rng: np.random.Generator, region: Box, scale: float, seed: int) -> DefectDraw:
    length = _uniform(rng, 15.0, 70.0) * scale
    start = _centre(rng, region, length / 2.0 + 3)
    angle = _uniform(rng, 0.0, np.pi)
    end = (start[0] + length * np.cos(angle) / 2, start[1] + length * np.sin(angle) / 2)
    begin = (start[0] - length * np.cos(angle) / 2, start[1] - length * np.sin(angle) / 2)
    bend = float(rng.normal(0.0, 0.3 * length))
    middle = (start[0] - bend * np.sin(angle), start[1] + bend * np.cos(angle))
    shape = BezierFibre((begin, middle, end), half_width=_uniform(rng, 0.6, 1.3))
    dark = rng.random() < 0.6
    colour = rng.uniform(15, 60, 3) if dark else rng.uniform(0, 255, 3)
    strength = _uniform(rng, 0.5, 0.85)

    def level(ref: np.ndarray) -> np.ndarray:
        # A fibre close to the fabric's own shade would be invisible: push it away.
        shade = colour if len(ref) == 3 else np.full_like(ref, colour.mean())
        distance = float(np.mean(shade) - np.mean(ref))
        if abs(distance) < 60.0:
            push = 60.0 - abs(distance)
            shade = shade - push if distance < 0 or np.mean(ref) > 127 else shade + push
        return np.clip(shade, 0.0, 255.0)

    gain, offset = _blend_to(strength, level)
    return DefectDraw(shape, gain, offset)


SAMPLERS: dict[str, Callable[[np.random.Generator, Box, float, int], DefectDraw]] = {
    "hole": _hole,
    "stain": _stain,
    "oil_spot": _oil_spot,
    "broken_end": lambda rng, region, scale, seed: _line(rng, region, scale, seed, along_axis=0),
    "broken_pick": lambda rng, region, scale, seed: _line(rng, region, scale, seed, along_axis=1),
    "knot": _knot,
    "slub": _slub,
    "thin_place": _thin_place,
    "foreign_fibre": _foreign_fibre,
}
