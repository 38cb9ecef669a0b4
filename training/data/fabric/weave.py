"""Rendering woven fabric as a line-scan camera sees it, block by block along the roll.

The image is the sum of two layers, chosen per pixel by the weave:

    pixel = warp_term[phase(y), x] * warp_irregularity[y, yarn(x)]
          + weft_term[phase(y), x] * weft_field[pick(y), x] + noise[y, x]

``phase`` is (pick index mod weave repeat, position inside the pick in 16 bins).
Everything that depends on x only (warp yarn positions, profiles, colours, which
yarn is on top for each pick of the repeat, float-end shading, illumination
across the web) is precomputed once per (style, width, seed) into the two
``[phases, width]`` tables of :mod:`weave_tables`, so a block costs a handful
of whole-image numpy operations per channel (row gathers, two multiplies, two
adds, the clip and the cast): about 8-15 ms for 4096 x 256 grey on one core.

Every random quantity is a hash of absolute coordinates (pick index, yarn
index, line), so rendering lines [a, b) then [b, c) gives exactly the pixels
of [a, c).
"""

from __future__ import annotations

import numpy as np

from training.data.fabric.errors import FabricRenderError
from training.data.fabric.hashing import (
    hash_u64,
    hash_uniform,
    value_noise_1d,
    value_noise_rows,
)
from training.data.fabric.style import FabricStyle
from training.data.fabric.weave_tables import (
    DRIFT_PERIOD_LINES,
    NOISE_PAD_PX,
    NOISE_ROWS,
    PHASE_BINS,
    TAG_ILLUM_Y,
    TAG_NOISE_OFFSET,
    TAG_WARP_IRR,
    TAG_WEFT,
    TAG_WEFT_IRR,
    across_tables,
    locate_yarns,
    noise_texture,
    sub_seed,
    yarn_colors,
)


def check_block_request(*, height_px: int, width_px: int, first_line: int, channels: int) -> None:
    """Raise FabricRenderError for a size, position or channel count we cannot render."""
    problems = []
    for name, value, low in (("height_px", height_px, 1), ("width_px", width_px, 1)):
        if not isinstance(value, int | np.integer) or value < low:
            problems.append(f"{name} must be a positive integer (got {value!r})")
    if not isinstance(first_line, int | np.integer) or first_line < 0:
        problems.append(f"first_line must be an integer >= 0 (got {first_line!r})")
    if channels not in (1, 3):
        problems.append(f"channels must be 1 (grey) or 3 (RGB) (got {channels!r})")
    if problems:
        raise FabricRenderError(
            "cannot render fabric: " + "; ".join(problems),
            hint="pass positive integer sizes, first_line >= 0 and channels 1 or 3",
        )


def render_fabric(
    style: FabricStyle,
    *,
    height_px: int,
    width_px: int,
    first_line: int = 0,
    seed: int,
    channels: int = 1,
) -> np.ndarray:
    """Render lines [first_line, first_line + height_px) of an endless fabric roll.

    Deterministic in (style, width_px, seed): any split of a line range into
    blocks gives exactly the pixels of the whole range.

    Args:
        style: How the fabric looks.
        height_px: Number of camera lines (rows).
        width_px: Pixels across the web (columns).
        first_line: Absolute line index of the first row along the roll.
        seed: Identity of this piece of fabric.
        channels: 1 for grey [H, W], 3 for RGB [H, W, 3].

    Returns:
        uint8 [height_px, width_px] or [height_px, width_px, 3].

    Raises:
        FabricRenderError: non-positive size, negative first line or bad channel count.
    """
    check_block_request(
        height_px=height_px, width_px=width_px, first_line=first_line, channels=channels
    )
    height_px, width_px, first_line = int(height_px), int(width_px), int(first_line)
    tables = across_tables(style, width_px, seed, channels)
    lines = np.arange(first_line, first_line + height_px, dtype=np.int64)
    centres = lines + 0.5
    pick, fy = locate_yarns(
        sub_seed(seed, TAG_WEFT), centres, pitch=style.weft_pitch_px, jitter=style.pitch_jitter
    )
    phase_bin = np.minimum((fy * PHASE_BINS).astype(np.int64), PHASE_BINS - 1)
    phase = (pick % tables.repeat_picks) * PHASE_BINS + phase_bin

    drift = 1.0 + 0.5 * style.illumination_unevenness * value_noise_1d(
        sub_seed(seed, TAG_ILLUM_Y), centres, period=DRIFT_PERIOD_LINES
    )
    warp_yarns = np.arange(tables.first_yarn, tables.first_yarn + tables.n_yarns)
    warp_gain = value_noise_rows(
        sub_seed(seed, TAG_WARP_IRR),
        warp_yarns,
        centres,
        period=style.irregularity_length_px,
        positions_first=True,
    )  # fmt: skip  [H, yarns]
    warp_gain *= np.float32(style.yarn_irregularity)
    warp_gain += np.float32(1.0)
    warp_gain *= drift[:, None].astype(np.float32)
    warp_gain = np.take(warp_gain, tables.warp_index, axis=1)  # [H, W]

    picks = np.arange(int(pick.min()), int(pick.max()) + 1)
    pick_drift = 1.0 + 0.5 * style.illumination_unevenness * value_noise_1d(
        sub_seed(seed, TAG_ILLUM_Y), (picks + 0.5) * style.weft_pitch_px,
        period=DRIFT_PERIOD_LINES,
    )  # fmt: skip
    weft_field = _weft_field(style, seed, picks, width_px, channels)  # [C, P, W]
    weft_field *= pick_drift[None, :, None].astype(np.float32)
    pick_row = pick - picks[0]

    weft = tables.weft_term[phase]  # [H, W], shared by the channels
    noise = _noise_rows(style, lines, width_px, seed)
    # Channel by channel on contiguous planes: broadcasting over a trailing axis of 3 is slow.
    image = np.empty((height_px, width_px, channels), dtype=np.uint8)
    for channel in range(channels):
        plane = tables.warp_term[channel][phase]
        plane *= warp_gain
        weft_part = weft_field[channel][pick_row]
        weft_part *= weft
        plane += weft_part
        plane += noise
        np.clip(plane, 0.0, 255.0, out=plane)
        image[..., channel] = plane  # truncation; the noise texture carries the +0.5
    return image[..., 0] if channels == 1 else image


def _weft_field(
    style: FabricStyle, seed: int, picks: np.ndarray, width_px: int, channels: int
) -> np.ndarray:
    """Colour x irregularity of each pick along its length: float32 [C, P, W]."""
    weft_seed = sub_seed(seed, TAG_WEFT_IRR)
    along = value_noise_rows(
        weft_seed, picks, np.arange(width_px) + 0.5, period=style.irregularity_length_px
    )
    shade = style.yarn_irregularity * (hash_uniform(weft_seed + 1, picks) - 0.5)
    gain = along * np.float32(style.yarn_irregularity)
    gain += (1.0 + shade[:, None]).astype(np.float32)
    color = yarn_colors(style.weft_colors, picks, style.stripe_yarns, channels)  # [P, C]
    return gain[None, :, :] * color.T[:, :, None].astype(np.float32)


def _noise_rows(style: FabricStyle, lines: np.ndarray, width_px: int, seed: int) -> np.ndarray:
    """Noise for the given lines, float32 [H, W]: 256-line windows at a hashed column offset."""
    texture = noise_texture(width_px, seed, float(style.noise), float(style.hairiness))
    offsets = hash_u64(sub_seed(seed, TAG_NOISE_OFFSET), lines // NOISE_ROWS) % np.uint64(
        NOISE_PAD_PX
    )
    noise = np.empty((len(lines), width_px), dtype=np.float32)
    start = 0
    while start < len(lines):
        row0 = int(lines[start] % NOISE_ROWS)
        stop = min(start + NOISE_ROWS - row0, len(lines))
        col0 = int(offsets[start])
        noise[start:stop] = texture[row0 : row0 + stop - start, col0 : col0 + width_px]
        start = stop
    return noise
