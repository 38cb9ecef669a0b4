"""Threshold calibration in false alarms per metre, and alarm counting."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, stats

from training.calibration import (
    calibrate_thresholds,
    count_alarms,
    fabric_metres,
    false_alarm_rate_upper_bound,
)
from training.errors import DataError
from training.model_file import Calibration


def _bumps(peaks: np.ndarray, *, side: int = 24, seed: int = 0) -> np.ndarray:
    """One smooth bump per tile (a single local maximum), peak value ``peaks[t]``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    maps = []
    for peak in peaks:
        cy, cx = rng.uniform(4, side - 4, size=2)
        maps.append(peak * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 20.0))
    return np.stack(maps).astype(np.float32)


def _blobby(count: int, *, seed: int) -> np.ndarray:
    """Smoothed noise: several regions per tile at most thresholds."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(count, 32, 32))
    return np.stack([ndimage.gaussian_filter(n, 2.0) for n in noise]).astype(np.float32)


def test_count_alarms_counts_8_connected_regions_per_tile() -> None:
    maps = np.zeros((3, 8, 8), dtype=np.float32)
    maps[0, 1, 1] = maps[0, 2, 2] = 1.0  # diagonal neighbours: one region
    maps[0, 6, 6] = 1.0  # a second region
    maps[1, 0, 7] = maps[1, 1, 7] = 0.6  # one region, only above 0.5
    maps[2, 7, 0] = 0.4
    assert count_alarms(maps, 0.5) == 3
    assert count_alarms(maps, 0.3) == 4
    assert count_alarms(maps, 1.0) == 0  # strictly above
    valid = np.ones_like(maps, dtype=bool)
    valid[0, 6, 6] = False
    assert count_alarms(maps, 0.5, valid=valid) == 2
    rng = np.random.default_rng(1)
    random_maps = rng.random((4, 20, 20)).astype(np.float32)
    expected = sum(ndimage.label(m > 0.7, structure=np.ones((3, 3)))[1] for m in random_maps)
    assert count_alarms(random_maps, 0.7) == expected


def test_monotone_case_gives_the_exact_threshold() -> None:
    """One bump per tile: alarms(t) = tiles with peak > t, so the answer is known."""
    peaks = np.random.default_rng(2).permutation(np.linspace(0.2, 0.9, 20))
    maps = _bumps(peaks)
    metres = 10.0
    result = calibrate_thresholds(maps, peaks.astype(np.float32), metres=metres, target_per_m=0.5)
    ordered = np.sort(maps.reshape(20, -1).max(axis=1))[::-1]
    assert result.pixel_threshold == pytest.approx(float(ordered[5]))  # 5 alarms allowed
    assert count_alarms(maps, result.pixel_threshold) == 5
    assert count_alarms(maps, float(ordered[6])) == 6
    assert result.achieved_false_alarms_per_m == pytest.approx(0.5)
    assert result.tile_false_alarms_per_m <= 0.5
    assert int((peaks > result.tile_threshold).sum()) == 5
    assert result.resolution_per_m == pytest.approx(0.1) and result.validation_metres == metres


@pytest.mark.parametrize(("seed", "target_per_m"), [(3, 0.4), (4, 1.5), (5, 3.0)])
def test_rate_is_met_and_the_next_lower_candidate_would_exceed_it(seed, target_per_m) -> None:
    maps = _blobby(30, seed=seed)
    tile_scores = maps.reshape(30, -1).max(axis=1)
    metres = 5.0
    result = calibrate_thresholds(maps, tile_scores, metres=metres, target_per_m=target_per_m)
    allowed = target_per_m * metres
    alarms = count_alarms(maps, result.pixel_threshold)
    assert alarms <= allowed
    assert result.achieved_false_alarms_per_m == pytest.approx(alarms / metres)
    lower = np.sort(tile_scores[tile_scores < result.pixel_threshold])[::-1]
    assert lower.size and count_alarms(maps, float(lower[0])) > allowed
    assert int((tile_scores > result.tile_threshold).sum()) <= allowed
    tile_lower = tile_scores[tile_scores < result.tile_threshold]
    assert int((tile_scores > tile_lower.max()).sum()) > allowed


def test_too_little_fabric_for_the_target_means_zero_alarms() -> None:
    maps = _blobby(6, seed=6)
    tile_scores = maps.reshape(6, -1).max(axis=1)
    result = calibrate_thresholds(maps, tile_scores, metres=0.5, target_per_m=1.0)  # 0.5 < 1
    # Alarms are pixels strictly above the threshold (as in the station), so the
    # highest validation score itself is the lowest threshold with zero alarms.
    assert result.pixel_threshold >= float(maps.max())
    assert result.tile_threshold >= float(tile_scores.max())
    assert count_alarms(maps, result.pixel_threshold) == 0
    assert result.achieved_false_alarms_per_m == 0 and result.tile_false_alarms_per_m == 0
    assert result.resolution_per_m == pytest.approx(2.0)


def test_pixels_outside_the_fabric_never_alarm() -> None:
    peaks = np.linspace(0.2, 0.9, 10)
    maps = _bumps(peaks, seed=7)
    maps[:, 0, 0] = 50.0  # machine background, brighter than anything
    valid = np.ones(maps.shape, dtype=bool)
    valid[:, 0, 0] = False
    result = calibrate_thresholds(maps, peaks, metres=10.0, target_per_m=0.2, valid=valid)
    assert result.pixel_threshold < 1.0
    assert count_alarms(maps, result.pixel_threshold, valid=valid) == 2


def test_no_validation_fabric_is_a_data_error() -> None:
    with pytest.raises(DataError):
        calibrate_thresholds(np.zeros((0, 8, 8)), np.zeros(0), metres=1.0, target_per_m=1.0)
    with pytest.raises(DataError):
        calibrate_thresholds(np.ones((2, 8, 8)), np.ones(2), metres=0.0, target_per_m=1.0)


def test_fabric_metres() -> None:
    assert fabric_metres([256, 256, 128], mm_per_px=0.25) == pytest.approx(0.16)


def test_a_line_across_two_tiles_is_one_alarm_once_stitched() -> None:
    from training.calibration import stitch_tile_maps

    maps = np.zeros((3, 8, 8), np.float32)
    maps[0, 4, 5:] = 1.0  # a line running out of tile 0 ...
    maps[1, 4, :3] = 1.0  # ... into its right-hand neighbour
    maps[2, 1, 1] = 1.0  # and a spot on another image
    image_index = np.array([0, 0, 1])
    boxes = np.array([[0, 0], [8, 0], [0, 0]])
    valid = np.ones_like(maps, dtype=bool)
    assert count_alarms(maps, 0.5, valid=valid) == 3  # per tile: the line counts twice
    image_maps, image_valid = stitch_tile_maps(maps, image_index, boxes, valid)
    assert [m.shape for m in image_maps] == [(8, 16), (8, 8)]
    assert count_alarms(image_maps, 0.5, valid=image_valid) == 2


def test_stitching_leaves_uncovered_and_background_pixels_invalid() -> None:
    from training.calibration import stitch_tile_maps

    maps = np.full((1, 4, 4), 2.0, np.float32)
    valid = np.ones((1, 4, 4), bool)
    valid[0, :, :2] = False  # beyond the web edge
    image_maps, image_valid = stitch_tile_maps(maps, np.array([0]), np.array([[4, 0]]), valid)
    assert image_maps[0].shape == (4, 8)
    assert not image_valid[0][:, :6].any() and image_valid[0][:, 6:].all()
    assert count_alarms(image_maps, 1.0, valid=image_valid) == 1


def test_fragments_within_the_merge_gap_are_one_region() -> None:
    from training.calibration import label_regions

    mask = np.zeros((5, 40), bool)
    mask[2, 0:8] = mask[2, 11:19] = True  # a dashed line: gaps of 2 px ...
    mask[2, 30:34] = True  # ... and a piece 11 px further on
    assert label_regions(mask, merge_gap_px=0)[0] == 3
    count, labels = label_regions(mask, merge_gap_px=3)
    assert count == 2
    assert labels[2, 0] == labels[2, 18] != labels[2, 31]
    assert (labels[~mask] == 0).all()  # labels stay on the defective pixels
    assert label_regions(mask, merge_gap_px=12)[0] == 1
    assert count_alarms(mask[None].astype(np.float32), 0.5, merge_gap_px=3) == 2


def test_upper_bound_is_the_exact_poisson_bound() -> None:
    # Zero alarms: the "rule of three" (-ln 0.05 = 2.996) per metre seen.
    assert false_alarm_rate_upper_bound(0, 0.5) == pytest.approx(2.9957 / 0.5, rel=1e-4)
    # k alarms: the rate at which seeing k or fewer has probability 5 %.
    bound = false_alarm_rate_upper_bound(4, 2.0)
    assert stats.poisson.cdf(4, bound * 2.0) == pytest.approx(0.05, abs=1e-6)
    with pytest.raises(ValueError):
        false_alarm_rate_upper_bound(0, 0.0)


def test_supported_budget_is_the_target_only_when_validation_can_confirm_it() -> None:
    def calibration(metres: float, achieved: float) -> Calibration:
        return Calibration(
            pixel_threshold=0.5,
            tile_threshold=0.5,
            target_false_alarms_per_m=1.0,
            achieved_false_alarms_per_m=achieved,
            tile_false_alarms_per_m=0.0,
            mm_per_px=0.2,
            validation_metres=metres,
            validation_tiles=10,
        )

    short = calibration(0.4, 0.0)  # 0.4 m cannot confirm 1/m
    assert short.supported_false_alarms_per_m == pytest.approx(2.9957 / 0.4, rel=1e-4)
    long = calibration(100.0, 0.5)  # 50 alarms on 100 m: the bound is below the target
    assert long.false_alarms_upper95_per_m < 1.0
    assert long.supported_false_alarms_per_m == 1.0
