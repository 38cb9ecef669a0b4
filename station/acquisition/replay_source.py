"""Image files played back as a moving web, in blocks of lines at a set line rate.

The images are laid end to end along the roll: an image of H rows and W
columns is H lines of W pixels (an AITEX strip, 4096 x 256, is 256 lines of
4096 pixels). Blocks of ``lines_per_block`` lines are cut from that stream
regardless of image boundaries. An image that cannot be read is reported,
counted and skipped; the roll goes on.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from station.acquisition.base import EventCallback, LineSource
from station.acquisition.config import ReplayConfig
from station.acquisition.lines import Lines, Severity, SourceEventKind
from station.acquisition.pacing import LinePacer
from station.acquisition.replay_files import line_width, resolve_replay_files
from training.public import DataError, UnreadableImageError, read_image

logger = logging.getLogger(__name__)


def fit_width(image: np.ndarray, width_px: int) -> np.ndarray:
    """Pad (repeating the last column) or crop an image on the right to ``width_px`` columns.

    Repeating the edge rather than padding with black keeps a narrow strip from
    showing a dark band that the model would flag as a defect.

    Args:
        image: uint8 [h, w] or [h, w, 3].
        width_px: Wanted width.

    Returns:
        uint8 [h, width_px] or [h, width_px, 3].
    """
    width = image.shape[1]
    if width == width_px:
        return image
    if width > width_px:
        return image[:, :width_px]
    padding = [(0, 0), (0, width_px - width)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, padding, mode="edge")


class ReplaySource(LineSource):
    """Plays image files (a folder, a list, AITEX strips, a recorded roll) as line blocks.

    When ``line_rate_hz`` is set, blocks are released in real time and a slow
    consumer loses the oldest blocks (counted, reported). Played as fast as
    possible, the source instead waits for the consumer, since nothing forces it on.

    Args:
        config: What to play and how.
        on_event: Called for every event (from :meth:`start` and the replay thread).
        name: Shown in events and logs.

    Raises (from :meth:`start`):
        ConfigError: a path is missing, nothing to play, or widths differ under
            ``width_mismatch: error``.
    """

    def __init__(
        self, config: ReplayConfig, *, on_event: EventCallback | None = None, name: str = "replay"
    ) -> None:
        super().__init__(name=name, queue_blocks=config.queue_blocks, on_event=on_event)
        self.config = config
        self.files: list[Path] = []
        self.width_px = 0

    def _open(self) -> None:
        self.files = resolve_replay_files(self.config)
        self.width_px = line_width(self.config, self.files)

    def _close(self) -> None:
        pass

    def _produce(self) -> None:
        pacer = LinePacer(line_rate_hz=self.config.line_rate_hz, stop_event=self._stop_requested)
        pending: list[np.ndarray] = []
        pending_lines = 0
        next_line = 0
        while True:
            read_any = False
            for path in self.files:
                if self._stop_requested.is_set():
                    return
                image = self._read(path, at_line=next_line + pending_lines)
                if image is None:
                    continue
                read_any = True
                pending.append(image)
                pending_lines += image.shape[0]
                while pending_lines >= self.config.lines_per_block:
                    block, pending = _take_lines(pending, self.config.lines_per_block)
                    pending_lines -= block.shape[0]
                    if not self._release(block, next_line, pacer):
                        return
                    next_line += block.shape[0]
            if not read_any:
                raise DataError(
                    f"{self.name}: none of the {len(self.files)} images could be read",
                    hint="replace the corrupt files or point the replay at other images",
                )
            if not self.config.loop:
                break
        if pending_lines and not self._release(np.concatenate(pending), next_line, pacer):
            return
        self._emit(
            SourceEventKind.END_OF_ROLL,
            Severity.INFO,
            f"{self.name}: end of roll after {next_line + pending_lines} lines",
            lines=next_line + pending_lines,
        )

    def _read(self, path: Path, *, at_line: int) -> np.ndarray | None:
        """Read one image fitted to the line width; None (reported, counted) if unreadable."""
        try:
            image = read_image(path, channels=self.config.output_channels)
        except UnreadableImageError as error:
            self._count(skipped=1)
            self._emit(
                SourceEventKind.IMAGE_SKIPPED,
                Severity.WARNING,
                f"{self.name}: skipped {path.name}: {error.message}",
                path=str(path),
                at_line=at_line,
            )
            return None
        return fit_width(image, self.width_px)

    def _release(self, pixels: np.ndarray, first_line: int, pacer: LinePacer) -> bool:
        """Wait until the block is due, then queue it; False when stopped meanwhile."""
        if not pacer.wait_for_line(first_line + pixels.shape[0]):
            return False
        block = Lines(pixels=pixels, first_line=first_line, timestamp_s=time.time())
        self._publish(block, wait_for_space=not pacer.paced)
        return True


def _take_lines(pending: list[np.ndarray], count: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Cut the first ``count`` lines off a list of line chunks; returns (block, rest)."""
    taken: list[np.ndarray] = []
    needed = count
    rest = list(pending)
    while needed > 0:
        chunk = rest.pop(0)
        if chunk.shape[0] <= needed:
            taken.append(chunk)
            needed -= chunk.shape[0]
        else:
            taken.append(chunk[:needed])
            rest.insert(0, chunk[needed:])
            needed = 0
    block = taken[0] if len(taken) == 1 else np.concatenate(taken)
    # A block must own its memory: a slice of an image would alias the rest of it.
    return (block if block.base is None else block.copy()), rest
