"""When inference falls behind: drops counted, lost fabric marked, memory bounded."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from engines.backends.base import InferenceBackend, InferenceResult
from engines.backends.factory import open_backend
from station.pipeline import Pipeline, UninspectedStretchFound
from station.pipeline.source_events import SOURCE_QUEUE_OVERFLOW
from station.store.config import StoreConfig
from tests.integration.pipeline.conftest import TILE_PX, station_config
from tests.integration.pipeline.store_reading import read_roll

LINES, WIDTH, LINE_RATE_HZ = 80_000, 256, 40_000.0
WEB_BYTES = LINES * WIDTH  # grey pixels of the whole roll


class SlowedBackend(InferenceBackend):
    """The real model (PyTorch on the CPU), made slower: each call sleeps ``delay_s`` first."""

    def __init__(self, inner: InferenceBackend, *, delay_s: float) -> None:
        self.inner = inner
        self.info = inner.info
        self.delay_s = delay_s

    def _infer(self, tiles: np.ndarray) -> InferenceResult:
        time.sleep(self.delay_s)
        return self.inner.infer(tiles)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def slow_backend(model_dir: Path):
    backend = SlowedBackend(
        open_backend(model_dir, kind="torch", device="cpu", max_batch=4), delay_s=0.1
    )
    yield backend
    backend.close()


def test_slow_inference_drops_oldest_rows_and_marks_every_lost_metre(
    model_dir: Path, store_config: StoreConfig, slow_backend: SlowedBackend
) -> None:
    config = station_config(
        model_dir,
        store_config,
        source={
            "kind": "synthetic",
            "synthetic": {
                "fabric_preset": "grey_twill",
                "width_px": WIDTH,
                "seed": 1,
                "defects_per_metre": 5.0,
                "lines_per_block": 64,
                "line_rate_hz": LINE_RATE_HZ,  # a camera: it never waits for the pipeline
                "total_lines": LINES,
                "mm_per_px": 0.1,
            },
        },
        model={"batch_size": 4},  # one row of four tiles per call: ~8 rows/s against 625 rows/s
        pipeline={"inference_queue_rows": 2, "result_queue_rows": 2},
        extraction={"max_defect_length_mm": 20.0},
    )
    pipeline = Pipeline(config, backend=slow_backend)
    stretches_seen = pipeline.bus.subscribe_queue(kinds=(UninspectedStretchFound,))
    pipeline.start()
    tracemalloc.start()  # after start-up: what the running pipeline holds
    try:
        assert pipeline.wait(timeout_s=60)
        summary = pipeline.stop()
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.error is None

    # Drops are counted, and every dropped row (and any block the source dropped, on a
    # busy machine) is inside a recorded stretch that says why.
    assert summary.dropped_rows > 0.5 * LINES / TILE_PX
    lost = sum(s.lost_items for s in summary.stretches)
    assert lost == summary.dropped_rows + summary.source_dropped_blocks
    reasons = {reason for s in summary.stretches for reason in s.reasons}
    assert "inference fell behind" in reasons
    assert reasons <= {"inference fell behind", SOURCE_QUEUE_OVERFLOW}
    assert len(stretches_seen.drain()) == len(summary.stretches)
    # Every metre is inspected or marked, nothing twice.
    assert summary.metres_seen == pytest.approx(LINES * 0.1 / 1000)
    assert summary.metres_inspected + summary.metres_uninspected == pytest.approx(
        summary.metres_seen
    )
    assert summary.metres_inspected > 0

    roll, _, events, _ = read_roll(store_config, summary.roll_key)
    stored = sorted((e.from_mm, e.to_mm) for e in events if e.kind == "uninspected_stretch")
    expected = sorted((s.from_mm, s.to_mm) for s in summary.stretches)
    np.testing.assert_allclose(np.array(stored), np.array(expected))
    assert sum(e.count for e in events if e.kind == "dropped_blocks") == lost
    assert roll.length_inspected_mm == pytest.approx(summary.metres_inspected * 1000)

    # Bounded memory: queues never exceeded their capacity (+ the end marker), the
    # extraction band stayed within the longest defect plus two rows, and the traced
    # peak is a fraction of the roll's pixels (unbounded queues would hold the tiles,
    # pixels and background masks of almost every row: several times the roll).
    assert summary.max_queue_depths["inference"] <= 2 + 1
    assert summary.max_queue_depths["extraction"] <= 2 + 1
    assert summary.max_band_lines <= 200 + 2 * TILE_PX
    assert peak_bytes < 0.5 * WEB_BYTES, f"traced peak {peak_bytes} B"
