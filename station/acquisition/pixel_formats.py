"""Convert camera pixel formats (GenICam PFNC names) to the grey or RGB uint8 the model takes.

Input is what a driver hands over for one frame: either the raw bytes as they
came off the wire (uint8), or the values already unpacked into 16-bit
containers (uint16; harvesters does this for 10/12/16-bit and packed formats).
Output is always a new array that owns its memory: uint8 [h, w] (grey) or
uint8 [h, w, 3] (RGB).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from station.acquisition.errors import FrameFormatError, UnsupportedPixelFormatError

Layout = Literal["mono", "rgb", "bgr", "rgba", "bgra", "bayer"]
Packing = Literal["none", "lsb_packed", "gige_packed"]


@dataclass(frozen=True)
class PixelFormatSpec:
    """How one pixel format is laid out.

    Attributes:
        name: GenICam PFNC name, e.g. ``"BayerRG8"``.
        layout: Colour arrangement of the values.
        bits: Significant bits per value.
        packing: ``none`` (8-bit or 16-bit containers), ``lsb_packed`` (PFNC ``...p``
            formats: a little-endian bit stream) or ``gige_packed`` (GigE Vision
            ``...Packed``: two 10/12-bit values in three bytes, high bits first).
        bayer_cv2_code: OpenCV demosaicing code for Bayer layouts, else None.
    """

    name: str
    layout: Layout
    bits: int
    packing: Packing = "none"
    bayer_cv2_code: int | None = None

    @property
    def values_per_pixel(self) -> int:
        """Stored values per pixel: 1 (mono, Bayer), 3 (RGB/BGR) or 4 (with alpha)."""
        return {"rgb": 3, "bgr": 3, "rgba": 4, "bgra": 4}.get(self.layout, 1)


# OpenCV names a Bayer pattern by the 2x2 block starting at row 1, column 1, while
# GenICam names it by the block at row 0, column 0, so each name maps to another one
# (checked against a hand-made mosaic in the unit tests).
_GENICAM_TO_CV2_BAYER = {
    "RG": cv2.COLOR_BayerBG2RGB,
    "BG": cv2.COLOR_BayerRG2RGB,
    "GB": cv2.COLOR_BayerGR2RGB,
    "GR": cv2.COLOR_BayerGB2RGB,
}


def _build_table() -> dict[str, PixelFormatSpec]:
    specs = [
        PixelFormatSpec("Mono8", "mono", 8),
        PixelFormatSpec("Mono10", "mono", 10),
        PixelFormatSpec("Mono12", "mono", 12),
        PixelFormatSpec("Mono16", "mono", 16),
        PixelFormatSpec("Mono10p", "mono", 10, "lsb_packed"),
        PixelFormatSpec("Mono12p", "mono", 12, "lsb_packed"),
        PixelFormatSpec("Mono10Packed", "mono", 10, "gige_packed"),
        PixelFormatSpec("Mono12Packed", "mono", 12, "gige_packed"),
        PixelFormatSpec("RGB8", "rgb", 8),
        PixelFormatSpec("BGR8", "bgr", 8),
        PixelFormatSpec("RGBa8", "rgba", 8),
        PixelFormatSpec("BGRa8", "bgra", 8),
    ]
    for pattern, code in _GENICAM_TO_CV2_BAYER.items():
        for bits in (8, 10, 12, 16):
            specs.append(PixelFormatSpec(f"Bayer{pattern}{bits}", "bayer", bits, "none", code))
    return {spec.name: spec for spec in specs}


PIXEL_FORMATS: dict[str, PixelFormatSpec] = _build_table()
SUPPORTED_PIXEL_FORMATS: tuple[str, ...] = tuple(PIXEL_FORMATS)


def pixel_format_spec(name: str, *, field: str = "pixel format") -> PixelFormatSpec:
    """Look up a format by its GenICam name.

    Raises:
        UnsupportedPixelFormatError: the station cannot convert this format.
    """
    spec = PIXEL_FORMATS.get(name)
    if spec is None:
        raise UnsupportedPixelFormatError(
            f"{field}: pixel format {name!r} is not supported",
            hint="use one of " + ", ".join(SUPPORTED_PIXEL_FORMATS) + " (set the camera's "
            "PixelFormat accordingly; `station camera grab` shows what the camera offers)",
        )
    return spec


def unpack_lsb_packed(raw: np.ndarray, *, bits: int) -> np.ndarray:
    """Unpack PFNC ``...p`` data: values stored back to back in a little-endian bit stream.

    Args:
        raw: uint8 [n_bytes], with n_bytes a multiple of the group size
            (5 bytes per 4 values for 10 bits, 3 bytes per 2 values for 12 bits).
        bits: 10 or 12.

    Returns:
        uint16 [n_values].
    """
    group_bytes, group_values = {10: (5, 4), 12: (3, 2)}[bits]
    usable = raw.size - raw.size % group_bytes
    groups = raw[:usable].reshape(-1, group_bytes).astype(np.uint64)
    stream = np.zeros(groups.shape[0], dtype=np.uint64)
    for index in range(group_bytes):
        stream |= groups[:, index] << np.uint64(8 * index)
    mask = np.uint64((1 << bits) - 1)
    values = [(stream >> np.uint64(bits * k)) & mask for k in range(group_values)]
    return np.stack(values, axis=1).reshape(-1).astype(np.uint16)


def unpack_gige_packed(raw: np.ndarray, *, bits: int) -> np.ndarray:
    """Unpack GigE Vision ``...Packed`` data: two values in three bytes.

    Byte 0 holds the high bits of value 0, byte 2 the high bits of value 1, and
    byte 1 the low bits of value 0 (from bit 0) and of value 1 (from bit 4).

    Args:
        raw: uint8 [n_bytes], n_bytes a multiple of 3.
        bits: 10 or 12.

    Returns:
        uint16 [n_values].
    """
    low_bits = bits - 8
    low_mask = (1 << low_bits) - 1
    usable = raw.size - raw.size % 3
    triples = raw[:usable].reshape(-1, 3).astype(np.uint16)
    first = (triples[:, 0] << low_bits) | (triples[:, 1] & low_mask)
    second = (triples[:, 2] << low_bits) | ((triples[:, 1] >> 4) & low_mask)
    return np.stack([first, second], axis=1).reshape(-1)


def _values_16bit(
    values: np.ndarray, spec: PixelFormatSpec, count: int, pixel_format: str
) -> np.ndarray:
    """Turn raw bytes or 16-bit containers into at least ``count`` uint16 values."""
    if values.dtype == np.uint16:
        return values
    if values.dtype != np.uint8:
        raise FrameFormatError(
            f"{pixel_format} data must arrive as uint8 bytes or uint16 values, got {values.dtype}",
            hint="this is a driver problem; report the camera model and pixel format",
        )
    if spec.packing == "lsb_packed":
        return unpack_lsb_packed(values, bits=spec.bits)
    if spec.packing == "gige_packed":
        return unpack_gige_packed(values, bits=spec.bits)
    usable = min(values.size, 2 * count) // 2 * 2
    return values[:usable].view("<u2")


def _to_rgb(values: np.ndarray, spec: PixelFormatSpec, height: int, width: int) -> np.ndarray:
    """8-bit values of one frame -> uint8 [h, w, 3] RGB, or [h, w] for mono."""
    if spec.layout == "mono":
        return values.reshape(height, width)
    if spec.layout == "bayer":
        mosaic = np.ascontiguousarray(values.reshape(height, width))
        return cv2.cvtColor(mosaic, spec.bayer_cv2_code)
    image = values.reshape(height, width, spec.values_per_pixel)
    if spec.layout in ("bgr", "bgra"):
        return image[:, :, 2::-1]
    return image[:, :, :3]


def rgb_to_grey(rgb: np.ndarray) -> np.ndarray:
    """uint8 [h, w, 3] RGB -> uint8 [h, w] luma with ITU-R 601 weights, rounded as Pillow does.

    Pillow is what replayed image files go through, so a camera frame and the
    same scene read from a file give the same grey values.
    """
    weighted = (
        rgb[..., 0].astype(np.uint32) * 19595
        + rgb[..., 1].astype(np.uint32) * 38470
        + rgb[..., 2].astype(np.uint32) * 7471
        + 0x8000
    )
    return (weighted >> 16).astype(np.uint8)


def convert_pixels(
    values: np.ndarray,
    *,
    pixel_format: str,
    width_px: int,
    height_lines: int,
    output_channels: Literal[1, 3],
) -> np.ndarray:
    """Convert one frame from a camera pixel format to grey or RGB uint8.

    Args:
        values: The frame's data, flat or 2-D: raw bytes (uint8) for any format, or
            unpacked 16-bit values (uint16) for formats deeper than 8 bits. Extra
            trailing data (padding) is ignored.
        pixel_format: GenICam PFNC name, one of :data:`SUPPORTED_PIXEL_FORMATS`.
        width_px: Pixels per line.
        height_lines: Lines in the frame.
        output_channels: 1 for grey uint8 [h, w], 3 for RGB uint8 [h, w, 3].

    Returns:
        A new, C-contiguous uint8 array [h, w] or [h, w, 3].

    Raises:
        UnsupportedPixelFormatError: the format is not supported.
        FrameFormatError: the data is shorter than the frame needs.
    """
    spec = pixel_format_spec(pixel_format)
    flat = np.asarray(values).reshape(-1)
    count = width_px * height_lines * spec.values_per_pixel
    if spec.bits > 8:
        flat = _values_16bit(flat, spec, count, pixel_format)
    elif flat.dtype != np.uint8:
        raise FrameFormatError(
            f"{pixel_format} data must arrive as uint8, got {flat.dtype}",
            hint="this is a driver problem; report the camera model and pixel format",
        )
    if flat.size < count:
        raise FrameFormatError(
            f"a {width_px}x{height_lines} {pixel_format} frame needs {count} values but the "
            f"buffer holds {flat.size}",
            hint="the camera's Width/Height/PixelFormat changed under the station, or the "
            "buffer is truncated; restart acquisition",
        )
    flat = flat[:count]
    if spec.bits > 8:
        # Clip: a container may carry stray bits above the format's depth.
        flat = np.minimum(flat >> (spec.bits - 8), 255).astype(np.uint8)
    image = _to_rgb(flat, spec, height_lines, width_px)
    if output_channels == 1:
        image = image if image.ndim == 2 else rgb_to_grey(image)
    elif image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    # Copy so the result never aliases a driver's buffer, even for Mono8 (a pure reshape).
    return np.array(image, dtype=np.uint8, order="C", copy=True)
