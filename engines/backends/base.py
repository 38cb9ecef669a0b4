"""The one interface every inference backend offers to the station.

``infer(tiles uint8 [B, S, S, C]) -> InferenceResult`` with the same named
fields as the PyTorch model's :class:`~training.cras.model.CrasOutput`, as
numpy arrays on the host. Backends are context managers; ``close()`` frees
device memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from training.errors import CrasStationError


class InferenceResult(NamedTuple):
    """Host-side results of one batch.

    Attributes:
        tile_score: float32 [B], maximum patch score.
        score_grid: float32 [B, H, W], patch scores.
        anomaly_map: float32 [B, S, S], smoothed full-size map.
        matched_class: int64 [B], index into the model's classes.
    """

    tile_score: np.ndarray
    score_grid: np.ndarray
    anomaly_map: np.ndarray
    matched_class: np.ndarray


@dataclass(frozen=True)
class BackendInfo:
    """What a backend runs and how (for logs, reports and the UI)."""

    name: str
    device: str
    precision: str
    model_hash: str
    classes: tuple[str, ...]
    tile_px: int
    in_channels: int
    max_batch: int


class BackendInputError(CrasStationError):
    """Tiles handed to a backend have the wrong shape or type."""


class InferenceBackend(ABC):
    """Base class: validates input, then delegates to :meth:`_infer`."""

    info: BackendInfo

    def infer(self, tiles: np.ndarray) -> InferenceResult:
        """Score a batch of tiles.

        Args:
            tiles: uint8 [B, S, S, C] with S and C as the model expects; B >= 1
                (batches above ``info.max_batch`` are split, and backends that
                can overlap the pieces' copies and compute do so).

        Returns:
            The model's outputs for every tile, in order.

        Raises:
            BackendInputError: wrong dtype, rank, tile size or channel count, or no tiles.
        """
        self._check_tiles(tiles)
        if len(tiles) <= self.info.max_batch:
            return self._infer(np.ascontiguousarray(tiles))
        return _concatenate(list(self._infer_batches(self._split(tiles))))

    def infer_batches(self, batches: Iterable[np.ndarray]) -> Iterator[InferenceResult]:
        """Score a stream of batches, yielding each batch's result in order.

        Lets a backend overlap the transfer of the next batch with the work on
        the current one (TensorRT does); the others run them one by one.
        Every batch is checked like :meth:`infer`'s and split above ``max_batch``.
        """
        pieces_per_batch: deque[int] = deque()

        def pieces() -> Iterator[np.ndarray]:
            for tiles in batches:
                self._check_tiles(tiles)
                parts = list(self._split(tiles))
                pieces_per_batch.append(len(parts))
                yield from parts

        done: list[InferenceResult] = []
        for result in self._infer_batches(pieces()):
            done.append(result)
            if len(done) == pieces_per_batch[0]:
                pieces_per_batch.popleft()
                yield _concatenate(done)
                done = []

    def _check_tiles(self, tiles: np.ndarray) -> None:
        expected = (self.info.tile_px, self.info.tile_px, self.info.in_channels)
        if (
            not isinstance(tiles, np.ndarray)
            or tiles.dtype != np.uint8
            or tiles.ndim != 4
            or tiles.shape[1:] != expected
        ):
            got = (
                f"{tiles.dtype} {list(tiles.shape)}"
                if isinstance(tiles, np.ndarray)
                else type(tiles).__name__
            )
            raise BackendInputError(
                f"tiles must be uint8 [B, {expected[0]}, {expected[1]}, {expected[2]}], got {got}",
                hint="tile the web with the model's tile size and channel count",
            )
        if len(tiles) == 0:
            raise BackendInputError("empty batch", hint="send at least one tile")

    def _split(self, tiles: np.ndarray) -> Iterator[np.ndarray]:
        step = self.info.max_batch
        for start in range(0, len(tiles), step):
            yield np.ascontiguousarray(tiles[start : start + step])

    def _infer_batches(self, batches: Iterable[np.ndarray]) -> Iterator[InferenceResult]:
        """Score already-split batches in order (override to overlap them)."""
        for batch in batches:
            yield self._infer(batch)

    @abstractmethod
    def _infer(self, tiles: np.ndarray) -> InferenceResult:
        """Score at most ``max_batch`` contiguous tiles."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release resources (device memory, sessions)."""

    def __enter__(self) -> InferenceBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _concatenate(parts: list[InferenceResult]) -> InferenceResult:
    if len(parts) == 1:
        return parts[0]
    return InferenceResult(*(np.concatenate(field) for field in zip(*parts, strict=True)))
