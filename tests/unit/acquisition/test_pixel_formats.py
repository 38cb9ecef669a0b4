"""Pixel-format conversion on hand-made buffers whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from station.acquisition.errors import FrameFormatError, UnsupportedPixelFormatError
from station.acquisition.pixel_formats import (
    SUPPORTED_PIXEL_FORMATS,
    convert_pixels,
    rgb_to_grey,
    unpack_gige_packed,
    unpack_lsb_packed,
)
from training.errors import ConfigError

HEIGHT, WIDTH = 6, 10


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _convert(values: np.ndarray, fmt: str, channels: int = 1) -> np.ndarray:
    return convert_pixels(
        values, pixel_format=fmt, width_px=WIDTH, height_lines=HEIGHT, output_channels=channels
    )


def test_mono8_is_reshaped_and_copied(rng: np.random.Generator) -> None:
    raw = rng.integers(0, 256, HEIGHT * WIDTH, dtype=np.uint8)
    grey = _convert(raw, "Mono8")
    assert grey.shape == (HEIGHT, WIDTH) and grey.dtype == np.uint8
    np.testing.assert_array_equal(grey, raw.reshape(HEIGHT, WIDTH))
    assert not np.shares_memory(grey, raw)  # never a view of the driver's buffer
    rgb = _convert(raw, "Mono8", channels=3)
    assert rgb.shape == (HEIGHT, WIDTH, 3)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[..., channel], grey)


def test_trailing_padding_is_ignored(rng: np.random.Generator) -> None:
    raw = rng.integers(0, 256, HEIGHT * WIDTH + 17, dtype=np.uint8)
    np.testing.assert_array_equal(
        _convert(raw, "Mono8"), raw[: HEIGHT * WIDTH].reshape(HEIGHT, WIDTH)
    )


@pytest.mark.parametrize("fmt, bits", [("Mono10", 10), ("Mono12", 12), ("Mono16", 16)])
def test_deep_mono_from_uint16_values_and_from_bytes(
    rng: np.random.Generator, fmt: str, bits: int
) -> None:
    values = rng.integers(0, 1 << bits, HEIGHT * WIDTH, dtype=np.uint16)
    expected = (values >> (bits - 8)).astype(np.uint8).reshape(HEIGHT, WIDTH)
    np.testing.assert_array_equal(_convert(values, fmt), expected)
    # The same frame as it comes off the wire: little-endian 16-bit containers.
    np.testing.assert_array_equal(_convert(values.astype("<u2").view(np.uint8), fmt), expected)


def test_mono12_full_scale_maps_to_255_and_stray_bits_clip() -> None:
    values = np.full(HEIGHT * WIDTH, 4095, dtype=np.uint16)
    assert (_convert(values, "Mono12") == 255).all()
    values[:] = 0xFFFF  # a container with bits above the format's depth
    assert (_convert(values, "Mono12") == 255).all()


def test_mono12_packed_gige_layout_by_hand() -> None:
    # Values 0xABC and 0x123: byte0 = 0xAB, byte1 = 0x3C (low nibbles: 0xC | 0x3 << 4),
    # byte2 = 0x12.
    raw = np.array([0xAB, 0x3C, 0x12], dtype=np.uint8)
    np.testing.assert_array_equal(unpack_gige_packed(raw, bits=12), [0xABC, 0x123])


def test_mono12p_lsb_layout_by_hand() -> None:
    # Values 0xABC and 0x123 as a little-endian bit stream: 0x123ABC -> bytes BC 3A 12.
    raw = np.array([0xBC, 0x3A, 0x12], dtype=np.uint8)
    np.testing.assert_array_equal(unpack_lsb_packed(raw, bits=12), [0xABC, 0x123])


def test_mono10p_lsb_layout_by_hand() -> None:
    values = [0x3FF, 0x001, 0x155, 0x2AA]
    stream = sum(v << (10 * k) for k, v in enumerate(values))
    raw = np.array([(stream >> (8 * k)) & 0xFF for k in range(5)], dtype=np.uint8)
    np.testing.assert_array_equal(unpack_lsb_packed(raw, bits=10), values)


@pytest.mark.parametrize("fmt", ["Mono10p", "Mono12p", "Mono10Packed", "Mono12Packed"])
def test_packed_unpacking_agrees_with_harvesters(rng: np.random.Generator, fmt: str) -> None:
    """Two independent implementations of the PFNC/GigE layouts must agree."""
    from harvesters.util import pfnc

    raw = rng.integers(0, 256, 60, dtype=np.uint8)  # 60 bytes: whole groups for both layouts
    theirs = getattr(pfnc, fmt)().expand(raw)
    bits = 10 if "10" in fmt else 12
    ours = (
        unpack_lsb_packed(raw, bits=bits)
        if fmt.endswith("p")
        else unpack_gige_packed(raw, bits=bits)
    )
    np.testing.assert_array_equal(ours, theirs)


def test_packed_frame_from_bytes_matches_frame_from_values(rng: np.random.Generator) -> None:
    values = rng.integers(0, 4096, HEIGHT * WIDTH, dtype=np.uint16)
    pairs = values.reshape(-1, 2)
    raw = np.stack(
        [pairs[:, 0] >> 4, (pairs[:, 0] & 0xF) | ((pairs[:, 1] & 0xF) << 4), pairs[:, 1] >> 4],
        axis=1,
    ).astype(np.uint8)
    np.testing.assert_array_equal(
        _convert(raw.reshape(-1), "Mono12Packed"), _convert(values, "Mono12Packed")
    )


def _colour_frame(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "fmt, order",
    [("RGB8", [0, 1, 2]), ("BGR8", [2, 1, 0]), ("RGBa8", [0, 1, 2, 3]), ("BGRa8", [2, 1, 0, 3])],
)
def test_packed_colour_layouts(rng: np.random.Generator, fmt: str, order: list[int]) -> None:
    rgb = _colour_frame(rng)
    alpha = rng.integers(0, 256, (HEIGHT, WIDTH, 1), dtype=np.uint8)
    rgba = np.concatenate([rgb, alpha], axis=2)
    wire = rgba[:, :, order].reshape(-1)
    np.testing.assert_array_equal(_convert(wire, fmt, channels=3), rgb)
    np.testing.assert_array_equal(_convert(wire, fmt, channels=1), rgb_to_grey(rgb))


def test_grey_matches_pillow(rng: np.random.Generator) -> None:
    """Replayed files go through Pillow's RGB->L, so camera frames must give the same grey."""
    rgb = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    pillow = np.asarray(Image.fromarray(rgb).convert("L"))
    np.testing.assert_array_equal(rgb_to_grey(rgb), pillow)


def _mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """Sample an RGB image through a Bayer filter named the GenICam way (row 0, col 0 first)."""
    channel = {"R": 0, "G": 1, "B": 2}
    top, bottom = pattern[:2], {"RG": "GB", "BG": "GR", "GB": "RG", "GR": "BG"}[pattern]
    mosaic = np.empty(rgb.shape[:2], dtype=rgb.dtype)
    for row_offset, pair in ((0, top), (1, bottom)):
        for col_offset, colour in enumerate(pair):
            sampled = rgb[row_offset::2, col_offset::2, channel[colour]]
            mosaic[row_offset::2, col_offset::2] = sampled
    return mosaic


@pytest.mark.parametrize("pattern", ["RG", "BG", "GB", "GR"])
def test_bayer8_demosaics_to_the_right_colours(pattern: str) -> None:
    """A flat colour seen through each Bayer layout must come back as that colour.

    OpenCV names Bayer patterns one row/column off from GenICam; a wrong mapping
    swaps red and blue (or gives a green-magenta mess) and fails here.
    """
    height, width = 8, 12
    colour = np.array([200, 90, 30], dtype=np.uint8)
    rgb = np.broadcast_to(colour, (height, width, 3)).copy()
    out = convert_pixels(
        _mosaic(rgb, pattern).reshape(-1),
        pixel_format=f"Bayer{pattern}8",
        width_px=width,
        height_lines=height,
        output_channels=3,
    )
    inner = out[2:-2, 2:-2].reshape(-1, 3)  # borders are interpolated differently
    np.testing.assert_array_equal(inner, np.broadcast_to(colour, inner.shape))


def test_bayer12_scales_then_demosaics() -> None:
    height, width = 8, 12
    colour16 = np.array([200 << 4, 90 << 4, 30 << 4], dtype=np.uint16)
    rgb = np.broadcast_to(colour16, (height, width, 3)).copy()
    out = convert_pixels(
        _mosaic(rgb, "RG").reshape(-1),
        pixel_format="BayerRG12",
        width_px=width,
        height_lines=height,
        output_channels=3,
    )
    np.testing.assert_array_equal(out[3, 5], [200, 90, 30])


def test_unsupported_format_names_it_and_the_supported_ones() -> None:
    with pytest.raises(UnsupportedPixelFormatError) as caught:
        _convert(np.zeros(HEIGHT * WIDTH * 4, np.uint8), "Coord3D_ABC32f")
    error = caught.value
    assert isinstance(error, ConfigError)
    assert "Coord3D_ABC32f" in error.message
    assert "Mono8" in error.hint and "BayerRG8" in error.hint


def test_short_buffer_is_a_clear_error() -> None:
    with pytest.raises(FrameFormatError, match="needs 60 values but the buffer holds 59"):
        _convert(np.zeros(59, np.uint8), "Mono8")


def test_wrong_dtype_for_8_bit_format_is_refused() -> None:
    with pytest.raises(FrameFormatError, match="uint8"):
        _convert(np.zeros(HEIGHT * WIDTH, np.uint16), "Mono8")


def test_every_supported_format_converts_a_frame(rng: np.random.Generator) -> None:
    for fmt in SUPPORTED_PIXEL_FORMATS:
        raw = rng.integers(0, 256, HEIGHT * WIDTH * 4 * 2, dtype=np.uint8)
        for channels in (1, 3):
            out = _convert(raw, fmt, channels=channels)
            expected = (HEIGHT, WIDTH) if channels == 1 else (HEIGHT, WIDTH, 3)
            assert out.shape == expected and out.dtype == np.uint8, fmt
            assert out.flags.c_contiguous and out.base is None, fmt
