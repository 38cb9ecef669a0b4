"""Defect-level figures from the real pipeline on replayed strips with masks.

``station evaluate --pipeline`` (docs/quality.md): strips (AITEX test strips, or any
images with masks) are replayed as one roll through the station's own path -- replay
source (one segment per file), web edges, tiling with the station's overlap, the
model's backend at its calibrated threshold, stitching, extraction, a scratch SQLite
store -- and what it logged is scored against the masks
(:mod:`station.pipeline.defect_scoring`). Lines are square: ``mm_per_line`` =
``mm_per_px``, the model's calibrated pixel size.
"""

from __future__ import annotations

import bisect
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engines.backends.base import InferenceBackend
from station.pipeline.config import StationConfig, TilingConfig
from station.pipeline.defect_scoring import (
    LOCALISED_MM,
    DefectTally,
    StripScore,
    StripTruth,
    score_strips,
    tallies,
)
from station.pipeline.defect_strips import EvaluationStrip, aitex_test_strips, strip_truths
from station.pipeline.errors import PipelineError
from station.pipeline.orchestrator import Pipeline
from station.pipeline.run_summary import RunSummary
from station.store.config import StoreConfig
from station.store.engine import create_store_engine
from station.store.migrate import upgrade_database
from training.public import ConfigError, DataError, ModelFileError, read_metadata

__all__ = [
    "DefectEvaluation",
    "EvaluationStrip",
    "Progress",
    "aitex_test_strips",
    "evaluate_on_strips",
]

LINES_PER_BLOCK = 256
Progress = Callable[[int, int], None]
"""Called with (strips inspected, strips) while the replay runs."""


@dataclass(frozen=True)
class DefectEvaluation:
    """Defect-level figures of one model on replayed strips.

    Attributes:
        model: The model folder.
        threshold: The pixel threshold the pipeline used (calibrated x factor).
        threshold_factor: The factor on the calibrated threshold.
        tile_px, overlap_px: Tile size and overlap.
        mm_per_px, mm_per_line: Geometry of the replayed web.
        localised_mm: The localisation rule's distance.
        target_per_m, supported_per_m: The calibration's false-alarm target and the rate
            its validation fabric supports.
        strips: Per strip, in replay order.
        by_fabric, total: Tallies.
        metres_inspected, metres_uninspected, tiles, tiles_per_s: From the run summary.
        summary: The pipeline's run summary (not written to JSON).
    """

    model: str
    threshold: float
    threshold_factor: float
    tile_px: int
    overlap_px: int
    mm_per_px: float
    mm_per_line: float
    localised_mm: float
    target_per_m: float
    supported_per_m: float
    strips: tuple[StripScore, ...]
    by_fabric: tuple[DefectTally, ...]
    total: DefectTally
    metres_inspected: float
    metres_uninspected: float
    tiles: int
    tiles_per_s: float
    summary: RunSummary = field(repr=False, compare=False)


def _config(
    model_dir: Path,
    strips: Sequence[EvaluationStrip],
    work_dir: Path,
    *,
    in_channels: int,
    mm_per_px: float,
    overlap_px: int,
    threshold_factor: float,
    device: str,
) -> StationConfig:
    """The replay's station configuration, with a migrated scratch SQLite store in work_dir."""
    work_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{work_dir / 'evaluation.sqlite3'}"
    engine = create_store_engine(url, create=True)
    upgrade_database(engine)
    engine.dispose()
    store = StoreConfig(url=url, image_root=work_dir / "images", journal_dir=work_dir / "journal")
    return StationConfig.model_validate(
        {
            "station": {"name": "defect-evaluation"},
            "source": {
                "kind": "replay",
                "replay": {
                    "paths": [str(s.path) for s in strips],
                    "lines_per_block": LINES_PER_BLOCK,
                    "output_channels": in_channels,
                },
            },
            "model": {
                "path": str(model_dir),
                "device": device,
                "threshold_factor": threshold_factor,
            },
            "geometry": {"mm_per_px": mm_per_px},
            "tiling": {"overlap_px": overlap_px},
            "store": store.model_dump(mode="json"),
            "pipeline": {"when_behind": "wait"},
        }
    )


def evaluate_on_strips(
    model_dir: Path,
    strips: Sequence[EvaluationStrip],
    *,
    work_dir: Path | None = None,
    overlap_px: int | None = None,
    threshold_factor: float = 1.0,
    device: str = "cpu",
    backend: InferenceBackend | None = None,
    progress: Progress | None = None,
    timeout_s: float = 3600.0,
) -> DefectEvaluation:
    """Replay ``strips`` through the pipeline and score what it logs against their masks.

    Args:
        model_dir: A calibrated model folder.
        strips: What to replay, in this order (the first one's width is the line width).
        work_dir: Where the scratch store goes (a temporary folder if None).
        overlap_px: Tile overlap (None: the station's default, ``tiling.overlap_px``).
        threshold_factor: Factor on the calibrated threshold (1 = the model's own).
        device: Where the backend runs (``model.device``).
        backend: An open backend to use instead of the model's (tests).
        progress: Called with (strips inspected, strips) while the replay runs.
        timeout_s: Longest wait for the replay.

    Raises:
        DataError: no strips, or a strip or mask cannot be read.
        ConfigError: the overlap does not fit the model's tiles.
        ModelFileError: the model has no calibration.
        PipelineError: the pipeline stopped with an error.
    """
    if not strips:
        raise DataError("no strips to replay", hint="check the data folder and --classes")
    metadata = read_metadata(model_dir)
    if metadata.calibration is None:
        raise ModelFileError(
            f"{model_dir} has no calibration, so it has no threshold to evaluate at",
            hint="evaluate a model made by `station train` (it calibrates its threshold)",
        )
    calibration, spec = metadata.calibration, metadata.model_spec()
    mm_per_px = calibration.mm_per_px
    if overlap_px is not None and not 0 <= overlap_px < spec.tile_px:
        raise ConfigError(
            f"a tile overlap of {overlap_px} px does not fit the model's {spec.tile_px} px tiles",
            hint=f"use an overlap from 0 to {spec.tile_px - 1} px",
        )
    tiling = TilingConfig() if overlap_px is None else TilingConfig(overlap_px=overlap_px)
    truths = strip_truths(strips, tile_px=spec.tile_px, overlap_px=tiling.overlap_px, tiling=tiling)
    with tempfile.TemporaryDirectory(prefix="defect-evaluation-") as scratch:
        folder = Path(work_dir) if work_dir is not None else Path(scratch)
        config = _config(
            Path(model_dir),
            strips,
            folder,
            in_channels=spec.in_channels,
            mm_per_px=mm_per_px,
            overlap_px=tiling.overlap_px,
            threshold_factor=threshold_factor,
            device=device,
        )
        summary = _replay(config, truths, mm_per_px, backend, progress, timeout_s)
    scores = score_strips(summary.defects, truths, mm_per_px=mm_per_px, mm_per_line=mm_per_px)
    by_fabric, total = tallies(scores)
    return DefectEvaluation(
        model=str(model_dir),
        threshold=calibration.pixel_threshold * threshold_factor,
        threshold_factor=threshold_factor,
        tile_px=spec.tile_px,
        overlap_px=tiling.overlap_px,
        mm_per_px=mm_per_px,
        mm_per_line=mm_per_px,
        localised_mm=LOCALISED_MM,
        target_per_m=calibration.target_false_alarms_per_m,
        supported_per_m=calibration.supported_false_alarms_per_m,
        strips=tuple(scores),
        by_fabric=by_fabric,
        total=total,
        metres_inspected=summary.metres_inspected,
        metres_uninspected=summary.metres_uninspected,
        tiles=summary.tiles,
        tiles_per_s=summary.mean_tiles_per_s,
        summary=summary,
    )


def _replay(
    config: StationConfig,
    truths: Sequence[StripTruth],
    mm_per_line: float,
    backend: InferenceBackend | None,
    progress: Progress | None,
    timeout_s: float,
) -> RunSummary:
    """Run the pipeline to the end of the replay, reporting strips inspected as it goes."""
    ends_m = [(t.first_line + t.lines) * mm_per_line / 1000.0 for t in truths]
    pipeline = Pipeline(config, backend=backend)
    pipeline.start()
    deadline = time.monotonic() + timeout_s
    finished = False
    try:
        while not (finished := pipeline.wait(timeout_s=0.5)) and time.monotonic() < deadline:
            if progress is not None:
                inspected = pipeline.figures_now().metres_inspected
                progress(bisect.bisect_right(ends_m, inspected + 1e-9), len(truths))
    finally:
        summary = pipeline.stop()
    if summary.error is not None:
        raise summary.error
    if not finished:
        raise PipelineError(
            f"the replay of {len(truths)} strips did not finish within {timeout_s:.0f} s",
            hint="evaluate fewer strips (--strips) or on a faster device (--device cuda)",
        )
    if progress is not None:
        progress(len(truths), len(truths))
    return summary
