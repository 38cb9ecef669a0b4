"""Rolls of generated fabric with defect crops, written and reviewed through the real store.

Used by the QA-feedback tests (``station train --normals-from-store`` and
``--validation-from-store``). Crops are cut from a web of the fabric generator
(the same presets as ``write_mvtec_dataset``) and encoded by the station's own
``crop_png``; confirmed defects carry a planted defect, false alarms are plain
fabric. Reviews go through ``DefectRepository.reject_defect`` / ``confirm_defect``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from station.pipeline.defect_images import crop_png, heatmap_png
from station.store.config import StoreConfig
from station.store.records import DefectRecord
from station.store.store import DefectStore
from tests.integration.store.helpers import MODEL, T0
from training.data.fabric import FABRIC_PRESETS, plant_defects, render_fabric

# Crop sides in pixels: smaller and larger than a 64-px tile, not square.
CROP_SIZES = ((40, 52), (96, 80), (64, 64), (70, 30))


@dataclass
class ReviewedRoll:
    """Keys of a roll's defects by the review they got."""

    article: str
    false_alarms: list[uuid.UUID] = field(default_factory=list)
    confirmed: list[uuid.UUID] = field(default_factory=list)
    unreviewed: list[uuid.UUID] = field(default_factory=list)


def fabric_crop(article: str, index: int, *, defective: bool) -> np.ndarray:
    """A crop of generated fabric of ``article`` (a fabric preset), grey uint8 [h, w]."""
    height, width = CROP_SIZES[index % len(CROP_SIZES)]
    web = render_fabric(
        FABRIC_PRESETS[article], height_px=height, width_px=width, first_line=300 * index, seed=7
    )
    if defective:
        rng = np.random.default_rng(index)
        web = plant_defects(web, rng=rng, count=1, scale=0.5).image
    return web


def write_reviewed_roll(
    config: StoreConfig,
    *,
    article: str,
    lot_number: str,
    false_alarms: int,
    confirmed: int,
    unreviewed: int = 1,
    reviewed_at_start: int = 0,
) -> ReviewedRoll:
    """Write a roll of ``article`` with its defects and crops, then review them as asked.

    The ``i``-th review is made at ``T0 + 1 h + (reviewed_at_start + i) min``.
    """
    kinds = ["false_alarm"] * false_alarms + ["confirmed"] * confirmed + ["unreviewed"] * unreviewed
    result = ReviewedRoll(article=article)
    with DefectStore.open(config) as store:
        roll = store.start_roll(
            lot_number=lot_number,
            station="station-a",
            fabric_type=article,
            width_mm=1600.0,
            started_at=T0,
        )
        run = store.start_run(roll_key=roll.key, station="station-a", model=MODEL, started_at=T0)
        for index, kind in enumerate(kinds):
            pixels = fabric_crop(article, index, defective=kind == "confirmed")
            record = DefectRecord(
                roll_key=roll.key,
                run_key=run.key,
                along_mm=100.0 + 500.0 * index,
                across_mm=400.0,
                length_mm=8.0,
                width_mm=8.0,
                area_mm2=30.0,
                peak_score=0.7,
                points=1,
                # The model's guess: deliberately another class, so the roll's fabric type
                # (not fabric_class) must be what selects and labels the crop.
                fabric_class="model-guess",
                detected_at=T0 + timedelta(seconds=10 * index),
            )
            scores = np.full(pixels.shape, 0.8, dtype=np.float32)
            store.writer.submit_defect(
                record,
                crop_png=crop_png(pixels, max_side_px=512),
                heatmap_png=heatmap_png(pixels, scores, threshold=0.5, max_side_px=512),
            )
            getattr(result, kind if kind != "false_alarm" else "false_alarms").append(record.key)
        store.end_run(run.key, ended_at=T0 + timedelta(minutes=5))
        store.end_roll(roll.key, length_inspected_mm=5000.0, ended_at=T0 + timedelta(minutes=5))
        assert store.writer.flush(timeout_s=30), "the store did not write the test roll"
        reviews = [(key, "reject") for key in result.false_alarms]
        reviews += [(key, "confirm") for key in result.confirmed]
        for number, (key, action) in enumerate(reviews):
            store.repository.review_defect(
                key,
                action=action,
                reviewer="qa-anna",
                at=T0 + timedelta(hours=1, minutes=reviewed_at_start + number),
            )
    return result
