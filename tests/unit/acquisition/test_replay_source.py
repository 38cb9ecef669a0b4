"""ReplaySource on tiny seeded strips: line order, blocks, looping, bad files, pacing, drops."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from station.acquisition import (
    Lines,
    ReplayConfig,
    ReplaySource,
    SourceEvent,
    SourceEventKind,
    SourceFinishedError,
    SourceNotRunningError,
    SourceTimeoutError,
)
from station.acquisition.replay_source import fit_width
from training.errors import ConfigError, DataError

WIDTH = 40
STRIP_LINES = (30, 50, 20)


@pytest.fixture
def strips(tmp_path: Path) -> tuple[list[Path], np.ndarray]:
    """Three grey strips of different lengths and the web they make end to end."""
    rng = np.random.default_rng(7)
    folder = tmp_path / "roll"
    folder.mkdir()
    images, paths = [], []
    for index, lines in enumerate(STRIP_LINES):
        image = rng.integers(0, 256, (lines, WIDTH), dtype=np.uint8)
        path = folder / f"strip_{index:02d}.png"
        Image.fromarray(image).save(path)
        images.append(image)
        paths.append(path)
    return paths, np.concatenate(images)


def _play_all(config: ReplayConfig, events: list[SourceEvent] | None = None) -> list[Lines]:
    with ReplaySource(config, on_event=None if events is None else events.append) as source:
        return list(source)


def test_each_file_is_cut_into_its_own_blocks_and_starts_a_segment(
    strips: tuple[list[Path], np.ndarray],
) -> None:
    paths, web = strips
    blocks = _play_all(ReplayConfig(paths=[paths[0].parent], lines_per_block=16))
    # 30, 50 and 20 lines: no block spans two files, each file's last block is short.
    assert [b.num_lines for b in blocks] == [16, 14, 16, 16, 16, 2, 16, 4]
    starts = [0, 16, 30, 46, 62, 78, 80, 96]
    assert [b.first_line for b in blocks] == starts  # line numbers run on across files
    first_blocks = [True, False, True, False, False, False, True, False]
    assert [b.segment_start for b in blocks] == first_blocks
    np.testing.assert_array_equal(np.concatenate([b.pixels for b in blocks]), web)
    assert all(b.encoder_mm is None and b.truth_mask is None for b in blocks)
    assert all(b.pixels.base is None for b in blocks)  # each block owns its memory


def test_files_play_in_the_given_order(strips: tuple[list[Path], np.ndarray]) -> None:
    paths, _ = strips
    blocks = _play_all(ReplayConfig(paths=[paths[2], paths[0]], lines_per_block=25))
    web = np.concatenate([b.pixels for b in blocks])
    expected = np.concatenate([np.asarray(Image.open(paths[2])), np.asarray(Image.open(paths[0]))])
    np.testing.assert_array_equal(web, expected)


def test_after_the_last_block_read_says_finished(strips: tuple[list[Path], np.ndarray]) -> None:
    paths, _ = strips
    events: list[SourceEvent] = []
    with ReplaySource(ReplayConfig(paths=paths, lines_per_block=100), on_event=events.append) as s:
        assert [s.read(timeout_s=5).num_lines for _ in STRIP_LINES] == list(STRIP_LINES)
        with pytest.raises(SourceFinishedError):
            s.read(timeout_s=5)
    assert SourceEventKind.END_OF_ROLL in [e.kind for e in events]
    with pytest.raises(SourceNotRunningError):
        ReplaySource(ReplayConfig(paths=paths)).read(timeout_s=0.1)


def test_loop_continues_line_numbers_and_repeats_content(
    strips: tuple[list[Path], np.ndarray],
) -> None:
    paths, web = strips
    with ReplaySource(ReplayConfig(paths=paths, lines_per_block=30, loop=True)) as source:
        blocks = [source.read(timeout_s=5) for _ in range(12)]  # 300 lines = 3 passes
    # Per pass: 30 lines, 30 + 20 lines, 20 lines; every file starts a segment.
    assert [b.num_lines for b in blocks] == [30, 30, 20, 20] * 3
    starts = [100 * p + s for p in range(3) for s in (0, 30, 60, 80)]
    assert [b.first_line for b in blocks] == starts
    assert [b.segment_start for b in blocks] == [True, True, False, True] * 3
    played = np.concatenate([b.pixels for b in blocks])
    np.testing.assert_array_equal(played, np.concatenate([web, web, web]))


def test_corrupt_file_mid_roll_is_skipped_counted_and_reported(
    strips: tuple[list[Path], np.ndarray],
) -> None:
    paths, _ = strips
    paths[1].write_bytes(b"\x89PNG\r\n\x1a\n truncated")  # a PNG header, then garbage
    events: list[SourceEvent] = []
    with ReplaySource(
        ReplayConfig(paths=paths, lines_per_block=10), on_event=events.append
    ) as source:
        blocks = list(source)
        stats = source.stats
    assert sum(b.num_lines for b in blocks) == STRIP_LINES[0] + STRIP_LINES[2]
    assert stats.skipped == 1
    skipped = [e for e in events if e.kind == SourceEventKind.IMAGE_SKIPPED]
    assert len(skipped) == 1 and skipped[0].details["path"] == str(paths[1])
    assert skipped[0].details["at_line"] == STRIP_LINES[0]


def test_all_files_corrupt_is_a_clear_error_not_an_endless_loop(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    source = ReplaySource(ReplayConfig(paths=[bad], width_px=8, loop=True))
    with source, pytest.raises(DataError, match="none of the 1 images could be read"):
        source.read(timeout_s=5)


def test_narrow_strip_is_padded_with_its_edge(tmp_path: Path) -> None:
    wide = np.full((4, 12), 100, np.uint8)
    narrow = np.arange(4 * 9, dtype=np.uint8).reshape(4, 9)
    Image.fromarray(wide).save(tmp_path / "a.png")
    Image.fromarray(narrow).save(tmp_path / "b.png")
    blocks = _play_all(ReplayConfig(paths=[tmp_path], lines_per_block=8))
    assert [b.pixels.shape for b in blocks] == [(4, 12), (4, 12)]
    padded = blocks[1].pixels
    np.testing.assert_array_equal(padded[:, :9], narrow)
    np.testing.assert_array_equal(padded[:, 9:], np.repeat(narrow[:, -1:], 3, axis=1))


def test_wide_strip_is_cropped_and_rgb_is_kept() -> None:
    image = np.random.default_rng(3).integers(0, 256, (5, 10, 3), dtype=np.uint8)
    np.testing.assert_array_equal(fit_width(image, 6), image[:, :6])
    assert fit_width(image, 13).shape == (5, 13, 3)


def test_width_mismatch_error_lists_the_files(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((4, 12), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((4, 9), np.uint8)).save(tmp_path / "b.png")
    source = ReplaySource(ReplayConfig(paths=[tmp_path], width_mismatch="error"))
    with pytest.raises(ConfigError, match=r"not 12 px wide: b.png \(9 px\)"):
        source.start()
    assert not source.is_running


def test_missing_path_names_the_entry(tmp_path: Path) -> None:
    source = ReplaySource(ReplayConfig(paths=[tmp_path / "nope.png"]))
    with pytest.raises(ConfigError, match=r"replay.paths\[0\]: .*nope.png does not exist"):
        source.start()


def test_rgb_output(strips: tuple[list[Path], np.ndarray]) -> None:
    paths, web = strips
    blocks = _play_all(ReplayConfig(paths=paths, lines_per_block=50, output_channels=3))
    rgb = np.concatenate([b.pixels for b in blocks])
    assert rgb.shape == (*web.shape, 3)
    np.testing.assert_array_equal(rgb[..., 1], web)


def test_pacing_follows_the_line_rate_without_drift(
    strips: tuple[list[Path], np.ndarray],
) -> None:
    """100 lines at 400 lines/s take about 0.25 s; block k is not released before its time."""
    paths, _ = strips
    rate = 400.0
    config = ReplayConfig(paths=paths, lines_per_block=20, line_rate_hz=rate)
    started = time.time()
    blocks = _play_all(config)
    for block in blocks:
        due = started + block.end_line / rate
        assert block.timestamp_s >= due - 0.02, block.first_line  # never early
    # Lower bound only: a busy CI machine may be late, but never faster than the rate.
    assert blocks[-1].timestamp_s - started >= 100 / rate - 0.02


def test_slow_consumer_loses_the_oldest_blocks_counted_and_reported(
    strips: tuple[list[Path], np.ndarray],
) -> None:
    paths, web = strips
    events: list[SourceEvent] = []
    config = ReplayConfig(paths=paths, lines_per_block=10, line_rate_hz=1e6, queue_blocks=3)
    with ReplaySource(config, on_event=events.append) as source:
        while not any(e.kind == SourceEventKind.END_OF_ROLL for e in events):
            time.sleep(0.01)
        kept = [source.read(timeout_s=1) for _ in range(3)]
        stats = source.stats
    assert [b.first_line for b in kept] == [70, 80, 90]  # the newest survive
    np.testing.assert_array_equal(kept[-1].pixels, web[90:])
    assert stats.dropped == 7 and stats.dropped_lines == 70 and stats.blocks == 10
    dropped = [e.details["first_line"] for e in events if e.kind == SourceEventKind.BLOCKS_DROPPED]
    assert dropped == list(range(0, 70, 10))


def test_unpaced_replay_waits_for_the_consumer_instead_of_dropping(
    strips: tuple[list[Path], np.ndarray],
) -> None:
    paths, web = strips
    config = ReplayConfig(paths=paths, lines_per_block=10, queue_blocks=2)
    with ReplaySource(config) as source:
        time.sleep(0.2)  # the producer fills the queue and waits
        blocks = list(source)
        assert source.stats.dropped == 0
    np.testing.assert_array_equal(np.concatenate([b.pixels for b in blocks]), web)


def test_read_times_out_and_stop_is_prompt_while_pacing(
    strips: tuple[list[Path], np.ndarray],
) -> None:
    paths, _ = strips
    source = ReplaySource(ReplayConfig(paths=paths, lines_per_block=50, line_rate_hz=10.0))
    source.start()
    assert source.try_read(timeout_s=0.05) is None
    with pytest.raises(SourceTimeoutError, match="no line block within"):
        source.read(timeout_s=0.05)
    began = time.monotonic()
    source.stop(timeout_s=2.0)
    assert time.monotonic() - began < 1.5
    assert not source.is_running


def test_a_failing_event_callback_does_not_stop_the_roll(
    strips: tuple[list[Path], np.ndarray],
) -> None:
    paths, web = strips

    def broken(event: SourceEvent) -> None:
        raise RuntimeError("subscriber bug")

    with ReplaySource(ReplayConfig(paths=paths, lines_per_block=50), on_event=broken) as source:
        blocks = list(source)
    assert sum(b.num_lines for b in blocks) == web.shape[0]


def test_stopping_an_unpaced_replay_with_a_full_queue_drops_nothing(
    strips: tuple[list[Path], np.ndarray],
) -> None:
    """A stop is not an overflow: the block the waiting producer holds is simply not queued."""
    paths, web = strips
    events: list[SourceEvent] = []
    config = ReplayConfig(paths=paths, lines_per_block=10, queue_blocks=2, loop=True)
    source = ReplaySource(config, on_event=events.append)
    source.start()
    time.sleep(0.2)  # the producer fills the queue and waits with a third block in hand
    source.stop(timeout_s=2.0)
    assert source.stats.dropped == 0
    assert not [e for e in events if e.kind == SourceEventKind.BLOCKS_DROPPED]
    kept = [source.try_read(timeout_s=0.1) for _ in range(2)]
    assert [b.first_line for b in kept if b is not None] == [0, 10]  # the queued blocks stay
    np.testing.assert_array_equal(kept[0].pixels, web[:10])
