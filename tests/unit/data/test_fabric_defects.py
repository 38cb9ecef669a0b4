"""Planting defects: masks cover every change, defects are visible, any image works."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.data.fabric import (
    DEFECT_KINDS,
    FABRIC_PRESETS,
    FabricRenderError,
    plant_defects,
    render_fabric,
)
from training.data.images import list_images, read_image


@pytest.fixture(scope="module")
def grey_tile() -> np.ndarray:
    return render_fabric(FABRIC_PRESETS["fine_twill"], height_px=128, width_px=128, seed=1)


@pytest.fixture(scope="module")
def rgb_tile() -> np.ndarray:
    return render_fabric(FABRIC_PRESETS["denim"], height_px=128, width_px=128, seed=1, channels=3)


def _real_like_image() -> np.ndarray:
    """Not our fabric: an odd-sized blurred-noise texture with a brightness gradient."""
    rng = np.random.default_rng(42)
    noise = rng.normal(0.0, 18.0, (97, 203))
    noise = (noise + np.roll(noise, 1, 0) + np.roll(noise, 1, 1)) / 3.0
    gradient = np.linspace(70.0, 150.0, 203)[None, :]
    return np.clip(noise + gradient, 0, 255).astype(np.uint8)


def _tight_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _check_one_defect(before: np.ndarray, kind: str, seed: int) -> None:
    planted = plant_defects(before, rng=np.random.default_rng(seed), kinds=[kind])
    after, mask = planted.image, planted.mask
    assert after.shape == before.shape and after.dtype == np.uint8
    assert mask.shape == before.shape[:2] and mask.dtype == bool
    assert mask.any(), f"{kind}: empty mask"
    changed = (after != before).reshape(*mask.shape, -1).any(axis=-1)
    assert not (changed & ~mask).any(), f"{kind}: pixels changed outside the mask"
    (truth,) = planted.defects
    assert truth.kind == kind
    assert truth.area_px == int(mask.sum())
    assert truth.bbox == _tight_box(mask)
    difference = np.abs(after.astype(float) - before.astype(float)).reshape(*mask.shape, -1)
    strongest = np.percentile(difference.max(axis=-1)[mask], 90)
    assert strongest >= 6.0, f"{kind}: barely visible (90th percentile change {strongest:.1f})"
    saturated = np.isin(after.reshape(*mask.shape, -1)[mask], (0, 255)).mean()
    assert saturated < 0.5, f"{kind}: {saturated:.0%} of its pixels are clipped to 0 or 255"


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_each_kind_changes_only_masked_pixels_and_is_visible_on_grey(
    kind: str, grey_tile: np.ndarray
) -> None:
    for seed in range(3):
        _check_one_defect(grey_tile, kind, seed)


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_each_kind_changes_only_masked_pixels_and_is_visible_on_rgb(
    kind: str, rgb_tile: np.ndarray
) -> None:
    _check_one_defect(rgb_tile, kind, seed=7)


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_each_kind_works_on_an_image_that_is_not_our_fabric(kind: str) -> None:
    _check_one_defect(_real_like_image(), kind, seed=3)


def test_defects_on_a_real_aitex_tile(aitex_dir: Path) -> None:
    strip_path = list_images(aitex_dir / "NODefect_images" / "2311694-1930c7u")[0]
    tile = np.ascontiguousarray(read_image(strip_path)[:, 2048:2304])
    for index, kind in enumerate(DEFECT_KINDS):
        _check_one_defect(tile, kind, seed=index)


def test_line_defects_run_along_their_axis(grey_tile: np.ndarray) -> None:
    for seed in range(5):
        rng = np.random.default_rng(seed)
        (end,) = plant_defects(grey_tile, rng=rng, kinds=["broken_end"]).defects
        (pick,) = plant_defects(grey_tile, rng=rng, kinds=["broken_pick"]).defects
        x0, y0, x1, y1 = end.bbox
        assert y1 - y0 > 3 * (x1 - x0), f"broken end is not along the roll: {end.bbox}"
        x0, y0, x1, y1 = pick.bbox
        assert x1 - x0 > 3 * (y1 - y0), f"broken pick is not across the web: {pick.bbox}"


def test_planting_is_deterministic_and_leaves_the_input_alone(grey_tile: np.ndarray) -> None:
    original = grey_tile.copy()
    first = plant_defects(grey_tile, rng=np.random.default_rng(5), count=4)
    second = plant_defects(grey_tile, rng=np.random.default_rng(5), count=4)
    np.testing.assert_array_equal(grey_tile, original)
    np.testing.assert_array_equal(first.image, second.image)
    np.testing.assert_array_equal(first.mask, second.mask)
    assert first.defects == second.defects
    assert [d.defect_id for d in first.defects] == [0, 1, 2, 3]
    union = np.zeros_like(first.mask)
    for truth in first.defects:
        x0, y0, x1, y1 = truth.bbox
        union[y0:y1, x0:x1] = True
    assert not (first.mask & ~union).any(), "mask pixels outside every box"


def test_all_kinds_are_drawn_when_none_are_named(grey_tile: np.ndarray) -> None:
    planted = plant_defects(grey_tile, rng=np.random.default_rng(0), count=60, scale=0.5)
    assert {truth.kind for truth in planted.defects} == set(DEFECT_KINDS)


def test_scale_makes_compact_defects_larger(grey_tile: np.ndarray) -> None:
    def mean_area(scale: float) -> float:
        rng = np.random.default_rng(1)
        areas = [
            plant_defects(grey_tile, rng=rng, kinds=["stain"], scale=scale).defects[0].area_px
            for _ in range(6)
        ]
        return float(np.mean(areas))

    assert mean_area(1.5) > 1.5 * mean_area(0.5)


def test_bad_input_raises_our_error(grey_tile: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(FabricRenderError, match="uint8"):
        plant_defects(grey_tile.astype(np.float32), rng=rng)
    with pytest.raises(FabricRenderError, match="shape"):
        plant_defects(np.zeros((32, 32, 2), np.uint8), rng=rng)
    with pytest.raises(FabricRenderError, match="shape"):
        plant_defects(np.zeros((8, 64), np.uint8), rng=rng)
    with pytest.raises(FabricRenderError, match="scratch") as caught:
        plant_defects(grey_tile, rng=rng, kinds=["scratch"])
    assert "hole" in caught.value.hint
    with pytest.raises(FabricRenderError, match="count"):
        plant_defects(grey_tile, rng=rng, count=-1)
    with pytest.raises(FabricRenderError, match="scale"):
        plant_defects(grey_tile, rng=rng, scale=0.0)


def test_zero_defects_returns_an_unchanged_copy(grey_tile: np.ndarray) -> None:
    planted = plant_defects(grey_tile, rng=np.random.default_rng(0), count=0)
    np.testing.assert_array_equal(planted.image, grey_tile)
    assert planted.image is not grey_tile
    assert not planted.mask.any() and planted.defects == []
