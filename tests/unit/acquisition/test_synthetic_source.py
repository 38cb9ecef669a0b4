"""SyntheticFabricSource: a seeded web whose planted defects and masks are known."""

from __future__ import annotations

import time

import numpy as np
import pytest

from station.acquisition import (
    Lines,
    SourceEvent,
    SourceEventKind,
    SyntheticConfig,
    SyntheticFabricSource,
)
from training.data.fabric.style import preset
from training.data.fabric.web import FabricWeb
from training.errors import ConfigError
from training.typed_config import validate_config

WIDTH = 192


def _config(**fields: object) -> SyntheticConfig:
    values: dict[str, object] = {
        "fabric_preset": "grey_twill",
        "width_px": WIDTH,
        "seed": 11,
        "defects_per_metre": 150.0,  # one per ~67 lines at 0.1 mm/line: every test sees some
        "lines_per_block": 96,
        "total_lines": 960,
    }
    values.update(fields)
    return SyntheticConfig(**values)


def _play(config: SyntheticConfig) -> tuple[list[Lines], SyntheticFabricSource]:
    source = SyntheticFabricSource(config)
    with source:
        blocks = list(source)
    return blocks, source


def test_blocks_number_lines_and_end_at_total_lines() -> None:
    events: list[SourceEvent] = []
    source = SyntheticFabricSource(_config(lines_per_block=100), on_event=events.append)
    with source:
        blocks = list(source)
    assert [b.first_line for b in blocks] == list(range(0, 960, 100))
    assert [b.num_lines for b in blocks] == [100] * 9 + [60]
    assert all(
        b.pixels.shape == (b.num_lines, WIDTH) and b.pixels.dtype == np.uint8 for b in blocks
    )
    assert SourceEventKind.END_OF_ROLL in [e.kind for e in events]


def test_same_seed_same_roll_and_block_size_does_not_change_the_picture() -> None:
    blocks_a, _ = _play(_config(lines_per_block=96))
    blocks_b, _ = _play(_config(lines_per_block=160))
    web_a = np.concatenate([b.pixels for b in blocks_a])
    np.testing.assert_array_equal(web_a, np.concatenate([b.pixels for b in blocks_b]))
    other, _ = _play(_config(seed=12))
    assert not np.array_equal(web_a, np.concatenate([b.pixels for b in other]))


def test_pixels_and_masks_are_the_generators() -> None:
    """The source passes its configuration through: same roll as FabricWeb made directly."""
    blocks, _ = _play(_config())
    web = FabricWeb(
        preset("grey_twill"), width_px=WIDTH, seed=11, defects_per_metre=150.0, mm_per_px=0.1
    )
    expected = web.block_at(0, 960)
    np.testing.assert_array_equal(np.concatenate([b.pixels for b in blocks]), expected.pixels)
    masks = np.concatenate([b.truth_mask for b in blocks])
    np.testing.assert_array_equal(masks, expected.mask)


def test_planted_defects_match_the_masks() -> None:
    blocks, source = _play(_config())
    mask = np.concatenate([b.truth_mask for b in blocks])
    defects = source.planted_defects
    assert len(defects) >= 3 and mask.any()
    assert [d.defect_id for d in defects] == sorted({d.defect_id for d in defects})
    covered = np.zeros_like(mask)
    for defect in defects:
        x0, y0, x1, y1 = defect.bbox
        assert 0 <= x0 < x1 <= WIDTH and y0 < 960 and y1 > 0
        inside = mask[max(y0, 0) : min(y1, 960), x0:x1]
        assert inside.any(), defect  # every planted defect shows in the mask
        covered[max(y0, 0) : min(y1, 960), x0:x1] = True
    assert not (mask & ~covered).any()  # and no mask pixel lies outside every defect's box


def test_rgb_output_and_no_defects() -> None:
    blocks, source = _play(_config(fabric_preset="denim", output_channels=3, defects_per_metre=0))
    assert blocks[0].pixels.shape == (96, WIDTH, 3)
    assert not any(b.truth_mask.any() for b in blocks) and source.planted_defects == []


def test_pacing_never_runs_ahead_of_the_line_rate() -> None:
    rate = 2000.0
    started = time.time()
    blocks, _ = _play(_config(line_rate_hz=rate, total_lines=400, lines_per_block=100))
    for block in blocks:
        assert block.timestamp_s >= started + block.end_line / rate - 0.02


def test_endless_web_until_stopped() -> None:
    with SyntheticFabricSource(_config(total_lines=None, lines_per_block=64)) as source:
        blocks = [source.read(timeout_s=5) for _ in range(20)]
    assert blocks[-1].end_line == 20 * 64


def test_bad_preset_and_kinds_name_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(SyntheticConfig, {"fabric_preset": "tweed"}, source="station.yaml")
    assert "field `fabric_preset`" in caught.value.message and "grey_twill" in caught.value.message
    with pytest.raises(ConfigError, match=r"field `defect_kinds`.*'moth_hole'"):
        validate_config(
            SyntheticConfig,
            {"fabric_preset": "denim", "defect_kinds": ["moth_hole"]},
            source="station.yaml",
        )
