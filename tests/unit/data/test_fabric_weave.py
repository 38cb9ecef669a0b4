"""Procedural fabric rendering: determinism, continuity along the roll, weave structure."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest

from training.data.fabric import (
    FABRIC_PRESETS,
    GREY_PRESETS,
    WEAVES,
    FabricRenderError,
    FabricStyle,
    FabricStyleError,
    preset,
    random_style,
    render_fabric,
    weave_pattern,
)


def _render_in_blocks(
    style: FabricStyle, sizes: list[int], *, first_line: int, **kwargs
) -> np.ndarray:
    blocks, line = [], first_line
    for size in sizes:
        blocks.append(render_fabric(style, height_px=size, first_line=line, **kwargs))
        line += size
    return np.concatenate(blocks, axis=0)


def test_same_arguments_give_the_same_pixels_and_another_seed_does_not() -> None:
    style = FABRIC_PRESETS["grey_twill"]
    first = render_fabric(style, height_px=64, width_px=96, first_line=500, seed=3)
    again = render_fabric(style, height_px=64, width_px=96, first_line=500, seed=3)
    other_seed = render_fabric(style, height_px=64, width_px=96, first_line=500, seed=4)
    assert first.dtype == np.uint8 and first.shape == (64, 96)
    np.testing.assert_array_equal(first, again)
    assert np.mean(first != other_seed) > 0.5


@pytest.mark.parametrize("name", ["grey_twill", "dark_plain", "white_satin", "gingham", "navy_rib"])
@pytest.mark.parametrize("channels", [1, 3])
def test_blocks_of_odd_sizes_stitch_into_exactly_the_whole_range(name: str, channels: int) -> None:
    style = FABRIC_PRESETS[name]
    kwargs = {"width_px": 131, "seed": 17, "channels": channels}
    whole = render_fabric(style, height_px=301, first_line=1_000_003, **kwargs)
    stitched = _render_in_blocks(style, [37, 1, 2, 255, 6], first_line=1_000_003, **kwargs)
    np.testing.assert_array_equal(whole, stitched)


def test_random_styles_are_valid_render_and_stitch() -> None:
    rng = np.random.default_rng(0)
    for index in range(12):
        style = random_style(rng, grey=index % 2 == 0)
        whole = render_fabric(style, height_px=90, width_px=40, first_line=77, seed=index)
        stitched = _render_in_blocks(style, [13, 50, 27], first_line=77, width_px=40, seed=index)
        np.testing.assert_array_equal(whole, stitched)
        assert whole.std() > 2.0, f"random style {index} rendered a flat image"


def test_rgb_output_has_colour_and_grey_output_is_its_luminance_in_spirit() -> None:
    style = FABRIC_PRESETS["denim"]
    rgb = render_fabric(style, height_px=64, width_px=64, seed=1, channels=3)
    grey = render_fabric(style, height_px=64, width_px=64, seed=1, channels=1)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    red, _, blue = (rgb[..., c].astype(float).mean() for c in range(3))
    assert blue > red + 15, "denim warp is blue"
    luma = rgb.astype(float) @ np.array([0.299, 0.587, 0.114])
    assert abs(luma.mean() - grey.mean()) < 6.0


def _clean(style: FabricStyle, **changes) -> FabricStyle:
    """The style without any randomness or softness, so the weave itself can be checked."""
    return dataclasses.replace(
        style, pitch_jitter=0.0, yarn_irregularity=0.0, hairiness=0.0, noise=0.0,
        illumination_unevenness=0.0, blur_px=0.0, **changes,
    )  # fmt: skip


@pytest.mark.parametrize("weave", WEAVES)
def test_yarn_crowns_show_the_weave_pattern(weave: str) -> None:
    """White warp, black weft, 8-px pitch: a crossing is bright exactly where the warp is up."""
    float_up, float_down = (4, 1) if weave == "satin" else (2, 1)
    style = _clean(
        FabricStyle(weave=weave, float_up=float_up, float_down=float_down),
        warp_pitch_px=8.0, weft_pitch_px=8.0, yarn_contrast=0.0, float_shading=0.0,
        warp_colors=((250, 250, 250),), weft_colors=((0, 0, 0),),
    )  # fmt: skip
    pattern = weave_pattern(weave, float_up=float_up, float_down=float_down)
    picks, ends = 3 * pattern.shape[0], 3 * pattern.shape[1]
    image = render_fabric(style, height_px=8 * picks, width_px=8 * ends, seed=5)
    crowns = image[4::8, 4::8] > 127  # centre of pick j, warp end i
    expected = np.tile(pattern, (3, 3))
    np.testing.assert_array_equal(crowns, expected)


def test_without_randomness_the_fabric_repeats_with_the_weave() -> None:
    style = _clean(FABRIC_PRESETS["fine_twill"], warp_pitch_px=3.0, weft_pitch_px=3.0)
    image = render_fabric(style, height_px=48, width_px=48, first_line=1000, seed=2)
    repeat = 3 * style.weave_pattern().shape[0]  # lines of one weave repeat
    np.testing.assert_array_equal(image[:-repeat], image[repeat:])
    assert not np.array_equal(image[:-1], image[1:])


def test_every_weave_interlaces_every_yarn() -> None:
    for weave in WEAVES:
        float_up, float_down = (4, 1) if weave == "satin" else (2, 2)
        pattern = weave_pattern(weave, float_up=float_up, float_down=float_down)
        assert pattern.any(axis=0).all() and (~pattern).any(axis=0).all(), weave
        assert pattern.any(axis=1).all() and (~pattern).any(axis=1).all(), weave


def _texture_signature(image: np.ndarray) -> np.ndarray:
    """Mean, contrast and the strongest spatial frequency (fy, fx) of a grey tile."""
    centred = image.astype(float) - image.mean()
    spectrum = np.abs(np.fft.rfft2(centred))
    spectrum[0, 0] = 0.0
    fy, fx = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    fy = fy if fy <= image.shape[0] // 2 else fy - image.shape[0]
    return np.array([image.mean(), image.std(), 10.0 * abs(fy), 10.0 * fx])


def test_the_grey_presets_are_distinct_fabrics() -> None:
    signatures = {
        name: _texture_signature(render_fabric(preset(name), height_px=128, width_px=128, seed=9))
        for name in GREY_PRESETS
    }
    for first, second in itertools.combinations(GREY_PRESETS, 2):
        distance = np.abs(signatures[first] - signatures[second]).max()
        assert distance > 5.0, f"{first} and {second} look alike: {signatures}"


def test_bad_requests_raise_our_error_naming_the_field() -> None:
    style = FABRIC_PRESETS["dark_plain"]
    with pytest.raises(FabricRenderError, match="height_px"):
        render_fabric(style, height_px=0, width_px=8, seed=0)
    with pytest.raises(FabricRenderError, match="channels"):
        render_fabric(style, height_px=8, width_px=8, seed=0, channels=2)
    with pytest.raises(FabricRenderError, match="first_line"):
        render_fabric(style, height_px=8, width_px=8, seed=0, first_line=-1)


def test_invalid_styles_and_unknown_presets_are_rejected_with_a_hint() -> None:
    with pytest.raises(FabricStyleError, match="warp_pitch_px") as caught:
        FabricStyle(warp_pitch_px=0.5)
    assert caught.value.hint
    with pytest.raises(FabricStyleError, match="weave"):
        FabricStyle(weave="knit")
    with pytest.raises(FabricStyleError, match="satin"):
        FabricStyle(weave="satin", float_up=3, float_down=3)
    with pytest.raises(FabricStyleError, match="warp_colors"):
        FabricStyle(warp_colors=((300, 0, 0),))
    with pytest.raises(FabricStyleError, match="denim"):
        preset("velvet")


def test_a_style_survives_a_json_round_trip_as_in_the_manifest() -> None:
    for style in FABRIC_PRESETS.values():
        plain = json.loads(json.dumps(dataclasses.asdict(style)))
        restored = FabricStyle(**plain)
        assert restored == style and hash(restored) == hash(style)


def test_presets_cover_the_weaves_and_at_least_four_grey_fabrics() -> None:
    assert {style.weave for style in FABRIC_PRESETS.values()} == set(WEAVES)
    assert len(GREY_PRESETS) >= 4 and set(GREY_PRESETS) <= set(FABRIC_PRESETS)
