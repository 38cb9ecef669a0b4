"""A finished roll with defects, crops and heatmaps, written through the store's public API.

Used by the PDF report tests and the QA window tests. The roll is 10 m of a
1600 mm web; the defects lie in different linear yards, so every one of them
moves the 4-point grade on its own.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from station.store.config import StoreConfig
from station.store.records import DefectRecord, EventKind, EventRecord
from station.store.store import DefectStore
from tests.integration.store.helpers import MODEL, T0

ROLL_LENGTH_MM = 10_000.0
ROLL_WIDTH_MM = 1_600.0
# (along mm, across mm, length mm, points, score): one defect per linear yard.
DEFECTS = (
    (500.0, 300.0, 40.0, 1, 0.61),
    (2_300.0, 900.0, 120.0, 2, 0.72),
    (4_100.0, 1_200.0, 200.0, 3, 0.83),
    (6_000.0, 700.0, 260.0, 4, 0.95),
    (8_200.0, 400.0, 60.0, 1, 0.58),
)
UNINSPECTED = (7_000.0, 7_400.0)


@dataclass(frozen=True)
class ReviewRoll:
    lot_number: str
    roll_key: uuid.UUID
    defect_keys: tuple[uuid.UUID, ...]
    config: StoreConfig


def fabric_png(seed: int, *, size: int = 48, hot: bool = False) -> bytes:
    """A small woven-looking grey (or, with ``hot``, heatmap-coloured) PNG with a dark flaw."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    weave = 128 + 40 * np.sin(x * 1.3) * np.sin(y * 1.3) + rng.normal(0, 8, (size, size))
    weave[size // 3 : size // 2, size // 4 : 3 * size // 4] -= 70
    grey = np.clip(weave, 0, 255).astype(np.uint8)
    if hot:
        level = np.zeros((size, size), np.uint8)
        level[size // 3 : size // 2, size // 4 : 3 * size // 4] = 255
        picture = Image.fromarray(np.dstack([level, grey // 2, 255 - level]), mode="RGB")
    else:
        picture = Image.fromarray(grey)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def write_review_roll(config: StoreConfig, *, lot_number: str = "LOT-QA-1") -> ReviewRoll:
    """Write the roll, its run, five defects with images and an uninspected stretch."""
    with DefectStore.open(config) as store:
        roll = store.start_roll(
            lot_number=lot_number,
            station="station-a",
            fabric_type="denim",
            width_mm=ROLL_WIDTH_MM,
            started_at=T0,
        )
        run = store.start_run(roll_key=roll.key, station="station-a", model=MODEL, started_at=T0)
        keys = []
        for index, (along, across, length, points, score) in enumerate(DEFECTS):
            record = DefectRecord(
                roll_key=roll.key,
                run_key=run.key,
                along_mm=along,
                across_mm=across,
                length_mm=length,
                width_mm=10.0,
                area_mm2=length * 6.0,
                peak_score=score,
                points=points,
                fabric_class="denim",
                defect_type="slub" if index % 2 else None,
                detected_at=T0 + timedelta(seconds=10 * index),
            )
            store.writer.submit_defect(
                record,
                crop_png=fabric_png(index),
                heatmap_png=fabric_png(index, hot=True),
            )
            keys.append(record.key)
        store.writer.submit_event(
            EventRecord(
                kind=EventKind.UNINSPECTED_STRETCH,
                message="inference fell behind",
                station="station-a",
                roll_key=roll.key,
                from_mm=UNINSPECTED[0],
                to_mm=UNINSPECTED[1],
                occurred_at=T0 + timedelta(minutes=1),
            )
        )
        store.end_run(run.key, ended_at=T0 + timedelta(minutes=5))
        store.end_roll(
            roll.key, length_inspected_mm=ROLL_LENGTH_MM, ended_at=T0 + timedelta(minutes=5)
        )
        assert store.writer.flush(timeout_s=30), "the store did not write the test roll"
    return ReviewRoll(
        lot_number=lot_number, roll_key=roll.key, defect_keys=tuple(keys), config=config
    )


def images_root(config: StoreConfig) -> Path:
    return Path(config.image_root)
