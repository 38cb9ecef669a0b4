"""The endless fabric web: exact continuity across blocks, seeded defect rate, truths."""

from __future__ import annotations

import numpy as np
import pytest

from training.data.fabric import (
    DEFECT_REGION_LINES,
    FABRIC_PRESETS,
    FabricRenderError,
    FabricWeb,
    render_fabric,
)

WIDTH_PX = 192


def _busy_web(**kwargs) -> FabricWeb:
    """A narrow web with a defect every ~8 mm, so blocks are crossed by defects."""
    settings = {"width_px": WIDTH_PX, "seed": 21, "defects_per_metre": 120.0, "mm_per_px": 0.1}
    settings.update(kwargs)
    return FabricWeb(FABRIC_PRESETS["grey_twill"], **settings)


@pytest.mark.parametrize("channels", [1, 3])
def test_blocks_of_odd_sizes_stitch_into_the_whole_stretch_pixels_and_masks(channels: int) -> None:
    sizes = [97, 1, 256, 33, 511, 150]
    total = sum(sizes)
    whole = _busy_web(channels=channels).block_at(0, total)
    web = _busy_web(channels=channels)
    blocks = [web.next_block(size) for size in sizes]
    assert [b.first_line for b in blocks] == list(np.cumsum([0, *sizes[:-1]]))
    np.testing.assert_array_equal(np.concatenate([b.pixels for b in blocks]), whole.pixels)
    np.testing.assert_array_equal(np.concatenate([b.mask for b in blocks]), whole.mask)
    assert whole.mask.any()
    boundaries = np.cumsum(sizes[:-1])
    straddling = [
        d for d in whole.defects if any(d.bbox[1] < edge < d.bbox[3] for edge in boundaries)
    ]
    assert straddling, "the test needs a defect that crosses a block boundary"
    for truth in straddling:
        appearances = [b for b in blocks if truth in b.defects]
        assert len(appearances) >= 2, "a straddling defect must be reported in each block"


def test_fabric_under_the_defects_is_the_plain_rendering() -> None:
    web = _busy_web()
    block = web.block_at(300, 400)
    fabric = render_fabric(web.style, height_px=400, width_px=WIDTH_PX, first_line=300, seed=21)
    assert block.mask.any()
    np.testing.assert_array_equal(block.pixels[~block.mask], fabric[~block.mask])
    assert (block.pixels[block.mask] != fabric[block.mask]).mean() > 0.5


def test_reported_defects_explain_the_mask_in_absolute_lines() -> None:
    block = _busy_web().block_at(5000, 600)
    assert block.first_line == 5000
    covered = np.zeros_like(block.mask)
    for truth in block.defects:
        x0, y0, x1, y1 = truth.bbox
        assert y0 < 5600 and y1 > 5000, "a reported defect must overlap the block"
        assert y1 - y0 <= DEFECT_REGION_LINES
        covered[max(y0 - 5000, 0) : max(y1 - 5000, 0), x0:x1] = True
    assert block.mask.any()
    assert not (block.mask & ~covered).any()


def test_the_same_seed_gives_the_same_roll_and_another_seed_does_not() -> None:
    first = _busy_web().block_at(0, 300)
    again = _busy_web().block_at(0, 300)
    other = _busy_web(seed=22).block_at(0, 300)
    np.testing.assert_array_equal(first.pixels, again.pixels)
    assert first.defects == again.defects
    assert not np.array_equal(first.pixels, other.pixels)


def test_random_access_does_not_change_what_the_web_delivers_next() -> None:
    web = _busy_web()
    web.block_at(40_000, 64)  # look far ahead first
    streamed = web.next_block(700)
    np.testing.assert_array_equal(streamed.pixels, _busy_web().block_at(0, 700).pixels)


def test_defect_rate_follows_defects_per_metre() -> None:
    web = FabricWeb(
        FABRIC_PRESETS["dark_plain"],
        width_px=256,
        seed=4,
        defects_per_metre=2.0,
        mm_per_px=0.2,
        mm_per_line=0.5,
    )
    assert web.lines_per_metre == pytest.approx(2000.0)
    metres = 300
    count = len(web.defects_before(int(metres * web.lines_per_metre)))
    expected = 2.0 * metres  # Poisson: standard deviation ~ 24
    assert 0.85 * expected < count < 1.15 * expected
    ids = [d.defect_id for d in web.defects_before(int(metres * web.lines_per_metre))]
    assert ids == sorted(set(ids))


def test_no_defects_when_the_rate_is_zero() -> None:
    web = _busy_web(defects_per_metre=0.0)
    block = web.next_block(2000)
    assert not block.mask.any() and block.defects == []


def test_only_the_named_kinds_are_planted() -> None:
    web = _busy_web(kinds=["knot", "hole"])
    kinds = {d.kind for d in web.defects_before(20_000)}
    assert kinds == {"knot", "hole"}


def test_bad_settings_raise_our_error() -> None:
    style = FABRIC_PRESETS["grey_twill"]
    with pytest.raises(FabricRenderError, match="width_px"):
        FabricWeb(style, width_px=0, seed=0)
    with pytest.raises(FabricRenderError, match="defects_per_metre"):
        FabricWeb(style, width_px=64, seed=0, defects_per_metre=-1.0)
    with pytest.raises(FabricRenderError, match="mm_per_px"):
        FabricWeb(style, width_px=64, seed=0, mm_per_px=0.0)
    with pytest.raises(FabricRenderError, match="lace"):
        FabricWeb(style, width_px=64, seed=0, kinds=["lace"])
    with pytest.raises(FabricRenderError, match="height_px"):
        FabricWeb(style, width_px=64, seed=0).next_block(0)
