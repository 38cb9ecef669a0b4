"""HarvestersSource against the real GenTL producer viky.cti (a virtual camera).

viky renders a white scene with one square "ball" of BouncingBallSize pixels
in the device's colour (red, green, blue for devices 0, 1, 2); in Mono8 the
ball is black. That makes pixel values checkable exactly.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from station.acquisition import (
    CameraConfig,
    CameraGoneError,
    CameraNotFoundError,
    CameraSettingError,
    HarvestersSource,
    ProducerError,
    SourceEvent,
    SourceEventKind,
    SourceTimeoutError,
)

pytestmark = pytest.mark.camera

RED = "VikyTL_DEV_red"


def _source(
    cti: Path, events: list[SourceEvent] | None = None, **fields: object
) -> HarvestersSource:
    config = CameraConfig(cti_path=cti, **fields)
    return HarvestersSource(config, on_event=None if events is None else events.append)


def _kinds(events: list[SourceEvent]) -> list[SourceEventKind]:
    return [event.kind for event in events]


def test_mono8_frames_arrive_with_the_configured_shape_and_values(viky_cti: Path) -> None:
    source = _source(
        viky_cti,
        device=RED,
        pixel_format="Mono8",
        width_px=320,
        lines_per_frame=120,
        settings={"BouncingBallSize": 10, "AcquisitionFrameRate": 200.0},
    )
    with source:
        blocks = [source.read(timeout_s=5) for _ in range(5)]
        stats = source.stats
    for index, block in enumerate(blocks):
        assert block.pixels.shape == (120, 320) and block.pixels.dtype == np.uint8
        assert block.first_line == 120 * index
        assert block.encoder_mm is None
        values, counts = np.unique(block.pixels, return_counts=True)
        assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == {0: 100, 255: 38300}
    assert stats.blocks >= 5 and stats.lines == 120 * stats.blocks
    assert blocks[-1].timestamp_s >= blocks[0].timestamp_s


def test_rgba8_is_converted_to_rgb_and_to_grey(viky_cti: Path) -> None:
    with _source(viky_cti, device="0", output_channels=3) as source:  # device by serial number
        rgb = source.read(timeout_s=5).pixels
        assert source.device is not None and source.device.id == RED
    assert rgb.shape == (400, 400, 3)
    colours = {tuple(c) for c in np.unique(rgb.reshape(-1, 3), axis=0).tolist()}
    assert colours == {(255, 0, 0), (255, 255, 255)}
    assert (rgb == [255, 0, 0]).all(axis=2).sum() == 20 * 20  # the default ball
    with _source(viky_cti, device=RED, output_channels=1) as source:
        grey = source.read(timeout_s=5).pixels
    assert grey.shape == (400, 400)
    assert set(np.unique(grey).tolist()) == {76, 255}  # luma of pure red, as Pillow computes it


def test_settings_are_applied_where_the_node_exists_and_reported_where_not(
    viky_cti: Path,
) -> None:
    events: list[SourceEvent] = []
    source = _source(
        viky_cti,
        events,
        device=RED,
        pixel_format="Mono8",
        width_px=256,
        lines_per_frame=100,
        line_rate_hz=10_000.0,
        trigger_source="Encoder0",
    )
    with source:
        block = source.read(timeout_s=5)
        report = {(r.node, r.field): r for r in source.settings_report}
        features = source.features
    assert block.pixels.shape == (100, 256)
    for node, value in (("PixelFormat", "Mono8"), ("Width", 256), ("Height", 100)):
        result = next(r for r in report.values() if r.node == node)
        assert result.applied and result.actual == value
        assert features[node] == value
    # viky is an area camera: no line rate, so the frame rate carries it (10000 / 100).
    line_rate = report[("AcquisitionLineRate", "camera.line_rate_hz")]
    assert not line_rate.applied and "not present" in line_rate.note
    frame_rate = report[("AcquisitionFrameRate", "camera.line_rate_hz")]
    assert frame_rate.applied and frame_rate.actual == pytest.approx(100.0)
    assert "derived" in frame_rate.note
    for node in ("TriggerSelector", "TriggerMode", "TriggerSource"):
        assert not report[(node, "camera.trigger_source")].applied
    not_applied = [e for e in events if e.kind == SourceEventKind.SETTING_NOT_APPLIED]
    assert {e.details["node"] for e in not_applied} == {
        "AcquisitionLineRate",
        "TriggerSelector",
        "TriggerMode",
        "TriggerSource",
    }


def test_rejected_value_names_the_field_and_the_range(viky_cti: Path) -> None:
    source = _source(viky_cti, device=RED, width_px=100_000)
    with pytest.raises(CameraSettingError) as caught:
        source.start()
    assert "camera.width_px" in caught.value.message and "Width" in caught.value.message
    assert "from 100 to 800" in caught.value.hint
    assert not source.is_running
    # Everything was released: the producer can be opened again at once.
    with _source(viky_cti, device=RED) as again:
        assert again.read(timeout_s=5).num_lines == 400


def test_pixel_format_the_camera_does_not_offer(viky_cti: Path) -> None:
    with pytest.raises(CameraSettingError) as caught:
        _source(viky_cti, device=RED, pixel_format="BayerRG8").start()
    assert "camera.pixel_format" in caught.value.message and "BayerRG8" in caught.value.message
    assert "RGBa8" in caught.value.hint and "Mono8" in caught.value.hint


def test_unknown_device_lists_the_available_ones(viky_cti: Path) -> None:
    with pytest.raises(CameraNotFoundError) as caught:
        _source(viky_cti, device="LineCam-4K").start()
    message = caught.value.message
    assert "camera.device" in message and "'LineCam-4K'" in message
    for device_id in ("VikyTL_DEV_red", "VikyTL_DEV_green", "VikyTL_DEV_blue"):
        assert device_id in message
    assert "station camera list" in caught.value.hint
    with pytest.raises(CameraNotFoundError, match="not set, and the producer offers 3 devices"):
        _source(viky_cti).start()


def test_a_producer_opens_once_per_process(viky_cti: Path) -> None:
    second = _source(viky_cti, device="VikyTL_DEV_green")
    with (
        _source(viky_cti, device=RED),
        pytest.raises(ProducerError, match="already open in this process"),
    ):
        second.start()


def test_encoder_chunk_is_read_where_it_exists(viky_cti: Path) -> None:
    # viky has no encoder; its ChunkNrBounces chunk stands in to exercise the chunk read path.
    source = _source(
        viky_cti, device=RED, encoder_chunk_node="ChunkNrBounces", mm_per_encoder_count=0.5
    )
    with source:
        block = source.read(timeout_s=5)
    assert isinstance(block.encoder_mm, float) and block.encoder_mm >= 0.0
    events: list[SourceEvent] = []
    missing = _source(
        viky_cti, events, device=RED, encoder_chunk_node="ChunkEncoderValue", mm_per_encoder_count=1
    )
    with missing:
        blocks = [missing.read(timeout_s=5) for _ in range(3)]
    assert all(b.encoder_mm is None for b in blocks)
    warnings = [e for e in events if "ChunkEncoderValue" in e.message]
    assert len(warnings) == 1  # reported once, not per frame


def test_stall_is_counted_and_read_times_out(viky_cti: Path) -> None:
    events: list[SourceEvent] = []
    source = _source(
        viky_cti, events, device=RED, frame_timeout_s=0.3, settings={"AcquisitionFrameRate": 1.0}
    )
    with source:
        source.read(timeout_s=5)  # the first frame comes at once
        assert source.try_read(timeout_s=0.1) is None
        with pytest.raises(SourceTimeoutError):
            source.read(timeout_s=0.1)
        time.sleep(0.5)
        stats = source.stats
    assert stats.timeouts >= 1
    assert SourceEventKind.FRAME_TIMEOUT in _kinds(events)


def test_slow_consumer_drops_the_oldest_frames_and_counts_them(viky_cti: Path) -> None:
    events: list[SourceEvent] = []
    source = _source(
        viky_cti,
        events,
        device=RED,
        queue_blocks=2,
        lines_per_frame=100,
        settings={"AcquisitionFrameRate": 200.0},
    )
    with source:
        time.sleep(0.5)  # about 100 frames arrive; only 2 fit
        first = source.read(timeout_s=5)
        stats = source.stats
    assert stats.dropped >= 1 and stats.dropped_lines == 100 * stats.dropped
    assert first.first_line == 100 * stats.dropped  # the oldest were thrown away
    assert SourceEventKind.BLOCKS_DROPPED in _kinds(events)


def _destroy_later(source: HarvestersSource, delay_s: float) -> threading.Thread:
    """Pull the device: destroy the acquirer from another thread while frames stream."""
    acquirer = source.acquirer
    assert acquirer is not None

    def pull() -> None:
        time.sleep(delay_s)
        acquirer.destroy()

    thread = threading.Thread(target=pull)
    thread.start()
    return thread


def test_pulled_device_reconnects_and_frames_resume(viky_cti: Path) -> None:
    events: list[SourceEvent] = []
    source = _source(
        viky_cti,
        events,
        device=RED,
        lines_per_frame=100,
        settings={"AcquisitionFrameRate": 100.0},
        reconnect_initial_delay_s=0.1,
    )
    with source:
        before = source.read(timeout_s=5)
        old_acquirer = source.acquirer
        _destroy_later(source, 0.1).join()
        began = time.monotonic()
        while SourceEventKind.CAMERA_RECONNECTED not in _kinds(events):
            source.try_read(timeout_s=0.1)  # keep consuming; never blocks for long
            assert time.monotonic() - began < 10, "no reconnect within 10 s"
        after = source.read(timeout_s=5)
        stats = source.stats
        assert source.acquirer is not None and source.acquirer is not old_acquirer
    kinds = _kinds(events)
    lost_at = kinds.index(SourceEventKind.CAMERA_LOST)
    assert lost_at < kinds.index(SourceEventKind.CAMERA_RECONNECTED)
    assert stats.reconnects == 1
    assert after.first_line > before.first_line
    assert after.pixels.shape == (100, 400)  # the settings were applied again


def test_pulled_device_without_retries_is_a_clear_fault_not_a_hang(viky_cti: Path) -> None:
    events: list[SourceEvent] = []
    source = _source(viky_cti, events, device=RED, reconnect_attempts=0)
    source.start()
    try:
        source.read(timeout_s=5)
        _destroy_later(source, 0.05).join()
        began = time.monotonic()
        with pytest.raises(CameraGoneError) as caught:
            while True:  # drain what was queued before the loss, then the fault comes
                source.read(timeout_s=5)
        assert time.monotonic() - began < 5
    finally:
        began = time.monotonic()
        source.stop(timeout_s=3)
        assert time.monotonic() - began < 3
    assert "reconnection attempt" in caught.value.message
    assert "cable" in caught.value.hint
    assert SourceEventKind.CAMERA_GONE in _kinds(events)


def test_stop_is_prompt_while_streaming(viky_cti: Path) -> None:
    source = _source(viky_cti, device=RED)
    source.start()
    source.read(timeout_s=5)
    began = time.monotonic()
    source.stop(timeout_s=3)
    assert time.monotonic() - began < 2
    assert not source.is_running and source.acquirer is None
