"""The pipeline on a real GenTL camera (the genicam package's virtual camera, viky.cti)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from station.pipeline import Pipeline
from station.store.config import StoreConfig
from tests.conftest import require
from tests.integration.acquisition.conftest import find_viky_cti
from tests.integration.pipeline.conftest import station_config
from tests.integration.pipeline.store_reading import read_roll


@pytest.mark.camera
def test_camera_frames_flow_through_and_a_white_scene_is_marked_as_no_fabric(
    model_dir: Path, store_config: StoreConfig
) -> None:
    """viky's scene is a flat white field with one small ball: no fabric by the background rule.

    Every line the camera delivered must be accounted for: none inspected, all in
    uninspected stretches whose reason says no fabric was found; the run names the camera.
    """
    cti = find_viky_cti()
    require(cti is not None, "the genicam package's GenTL producer viky.cti")
    config = station_config(
        model_dir,
        store_config,
        source={
            "kind": "camera",
            "camera": {
                "cti_path": str(cti),
                "device": "VikyTL_DEV_red",
                "pixel_format": "Mono8",
                "width_px": 256,
                "lines_per_frame": 128,
                "line_rate_hz": 128 * 20.0,  # 20 frames/s
            },
        },
        geometry={"mm_per_px": 0.2},
    )
    pipeline = Pipeline(config)
    pipeline.start()
    deadline = time.monotonic() + 20
    while pipeline.figures_now().lines < 1024 and time.monotonic() < deadline:
        time.sleep(0.1)
    summary = pipeline.stop()
    assert summary.error is None
    assert summary.lines >= 1024 and summary.tiles == 0
    assert summary.metres_inspected == 0
    assert summary.metres_uninspected == pytest.approx(summary.metres_seen)
    assert all("no fabric found" in " ".join(s.reasons) for s in summary.stretches)
    # Blocks the source dropped and rows a full stage queue dropped (a loaded machine
    # falls behind even on rows without fabric) are each counted once, in the stretches.
    lost = summary.source_dropped_blocks + summary.dropped_rows
    assert sum(s.lost_items for s in summary.stretches) == lost

    _, _, events, runs = read_roll(store_config, summary.roll_key)
    assert runs[0].camera_serial == "0"
    assert any(e.kind == "uninspected_stretch" for e in events)
    dropped_events = sum(e.count for e in events if e.kind == "dropped_blocks")
    assert dropped_events == lost  # rows without fabric are not drops
