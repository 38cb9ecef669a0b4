"""Image files played back as a moving web, in blocks of lines at a set line rate.

The images are laid end to end along the roll: an image of H rows and W
columns is H lines of W pixels (an AITEX strip, 4096 x 256, is 256 lines of
4096 pixels). Line numbers and positions run on from one image to the next,
but the images are not one piece of fabric: each image is cut into its own
blocks of ``lines_per_block`` lines (its last block shorter), and its first
block is marked ``segment_start`` so that the pipeline never joins a tile row,
a web edge or a defect across two images. An image that cannot be read is
reported, counted and skipped; the roll goes on.
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
        next_line = 0
        while True:
            read_any = False
            for path in self.files:
                if self._stop_requested.is_set():
                    return
                image = self._read(path, at_line=next_line)
                if image is None:
                    continue
                read_any = True
                for offset in range(0, image.shape[0], self.config.lines_per_block):
                    pixels = _own_block(image, offset, self.config.lines_per_block)
                    if not self._release(pixels, next_line, pacer, segment_start=offset == 0):
                        return
                    next_line += pixels.shape[0]
            if not read_any:
                raise DataError(
                    f"{self.name}: none of the {len(self.files)} images could be read",
                    hint="replace the corrupt files or point the replay at other images",
                )
            if not self.config.loop:
                break
        self._emit(
            SourceEventKind.END_OF_ROLL,
            Severity.INFO,
            f"{self.name}: end of roll after {next_line} lines",
            lines=next_line,
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

    def _release(
        self, pixels: np.ndarray, first_line: int, pacer: LinePacer, *, segment_start: bool
    ) -> bool:
        """Wait until the block is due, then queue it; False when stopped meanwhile."""
        if not pacer.wait_for_line(first_line + pixels.shape[0]):
            return False
        block = Lines(
            pixels=pixels,
            first_line=first_line,
            timestamp_s=time.time(),
            segment_start=segment_start,
        )
        self._publish(block, wait_for_space=not pacer.paced)
        return True


def _own_block(image: np.ndarray, offset: int, lines: int) -> np.ndarray:
    """Lines ``[offset, offset + lines)`` of an image, as an array that owns its memory.

    A block must own its memory: a slice would keep the rest of the image alive
    and alias it.
    """
    if offset == 0 and lines >= image.shape[0] and image.base is None:
        return image
    return image[offset : offset + lines].copy()
