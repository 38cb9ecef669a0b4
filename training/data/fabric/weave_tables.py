"""Per-fabric tables: everything about a fabric that depends on the column only.

Warp yarn positions, profiles and colours, which yarn lies on top for each pick
of the weave repeat, float-end shading, optical blur and the illumination
across the web are folded into two ``[phases, width]`` tables per (style,
width, seed), plus a noise texture. :mod:`weave` gathers rows of them per line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from training.data.fabric.hashing import hash_u64, hash_uniform, value_noise_1d
from training.data.fabric.style import FabricStyle

PHASE_BINS = 16  # positions inside one pick that get their own table row
_ACROSS_SUBSAMPLES = 4  # sub-pixel samples across the web (anti-aliasing of thin yarns)
_ALONG_SUBSAMPLES = 5  # samples over one line's extent for the pick profile
NOISE_ROWS = 256  # lines of the precomputed noise texture
NOISE_PAD_PX = 509  # random horizontal offsets of that texture, per 256 lines
_CAMERA_WIDTH_PX = 4096.0  # vignetting is scaled to a full line-scan camera width
DRIFT_PERIOD_LINES = 3000.0  # slow illumination drift along the roll
_EDGE_FRACTION = 0.4  # part of a yarn that darkens where it dives under
_LUMA = np.array([0.299, 0.587, 0.114])

# Sub-seed tags: each random quantity has its own hash stream.
TAG_WARP, TAG_WEFT, TAG_WARP_IRR, TAG_WEFT_IRR = 1, 2, 3, 4
TAG_ILLUM_X, TAG_ILLUM_Y, TAG_NOISE, TAG_NOISE_OFFSET = 5, 6, 7, 8


def sub_seed(seed: int, tag: int) -> int:
    """An independent seed for one random quantity, derived from the fabric seed."""
    return int(hash_u64(seed, tag)[0])


def _yarn_starts(seed: int, indices: np.ndarray, pitch: float, jitter: float) -> np.ndarray:
    """Start coordinate of each yarn: regular pitch plus a bounded random shift."""
    return indices * pitch + pitch * jitter * (hash_uniform(seed, indices) - 0.5)


def locate_yarns(
    seed: int, positions: np.ndarray, *, pitch: float, jitter: float
) -> tuple[np.ndarray, np.ndarray]:
    """Yarn index and position inside that yarn (0-1) for each coordinate.

    Args:
        seed: Seed of this yarn system (warp or weft).
        positions: float64 coordinates (pixel centres), any shape.
        pitch: Mean yarn spacing.
        jitter: Spacing variation as a fraction of the pitch (< 1, so a shift is < pitch/2).

    Returns:
        (int64 yarn index, float64 fraction in [0, 1)), both shaped like ``positions``.
    """
    guess = np.floor(positions / pitch).astype(np.int64)
    index = (
        guess
        - (positions < _yarn_starts(seed, guess, pitch, jitter))
        + (positions >= _yarn_starts(seed, guess + 1, pitch, jitter))
    )
    start = _yarn_starts(seed, index, pitch, jitter)
    end = _yarn_starts(seed, index + 1, pitch, jitter)
    return index, (positions - start) / (end - start)


def _yarn_profile(fraction: np.ndarray, cover: np.ndarray | float, contrast: float) -> np.ndarray:
    """Brightness across a round yarn: 1 at its crown, 1 - contrast in the gaps."""
    offset = (2.0 * fraction - 1.0) / cover
    crown = np.sqrt(np.clip(1.0 - offset * offset, 0.0, 1.0))
    return (1.0 - contrast) + contrast * crown


def _edge_ramp(distance_fraction: np.ndarray) -> np.ndarray:
    """1 at a yarn's end, falling to 0 at _EDGE_FRACTION inside it."""
    ramp = np.clip(1.0 - distance_fraction / _EDGE_FRACTION, 0.0, 1.0)
    return ramp * ramp


def yarn_colors(colors: tuple, indices: np.ndarray, stripe_yarns: int, channels: int) -> np.ndarray:
    """Colour of each yarn, [..., channels] float64 (grey = luminance of the RGB colour)."""
    palette = np.asarray(colors, dtype=np.float64)
    if channels == 1:
        palette = (palette @ _LUMA)[:, None]
    return palette[(indices // stripe_yarns) % len(palette)]


@dataclass(frozen=True)
class AcrossTables:
    """Everything about a fabric that depends only on the column (see module docstring).

    Attributes:
        warp_term: float32 [C, R * PHASE_BINS, W], one plane per output channel.
        weft_term: float32 [R * PHASE_BINS, W] (no colour: picks carry it).
        warp_index: int64 [W], warp yarn under each pixel centre minus ``first_yarn``.
        first_yarn: Index of the leftmost warp yarn.
        n_yarns: Number of warp yarns across the width.
        repeat_picks: R, the weave repeat along the roll.
    """

    warp_term: np.ndarray
    weft_term: np.ndarray
    warp_index: np.ndarray
    first_yarn: int
    n_yarns: int
    repeat_picks: int


@lru_cache(maxsize=16)
def across_tables(style: FabricStyle, width_px: int, seed: int, channels: int) -> AcrossTables:
    """Precompute the per-column tables of one fabric (cached; a few ms for 4096 px)."""
    pattern = style.weave_pattern()
    repeat_picks, repeat_ends = pattern.shape
    warp_seed = sub_seed(seed, TAG_WARP)
    subsample = (np.arange(_ACROSS_SUBSAMPLES) + 0.5) / _ACROSS_SUBSAMPLES
    xs = (np.arange(width_px)[:, None] + subsample[None, :]).ravel()
    yarn, fx = locate_yarns(warp_seed, xs, pitch=style.warp_pitch_px, jitter=style.pitch_jitter)
    # Per-yarn thickness and shade: streaks along the roll, as real warps show.
    cover = style.yarn_cover * (1.0 - 0.5 * style.yarn_irregularity * hash_uniform(warp_seed, yarn))
    shade = 1.0 + style.yarn_irregularity * (hash_uniform(warp_seed + 1, yarn) - 0.5)
    color = yarn_colors(style.warp_colors, yarn, style.stripe_yarns, channels)
    warp_brightness = (_yarn_profile(fx, cover, style.yarn_contrast) * shade)[:, None] * color
    edge_left, edge_right = _edge_ramp(fx), _edge_ramp(1.0 - fx)

    def up(pick_offset: int, end_offset: int, row: int) -> np.ndarray:
        return pattern[(row + pick_offset) % repeat_picks, (yarn + end_offset) % repeat_ends]

    def mean_over_subsamples(values: np.ndarray) -> np.ndarray:
        return values.reshape(width_px, _ACROSS_SUBSAMPLES, *values.shape[1:]).mean(axis=1)

    warp_top, warp_top_edge, warp_bottom_edge, weft_top = [], [], [], []
    for row in range(repeat_picks):
        here = up(0, 0, row)
        warp_top.append(mean_over_subsamples(here[:, None] * warp_brightness))
        # Top/bottom of a float: the warp dives under the neighbouring pick there.
        dives_above = (here & ~up(-1, 0, row))[:, None]
        dives_below = (here & ~up(1, 0, row))[:, None]
        warp_top_edge.append(mean_over_subsamples(dives_above * warp_brightness))
        warp_bottom_edge.append(mean_over_subsamples(dives_below * warp_brightness))
        # A pick dives under a warp that lies on top beside it.
        dive = edge_left * up(0, -1, row) + edge_right * up(0, 1, row)
        weft_top.append(mean_over_subsamples(~here * (1.0 - style.float_shading * dive)))

    along = (np.arange(PHASE_BINS)[:, None] + 0.5) / PHASE_BINS
    spread = (np.arange(_ALONG_SUBSAMPLES) / (_ALONG_SUBSAMPLES - 1) - 0.5) / style.weft_pitch_px
    fy = np.clip(along + spread[None, :], 0.0, 1.0)
    pick_profile = _yarn_profile(fy, style.yarn_cover, style.yarn_contrast).mean(axis=1)
    top_ramp = _edge_ramp(fy).mean(axis=1)
    bottom_ramp = _edge_ramp(1.0 - fy).mean(axis=1)

    columns = np.arange(width_px) + 0.5
    vignetting = ((columns - width_px / 2.0) / (_CAMERA_WIDTH_PX / 2.0)) ** 2
    wander = value_noise_1d(sub_seed(seed, TAG_ILLUM_X), columns, period=700.0)
    illumination = 1.0 + style.illumination_unevenness * (0.6 * wander - 0.8 * vignetting)

    shading = style.float_shading
    warp_rows, weft_rows = [], []
    for row in range(repeat_picks):
        for k in range(PHASE_BINS):
            warp = warp_top[row] - shading * (
                top_ramp[k] * warp_top_edge[row] + bottom_ramp[k] * warp_bottom_edge[row]
            )
            warp_rows.append(warp * illumination[:, None])
            weft_rows.append(weft_top[row] * pick_profile[k] * illumination)
    # The table rows are one weave repeat sampled every weft_pitch / PHASE_BINS lines, so a
    # cyclic blur along them is the optics' blur along the roll (across pick boundaries too).
    rows_per_line = PHASE_BINS / style.weft_pitch_px
    warp_term = _gaussian_blur(np.stack(warp_rows), sigma=style.blur_px * rows_per_line, axis=0)
    warp_term = _gaussian_blur(warp_term, sigma=style.blur_px, axis=1).astype(np.float32)
    warp_term = np.ascontiguousarray(np.moveaxis(warp_term, -1, 0))  # channel planes
    weft_term = _gaussian_blur(np.stack(weft_rows), sigma=style.blur_px * rows_per_line, axis=0)
    weft_term = _gaussian_blur(weft_term, sigma=style.blur_px, axis=1).astype(np.float32)

    centre_yarn, _ = locate_yarns(
        warp_seed, columns, pitch=style.warp_pitch_px, jitter=style.pitch_jitter
    )
    first_yarn = int(centre_yarn.min())
    return AcrossTables(
        warp_term=warp_term,
        weft_term=weft_term,
        warp_index=centre_yarn - first_yarn,
        first_yarn=first_yarn,
        n_yarns=int(centre_yarn.max()) - first_yarn + 1,
        repeat_picks=repeat_picks,
    )


@lru_cache(maxsize=16)
def noise_texture(width_px: int, seed: int, noise: float, hairiness: float) -> np.ndarray:
    """Pixel noise and loose fibres, float32 [256, width + 509], with the +0.5 for rounding.

    Built once per fabric from its seed; blocks read 256-line windows of it at a
    hashed horizontal offset, so it never visibly repeats.
    """
    rng = np.random.default_rng(sub_seed(seed, TAG_NOISE))
    shape = (NOISE_ROWS, width_px + NOISE_PAD_PX)
    # Fine grain plus a softer fuzz (fibre clouds) at a few pixels' scale.
    grain = _soften(rng.standard_normal(shape))
    fuzz = _blur_wrapped(rng.standard_normal(shape), 2.5)
    grain = grain / max(float(grain.std()), 1e-9) + 0.7 * fuzz / max(float(fuzz.std()), 1e-9)
    grain *= noise / max(float(grain.std()), 1e-9)
    hairs = np.zeros(shape)
    count = int(hairiness * shape[0] * shape[1] / 150)
    if count:
        # Loose fibres lie mostly along the warp or the weft, a few at random angles.
        angle = rng.choice([np.pi / 2, 0.0, np.nan], size=count, p=[0.5, 0.35, 0.15])
        angle = np.where(np.isnan(angle), rng.uniform(0, np.pi, count), angle)
        angle += rng.normal(0.0, 0.25, count)
        length = rng.uniform(3.0, 12.0, count)
        strength = (8.0 + 22.0 * hairiness) * rng.uniform(0.3, 1.0, count)
        t = np.linspace(0.0, 1.0, 24)
        start_y = rng.uniform(0, shape[0], count)
        start_x = rng.uniform(0, shape[1], count)
        ys = (start_y[:, None] + np.sin(angle)[:, None] * length[:, None] * t).astype(int)
        xs = (start_x[:, None] + np.cos(angle)[:, None] * length[:, None] * t).astype(int)
        weight = strength[:, None] * np.sin(np.pi * t) / 6.0
        np.add.at(hairs, (ys % shape[0], xs % shape[1]), weight)
    return (grain + _soften(hairs) + 0.5).astype(np.float32)


def _gaussian_kernel(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and normalised weights of a Gaussian kernel cut at 3 sigma."""
    radius = max(1, int(np.ceil(3.0 * sigma)))
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    return offsets, weights / weights.sum()


def _gaussian_blur(values: np.ndarray, *, sigma: float, axis: int) -> np.ndarray:
    """Gaussian blur along one axis; cyclic along axis 0 (a weave repeat), clamped otherwise."""
    if sigma < 0.05:
        return values
    offsets, weights = _gaussian_kernel(sigma)
    length = values.shape[axis]
    blurred = np.zeros(values.shape, dtype=np.float64)
    for offset, weight in zip(offsets, weights, strict=True):
        source = np.arange(length) + offset
        source = source % length if axis == 0 else np.clip(source, 0, length - 1)
        blurred += weight * np.take(values, source, axis=axis)
    return blurred


def _blur_wrapped(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with wrap-around on both axes (for the noise texture)."""
    offsets, weights = _gaussian_kernel(sigma)
    for axis in (0, 1):
        image = sum(w * np.roll(image, int(o), axis) for o, w in zip(offsets, weights, strict=True))
    return image


def _soften(image: np.ndarray) -> np.ndarray:
    """[1, 2, 1] / 4 blur along both axes with wrap-around (camera optics)."""
    image = (np.roll(image, 1, 0) + 2.0 * image + np.roll(image, -1, 0)) / 4.0
    return (np.roll(image, 1, 1) + 2.0 * image + np.roll(image, -1, 1)) / 4.0
