"""``python -m experiments.aitex_measure MODEL_DIR [--aitex DIR]``

Replay real AITEX strips through the pipeline and score what it reports against the masks.

Run by hand, it prints the figures of one model (docs/research/false_alarms.md); the
slow end-to-end test
(tests/integration/pipeline/test_aitex_end_to_end.py) calls :func:`measure` and
asserts on them.

Set-up: test strips of the model's fabrics (the project split: defect strips
and defect-free strips 17-20), alternating, played end to end as one web,
256 lines each, with no tile overlap so that tile rows line up with the strips
(AITEX strips are not consecutive stretches of a roll; a tile straddling two
would see a seam that no real web has). The pixel size is the model's
calibrated ``mm_per_px``; lines are square (``mm_per_line = mm_per_px``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from station.pipeline.config import StationConfig
from station.pipeline.extraction import FoundDefect
from station.pipeline.orchestrator import Pipeline
from station.pipeline.run_summary import RunSummary
from station.store.config import StoreConfig
from station.store.engine import create_store_engine
from station.store.migrate import upgrade_database
from training.data.aitex import aitex_items
from training.data.images import read_image, read_mask
from training.model_file import read_metadata

STRIP_LINES = 256
# A hit is *localised* when a defect on the mask has its centre this close to the
# mask's box (half a 256 px tile at 0.2 mm/px); a region lighting up the whole strip
# overlaps any mask but does not say where the defect is.
LOCALISED_MM = 25.6


@dataclass(frozen=True)
class StripTruth:
    """One replayed strip: where it lies on the web and its defect mask (None = normal)."""

    path: Path
    first_line: int
    mask: np.ndarray | None  # bool [256, width]


@dataclass(frozen=True)
class AitexMeasurement:
    """What the pipeline reported on AITEX strips, scored against the masks.

    Attributes:
        defect_strips, normal_strips: Strips replayed.
        hits: Defect strips with a reported defect overlapping their mask.
        hit_rate: hits / defect_strips.
        localised_hits: Hits whose centre offset is within LOCALISED_MM both ways.
        geometry_errors_mm: For each defect overlapping a mask, how far the box given by
            its mm figures lies from the mask's box (along, across; 0 = they meet).
        centre_offsets_mm: For each hit, how far the nearest overlapping defect's centre
            lies outside the mask's box (along, across; 0 = inside).
        false_alarms: Defects reported on normal strips.
        normal_metres: Length of the normal strips.
        false_alarms_per_m: false_alarms / normal_metres.
        budget_per_m: The false-alarm rate the model's calibration supports (the larger
            of its target and the 95 % upper bound its validation fabric allows).
        target_per_m: The calibration's target rate.
        summary: The pipeline's run summary.
    """

    defect_strips: int
    normal_strips: int
    hits: int
    hit_rate: float
    localised_hits: int
    geometry_errors_mm: list[tuple[float, float]]
    centre_offsets_mm: list[tuple[float, float]]
    false_alarms: int
    normal_metres: float
    false_alarms_per_m: float
    budget_per_m: float
    target_per_m: float
    summary: RunSummary


def select_strips(
    aitex_dir: Path, classes: tuple[str, ...], *, defect_count: int, normal_count: int
) -> list[tuple[Path, tuple[Path, ...]]]:
    """Test strips of the model's fabrics: (path, mask paths), defect and normal alternating.

    Defect strips are taken evenly across the sorted list so every fabric appears.
    """
    codes = [code for code in classes if code.isdigit()] or ["00", "02", "03", "05"]
    items = aitex_items(aitex_dir, split="test", classes=codes)
    defective = [(i.path, i.mask_paths) for i in items if i.mask_paths]
    normal = [(i.path, ()) for i in items if not i.mask_paths]

    def spread(group: list, count: int) -> list:
        if count >= len(group):
            return group
        picks = np.linspace(0, len(group) - 1, count).round().astype(int)
        return [group[i] for i in picks]

    defective, normal = spread(defective, defect_count), spread(normal, normal_count)
    mixed = []
    for index in range(max(len(defective), len(normal))):
        mixed += [group[index] for group in (defective, normal) if index < len(group)]
    return mixed


def _truths(strips: list[tuple[Path, tuple[Path, ...]]], width: int) -> list[StripTruth]:
    truths = []
    for index, (path, masks) in enumerate(strips):
        union = None
        if masks:
            shape = read_image(path).shape
            union = np.zeros(shape, bool)
            for mask_path in masks:
                union |= read_mask(mask_path, expected_shape=shape)
            union = np.pad(union, ((0, 0), (0, max(0, width - shape[1]))))[:, :width]
        truths.append(StripTruth(path, index * STRIP_LINES, union))
    return truths


def _gap(low: float, high: float, mask_low: float, mask_high: float) -> float:
    """Distance between the intervals [low, high] and [mask_low, mask_high] (0 = they meet)."""
    return max(0.0, mask_low - high, low - mask_high)


@dataclass(frozen=True)
class StripScore:
    """Scores of one replay (see AitexMeasurement)."""

    hits: int
    geometry_errors_mm: list[tuple[float, float]]
    centre_offsets_mm: list[tuple[float, float]]
    false_alarms: int


def score(
    defects: tuple[FoundDefect, ...],
    truths: list[StripTruth],
    *,
    mm_per_px: float,
    mm_per_line: float,
) -> StripScore:
    """Score reported defects against the strips' masks.

    A hit is a defect whose pixel box overlaps the mask. For every such defect the
    box its *millimetre* figures describe (centre +- size / 2) is mapped back
    through the known geometry and must meet the mask's box: that checks the
    position in mm. How far its centre lies from the mask's box is reported too,
    as a measure of localisation (a long weft defect can light up a wide region).
    """
    hits, geometry, centres, false_alarms = 0, [], [], 0
    for truth in truths:
        end = truth.first_line + STRIP_LINES
        centred = [d for d in defects if truth.first_line <= (d.first_line + d.end_line) / 2 < end]
        if truth.mask is None:
            false_alarms += len(centred)
            continue
        ys, xs = np.nonzero(truth.mask)
        if len(ys) == 0:
            continue
        along_lo = (ys.min() + truth.first_line) * mm_per_line
        along_hi = (ys.max() + 1 + truth.first_line) * mm_per_line
        across_lo, across_hi = xs.min() * mm_per_px, (xs.max() + 1) * mm_per_px
        overlapping = []
        for defect in defects:
            y0 = max(defect.first_line, truth.first_line) - truth.first_line
            y1 = min(defect.end_line, end) - truth.first_line
            if y1 > y0 and truth.mask[y0:y1, defect.x0 : defect.x1].any():
                overlapping.append(defect)
        if not overlapping:
            continue
        hits += 1
        for d in overlapping:
            geometry.append(
                (
                    _gap(
                        d.along_mm - d.length_mm / 2,
                        d.along_mm + d.length_mm / 2,
                        along_lo,
                        along_hi,
                    ),
                    _gap(
                        d.across_camera_mm - d.width_mm / 2,
                        d.across_camera_mm + d.width_mm / 2,
                        across_lo,
                        across_hi,
                    ),
                )
            )
        centres.append(
            min(
                (
                    _gap(d.along_mm, d.along_mm, along_lo, along_hi),
                    _gap(d.across_camera_mm, d.across_camera_mm, across_lo, across_hi),
                )
                for d in overlapping
            )
        )
    return StripScore(hits, geometry, centres, false_alarms)


def measure(
    model_dir: Path,
    aitex_dir: Path,
    out_dir: Path,
    *,
    defect_count: int = 10,
    normal_count: int = 10,
    threshold_factor: float = 1.0,
) -> AitexMeasurement:
    """Run the pipeline on AITEX strips and score it (see the module docstring)."""
    metadata = read_metadata(model_dir)
    if metadata.calibration is None:
        raise ValueError(f"{model_dir} has no calibration: measure a calibrated model")
    spec = metadata.model_spec()
    mm_per_px = metadata.calibration.mm_per_px
    strips = select_strips(
        aitex_dir, spec.classes, defect_count=defect_count, normal_count=normal_count
    )
    width = read_image(strips[0][0]).shape[1]
    url = f"sqlite:///{out_dir / 'aitex.sqlite3'}"
    engine = create_store_engine(url, create=True)
    upgrade_database(engine)
    engine.dispose()
    config = StationConfig.model_validate(
        {
            "station": {"name": "aitex-e2e"},
            "source": {
                "kind": "replay",
                "replay": {
                    "paths": [str(path) for path, _ in strips],
                    "lines_per_block": STRIP_LINES,
                    "output_channels": spec.in_channels,
                },
            },
            "model": {
                "path": str(model_dir),
                "device": "cpu",
                "threshold_factor": threshold_factor,
            },
            "geometry": {"mm_per_px": mm_per_px},
            "tiling": {"overlap_px": 0},
            "store": StoreConfig(
                url=url, image_root=out_dir / "images", journal_dir=out_dir / "journal"
            ).model_dump(mode="json"),
            "pipeline": {"when_behind": "wait"},
        }
    )
    pipeline = Pipeline(config)
    pipeline.start()
    pipeline.wait(timeout_s=3600)
    summary = pipeline.stop()
    if summary.error is not None:
        raise summary.error
    truths = _truths(strips, width)
    scored = score(summary.defects, truths, mm_per_px=mm_per_px, mm_per_line=mm_per_px)
    defect_strips = sum(t.mask is not None for t in truths)
    normal_strips = len(truths) - defect_strips
    normal_metres = normal_strips * STRIP_LINES * mm_per_px / 1000.0
    return AitexMeasurement(
        defect_strips=defect_strips,
        normal_strips=normal_strips,
        hits=scored.hits,
        hit_rate=scored.hits / max(1, defect_strips),
        localised_hits=sum(max(offset) <= LOCALISED_MM for offset in scored.centre_offsets_mm),
        geometry_errors_mm=scored.geometry_errors_mm,
        centre_offsets_mm=scored.centre_offsets_mm,
        false_alarms=scored.false_alarms,
        normal_metres=normal_metres,
        false_alarms_per_m=scored.false_alarms / normal_metres if normal_metres else 0.0,
        budget_per_m=metadata.calibration.supported_false_alarms_per_m,
        target_per_m=metadata.calibration.target_false_alarms_per_m,
        summary=summary,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--aitex", type=Path, default=Path("../shared/datasets/aitex"))
    parser.add_argument("--defect-strips", type=int, default=10)
    parser.add_argument("--normal-strips", type=int, default=10)
    parser.add_argument("--threshold-factor", type=float, default=1.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        result = measure(
            args.model_dir,
            args.aitex,
            Path(scratch),
            defect_count=args.defect_strips,
            normal_count=args.normal_strips,
            threshold_factor=args.threshold_factor,
        )
    geometry = np.array(result.geometry_errors_mm or [(0.0, 0.0)])
    centres = np.array(result.centre_offsets_mm or [(0.0, 0.0)])
    print(
        f"defect strips {result.defect_strips}, hits {result.hits}, "
        f"hit rate {result.hit_rate:.2f}, localised hits (centre within "
        f"{LOCALISED_MM} mm of the mask) {result.localised_hits}"
    )
    print(
        f"mm box of overlapping defects vs mask box (mm apart): along max "
        f"{geometry[:, 0].max():.1f}, across max {geometry[:, 1].max():.1f}"
    )
    print(
        "centre of hits outside the mask box (mm, along/across): "
        + ", ".join(f"{a:.1f}/{c:.1f}" for a, c in centres)
    )
    print(
        f"normal strips {result.normal_strips} ({result.normal_metres:.3f} m): "
        f"{result.false_alarms} false alarms = {result.false_alarms_per_m:.2f}/m "
        f"(calibration: target {result.target_per_m:.2f}/m, supported {result.budget_per_m:.2f}/m)"
    )
    print(f"throughput {result.summary.mean_tiles_per_s:.1f} tiles/s, {result.summary.tiles} tiles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
