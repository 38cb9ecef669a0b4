"""Fabric styles: weave, yarn spacing, colours and imperfections, plus named presets.

Image axes follow the line-scan camera: columns run across the web (the warp
yarns run along the roll, so a warp yarn is a vertical band), rows are camera
lines along the roll (a weft yarn, or pick, is a horizontal band).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from training.data.fabric.errors import FabricStyleError

Color = tuple[int, int, int]
"""An RGB yarn colour, 0-255 per channel; grey output uses its luminance."""

WEAVES = ("plain", "twill", "satin", "basket", "rib")


@dataclass(frozen=True)
class FabricStyle:
    """How a woven fabric looks to the camera (hashable, so rendering tables can be cached).

    Attributes:
        weave: One of :data:`WEAVES`.
        float_up: Twill: picks a warp passes over; satin: ``float_up + float_down`` is the
            repeat (warp-faced when ``float_up >= float_down``); basket: yarns per group;
            rib: picks a warp passes over together. Ignored by plain.
        float_down: Twill: picks a warp passes under; satin: see ``float_up``.
        warp_pitch_px: Distance between warp yarns across the web, pixels (>= 1.5).
        weft_pitch_px: Distance between picks along the roll, lines (>= 1.5).
        warp_colors: RGB colours of the warp yarns; several colours form stripes.
        weft_colors: RGB colours of the picks; several colours form bars (with warp
            stripes: a check).
        stripe_yarns: Yarns per colour stripe when there are several colours.
        yarn_contrast: Depth of the dark gaps at yarn edges, 0 (flat) to 1 (black gaps).
        yarn_cover: Fraction of the pitch a yarn covers (0.5-1).
        pitch_jitter: Random variation of yarn spacing, as a fraction of the pitch (0-0.6).
        yarn_irregularity: Relative brightness/thickness variation between and along
            yarns (0-0.5).
        irregularity_length_px: Correlation length of that variation along a yarn, pixels.
        float_shading: Darkening where a yarn dives under a crossing yarn (0-1).
        hairiness: Amount of loose surface fibres (0-1).
        noise: Pixel noise standard deviation, grey levels.
        illumination_unevenness: Relative brightness variation across the web and slow
            drift along the roll (0-0.5).
        blur_px: Optical softness (Gaussian sigma, pixels) of camera and lens (0-4).
    """

    weave: str = "plain"
    float_up: int = 2
    float_down: int = 1
    warp_pitch_px: float = 5.0
    weft_pitch_px: float = 3.6
    warp_colors: tuple[Color, ...] = ((130, 130, 130),)
    weft_colors: tuple[Color, ...] = ((120, 120, 120),)
    stripe_yarns: int = 12
    yarn_contrast: float = 0.5
    yarn_cover: float = 0.9
    pitch_jitter: float = 0.08
    yarn_irregularity: float = 0.06
    irregularity_length_px: float = 40.0
    float_shading: float = 0.35
    hairiness: float = 0.3
    noise: float = 4.0
    illumination_unevenness: float = 0.05
    blur_px: float = 0.7

    def __post_init__(self) -> None:
        # Lists (from YAML or JSON) become tuples, so the style stays hashable.
        for name in ("warp_colors", "weft_colors"):
            value = getattr(self, name)
            if isinstance(value, list | tuple) and all(isinstance(c, list | tuple) for c in value):
                object.__setattr__(self, name, tuple(tuple(c) for c in value))
        problems = _style_problems(self)
        if problems:
            raise FabricStyleError(
                "invalid fabric style: " + "; ".join(problems),
                hint="fix the named field(s); see FabricStyle's docstring for the ranges",
            )

    def weave_pattern(self) -> np.ndarray:
        """The weave repeat: bool [picks R, warp ends C], True where the warp is on top."""
        return weave_pattern(self.weave, float_up=self.float_up, float_down=self.float_down)


def _in_range(value: float, low: float, high: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and low <= value <= high


def _style_problems(style: FabricStyle) -> list[str]:
    problems = []
    if style.weave not in WEAVES:
        problems.append(f"weave {style.weave!r} is not one of {', '.join(WEAVES)}")
    for name in ("float_up", "float_down"):
        value = getattr(style, name)
        if not isinstance(value, int) or not 1 <= value <= 8:
            problems.append(f"{name} must be an integer from 1 to 8 (got {value!r})")
    if style.weave == "satin" and not problems:
        repeat = style.float_up + style.float_down
        if _satin_step(repeat) is None:
            problems.append(f"satin needs float_up + float_down of 5 or 7..16 (got {repeat})")
    ranges = {
        "warp_pitch_px": (1.5, 64.0),
        "weft_pitch_px": (1.5, 64.0),
        "yarn_contrast": (0.0, 1.0),
        "yarn_cover": (0.5, 1.0),
        "pitch_jitter": (0.0, 0.6),
        "yarn_irregularity": (0.0, 0.5),
        "irregularity_length_px": (2.0, 10_000.0),
        "float_shading": (0.0, 1.0),
        "hairiness": (0.0, 1.0),
        "noise": (0.0, 64.0),
        "illumination_unevenness": (0.0, 0.5),
        "blur_px": (0.0, 4.0),
    }
    for name, (low, high) in ranges.items():
        value = getattr(style, name)
        if not _in_range(value, low, high):
            problems.append(f"{name} must be a number from {low} to {high} (got {value!r})")
    for name in ("warp_colors", "weft_colors"):
        colors = getattr(style, name)
        if not isinstance(colors, tuple) or not colors or not all(_is_color(c) for c in colors):
            problems.append(f"{name} must be a non-empty tuple of (r, g, b) ints 0-255")
    if not isinstance(style.stripe_yarns, int) or style.stripe_yarns < 1:
        problems.append(f"stripe_yarns must be a positive integer (got {style.stripe_yarns!r})")
    return problems


def _is_color(color: object) -> bool:
    return (
        isinstance(color, tuple)
        and len(color) == 3
        and all(isinstance(v, int) and 0 <= v <= 255 for v in color)
    )


def _satin_step(repeat: int) -> int | None:
    """The move number of a regular satin (no two adjacent interlacings), or None."""
    for step in range(2, repeat - 1):
        if math.gcd(step, repeat) == 1:
            return step
    return None


def weave_pattern(weave: str, *, float_up: int = 2, float_down: int = 1) -> np.ndarray:
    """Weave repeat as bool [picks R, warp ends C]; True where the warp lies on top.

    Raises:
        FabricStyleError: unknown weave or a satin repeat without a regular move number.
    """
    if weave == "plain":
        rows, cols = np.indices((2, 2))
        return (rows + cols) % 2 == 0
    if weave == "twill":
        repeat = float_up + float_down
        rows, cols = np.indices((repeat, repeat))
        # Each pick shifts the floats one end to the right: a diagonal running down-right.
        return (cols - rows) % repeat < float_up
    if weave == "satin":
        repeat = float_up + float_down
        step = _satin_step(repeat)
        if step is None:
            raise FabricStyleError(
                f"no regular satin with a repeat of {repeat}",
                hint="use float_up + float_down of 5 or 7 to 16",
            )
        rows, cols = np.indices((repeat, repeat))
        binding = (cols - step * rows) % repeat == 0
        return ~binding if float_up >= float_down else binding
    if weave == "basket":
        group = float_up
        rows, cols = np.indices((2 * group, 2 * group))
        return (rows // group + cols // group) % 2 == 0
    if weave == "rib":
        group = float_up
        rows, cols = np.indices((2 * group, 2))
        return (rows // group + cols) % 2 == 0
    raise FabricStyleError(f"unknown weave {weave!r}", hint=f"use one of {', '.join(WEAVES)}")


def _grey(level: int) -> Color:
    return (level, level, level)


FABRIC_PRESETS: dict[str, FabricStyle] = {
    # Four grey fabrics in the spirit of the AITEX rolls (line-scan, grey 8-bit).
    "grey_twill": FabricStyle(
        weave="twill", float_up=2, float_down=1, warp_pitch_px=1.75, weft_pitch_px=2.37,
        warp_colors=(_grey(144),), weft_colors=(_grey(116),), yarn_contrast=0.35,
        yarn_irregularity=0.08, hairiness=0.6, noise=9.0, float_shading=0.3, blur_px=0.6,
    ),
    "fine_twill": FabricStyle(
        weave="twill", float_up=2, float_down=1, warp_pitch_px=1.74, weft_pitch_px=2.37,
        warp_colors=(_grey(184),), weft_colors=(_grey(100),), yarn_contrast=0.45,
        yarn_irregularity=0.06, hairiness=0.35, noise=7.0, blur_px=0.6,
    ),
    "dark_plain": FabricStyle(
        weave="plain", warp_pitch_px=4.75, weft_pitch_px=3.55, warp_colors=(_grey(172),),
        weft_colors=(_grey(70),), yarn_contrast=0.6, yarn_cover=0.85, float_shading=0.5,
        yarn_irregularity=0.05, hairiness=0.2, noise=6.0,
    ),
    "charcoal_plain": FabricStyle(
        weave="plain", warp_pitch_px=4.7, weft_pitch_px=3.65, warp_colors=(_grey(126),),
        weft_colors=(_grey(76),), yarn_contrast=0.45, yarn_cover=0.92, float_shading=0.4,
        yarn_irregularity=0.07, hairiness=0.3, noise=5.0, illumination_unevenness=0.08,
    ),
    # Coloured fabrics for RGB cameras and for variety in the multi-class model.
    "denim": FabricStyle(
        weave="twill", float_up=3, float_down=1, warp_pitch_px=3.6, weft_pitch_px=3.0,
        warp_colors=((52, 74, 128),), weft_colors=((205, 200, 188),), yarn_contrast=0.5,
        yarn_irregularity=0.15, irregularity_length_px=25.0, hairiness=0.5, noise=5.0,
    ),
    "white_satin": FabricStyle(
        weave="satin", float_up=4, float_down=1, warp_pitch_px=2.6, weft_pitch_px=4.0,
        warp_colors=(_grey(222),), weft_colors=(_grey(190),), yarn_contrast=0.3,
        yarn_cover=0.97, float_shading=0.45, yarn_irregularity=0.04, hairiness=0.1, noise=3.0,
    ),
    "beige_basket": FabricStyle(
        weave="basket", float_up=2, warp_pitch_px=4.2, weft_pitch_px=4.2,
        warp_colors=((196, 176, 140),), weft_colors=((186, 164, 128),), yarn_contrast=0.5,
        yarn_irregularity=0.1, hairiness=0.5, noise=4.0,
    ),
    "navy_rib": FabricStyle(
        weave="rib", float_up=2, warp_pitch_px=3.0, weft_pitch_px=5.5,
        warp_colors=((40, 48, 86),), weft_colors=((30, 36, 66),), yarn_contrast=0.6,
        yarn_irregularity=0.06, hairiness=0.2, noise=3.0,
    ),
    "gingham": FabricStyle(
        weave="plain", warp_pitch_px=4.0, weft_pitch_px=4.0, stripe_yarns=10,
        warp_colors=((200, 40, 48), (235, 232, 226)), weft_colors=((200, 40, 48), (235, 232, 226)),
        yarn_contrast=0.45, yarn_irregularity=0.05, hairiness=0.3, noise=4.0,
    ),
}  # fmt: skip

GREY_PRESETS = ("grey_twill", "fine_twill", "dark_plain", "charcoal_plain")
"""Four distinct grey fabrics: the default classes of the demo data set."""


def preset(name: str) -> FabricStyle:
    """The named preset.

    Raises:
        FabricStyleError: no preset has that name.
    """
    if name not in FABRIC_PRESETS:
        raise FabricStyleError(
            f"unknown fabric preset {name!r}",
            hint=f"use one of {', '.join(FABRIC_PRESETS)}",
        )
    return FABRIC_PRESETS[name]


def random_style(rng: np.random.Generator, *, grey: bool = False) -> FabricStyle:
    """A random but plausible fabric style.

    Args:
        rng: Source of randomness (the style is a pure function of its state).
        grey: Draw grey yarns only.
    """
    weave = str(rng.choice(WEAVES))
    float_up, float_down = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    if weave == "satin":
        float_up, float_down = (4, 1) if rng.random() < 0.7 else (1, 4)
    base = rng.uniform(50, 215)
    if grey:
        warp = _grey(int(np.clip(base + rng.uniform(-20, 25), 0, 255)))
        weft = _grey(int(np.clip(base + rng.uniform(-25, 20), 0, 255)))
    else:
        hue = rng.uniform(0.25, 1.0, size=3)
        warp = tuple(int(np.clip(base * 1.3 * h, 0, 255)) for h in hue)
        weft = tuple(int(np.clip(v * rng.uniform(0.75, 1.15), 0, 255)) for v in warp)
    return FabricStyle(
        weave=weave,
        float_up=float_up,
        float_down=float_down,
        warp_pitch_px=float(rng.uniform(2.5, 7.0)),
        weft_pitch_px=float(rng.uniform(2.5, 7.0)),
        warp_colors=(warp,),  # type: ignore[arg-type]
        weft_colors=(weft,),  # type: ignore[arg-type]
        yarn_contrast=float(rng.uniform(0.3, 0.8)),
        yarn_cover=float(rng.uniform(0.8, 1.0)),
        pitch_jitter=float(rng.uniform(0.0, 0.15)),
        yarn_irregularity=float(rng.uniform(0.02, 0.12)),
        irregularity_length_px=float(rng.uniform(15, 80)),
        float_shading=float(rng.uniform(0.2, 0.5)),
        hairiness=float(rng.uniform(0.0, 0.7)),
        noise=float(rng.uniform(2.0, 8.0)),
        illumination_unevenness=float(rng.uniform(0.0, 0.1)),
        blur_px=float(rng.uniform(0.4, 1.2)),
    )


def style_field_names() -> tuple[str, ...]:
    """Names of the style's fields, in declaration order (for manifests and CLI help)."""
    return tuple(f.name for f in fields(FabricStyle))
