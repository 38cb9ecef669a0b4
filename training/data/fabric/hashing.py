"""Counter-based random numbers: pure functions of (seed, integer coordinates).

The fabric is rendered block by block along an endless roll, so every random
quantity (yarn thickness, pixel noise, defect fibres) must be a function of its
absolute coordinates, never of the order in which blocks are asked for. A
splitmix64 hash of the coordinates gives that. Only +, *, floor and bit
operations are used on per-line data, so a value never depends on where it sits
in an array (no vectorised transcendental functions whose last lanes may round
differently).
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_UINT64_MASK = (1 << 64) - 1
_TO_UNIT = 2.0**-53


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrap-around arithmetic, no warnings)."""
    values = (values ^ (values >> np.uint64(30))) * _MIX_1
    values = (values ^ (values >> np.uint64(27))) * _MIX_2
    return values ^ (values >> np.uint64(31))


def hash_u64(seed: int, *keys: np.ndarray | int) -> np.ndarray:
    """Hash integer coordinates to uint64; keys broadcast against each other.

    Args:
        seed: Any Python int (negative and large values are folded to 64 bits).
        *keys: Integer arrays or ints, e.g. ``ys[:, None], xs[None, :]``.

    Returns:
        uint64 array with the broadcast shape of the keys (at least 1-D).
    """
    state = _mix(np.array([seed & _UINT64_MASK], dtype=np.uint64) + _GOLDEN)
    for key in keys:
        key_array = np.atleast_1d(np.asarray(key)).astype(np.int64).view(np.uint64)
        state = _mix((state ^ key_array) * _GOLDEN + _GOLDEN)
    return state


def hash_uniform(seed: int, *keys: np.ndarray | int) -> np.ndarray:
    """Uniform floats in [0, 1) (float64), a pure function of seed and keys."""
    return (hash_u64(seed, *keys) >> np.uint64(11)).astype(np.float64) * _TO_UNIT


def smoothstep(fraction: np.ndarray) -> np.ndarray:
    """3f^2 - 2f^3: a C1-smooth ramp from 0 to 1 on [0, 1]."""
    return fraction * fraction * (3.0 - 2.0 * fraction)


def value_noise_1d(seed: int, positions: np.ndarray, *, period: float) -> np.ndarray:
    """Smooth 1-D noise in [-1, 1]: random knots every ``period`` units, smoothstep between.

    Args:
        seed: Noise identity.
        positions: float or int array of coordinates (any shape).
        period: Distance between knots (the correlation length).

    Returns:
        float64 array of the same shape as ``positions``.
    """
    scaled = np.asarray(positions, dtype=np.float64) / period
    knot = np.floor(scaled)
    weight = smoothstep(scaled - knot)
    knot = knot.astype(np.int64)
    left = 2.0 * hash_uniform(seed, knot) - 1.0
    right = 2.0 * hash_uniform(seed, knot + 1) - 1.0
    return (left + (right - left) * weight).reshape(np.shape(positions))


def value_noise_rows(
    seed: int,
    row_ids: np.ndarray,
    positions: np.ndarray,
    *,
    period: float,
    positions_first: bool = False,
) -> np.ndarray:
    """Independent smooth 1-D noise per row, float32 in [-1, 1].

    Used for yarn irregularity: row = yarn index, position = coordinate along it.
    Knots are hashed once per (row, knot); interpolation runs in float32.

    Returns:
        [len(row_ids), len(positions)], or the transpose when ``positions_first``
        (built directly in that layout, without a transposing copy).
    """
    scaled = np.asarray(positions, dtype=np.float64) / period
    knot = np.floor(scaled).astype(np.int64)
    weight = smoothstep(scaled - knot).astype(np.float32)
    first, last = int(knot.min()), int(knot.max()) + 1
    knots = np.arange(first, last + 1, dtype=np.int64)
    grid = (2.0 * hash_uniform(seed, knots[:, None], np.asarray(row_ids)[None, :]) - 1.0).astype(
        np.float32
    )  # [knots, rows]
    if positions_first:
        left = grid[knot - first]
        left += (grid[knot - first + 1] - left) * weight[:, None]
        return left
    grid = np.ascontiguousarray(grid.T)
    left = grid[:, knot - first]
    left += (grid[:, knot - first + 1] - left) * weight[None, :]
    return left
