"""The table and the JSON of a defect-level evaluation (``station evaluate --pipeline``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from station.pipeline.defect_evaluation import DefectEvaluation
from station.pipeline.defect_scoring import LOCALISED_RULE, DefectTally

_HEADER = (
    "fabric",
    "defect strips",
    "found",
    "missed",
    "localised",
    "loc. error median / max mm",
    "defect-free m",
    "false alarms",
    "per m",
)


def _mm(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _row(tally: DefectTally) -> tuple[str, ...]:
    per_m = tally.false_alarms_per_m
    return (
        tally.label,
        str(tally.defect_strips),
        str(tally.found),
        str(tally.missed),
        str(tally.localised),
        f"{_mm(tally.error_median_mm)} / {_mm(tally.error_max_mm)}",
        f"{tally.normal_metres:.3f}",
        str(tally.false_alarms),
        "-" if per_m is None else f"{per_m:.2f}",
    )


def evaluation_text(result: DefectEvaluation) -> str:
    """The figures as a table per fabric and in total, with what they mean."""
    rows = [_HEADER, *(_row(t) for t in result.by_fabric), _row(result.total)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        return "  ".join(cells)

    total = result.total
    breaches = total.across_boundary + total.wider_than_web + total.outside_web
    table = [line(rows[0]), "  ".join("-" * w for w in widths)]
    table += [line(row) for row in rows[1:-1]]
    if len(rows) > 3:
        table.append("  ".join("-" * w for w in widths))
    table.append(line(rows[-1]))
    return "\n".join(
        [
            f"Defect-level figures through the pipeline: {result.model}",
            f"threshold {result.threshold:.4f} (calibrated x {result.threshold_factor:g}), "
            f"{result.tile_px} px tiles, overlap {result.overlap_px} px, "
            f"{result.mm_per_px:g} mm/px, {len(result.strips)} strips",
            "",
            *table,
            "",
            "found: a logged defect overlaps the strip's mask (one mask = one defect); "
            f"localised: {LOCALISED_RULE};",
            "localisation error: from the defect's centre to the nearest mask pixel (0 on it).",
            f"false alarms: defects on defect-free strips; the calibration's target is "
            f"{result.target_per_m:.2f}/m, its validation fabric supports "
            f"{result.supported_per_m:.2f}/m.",
            f"mm box of found defects vs mask box: at most {_mm(total.box_gap_max_mm)} mm apart.",
            f"replay invariants ({'all 0, as they must be' if breaches == 0 else 'NOT 0: a bug'}): "
            f"across a file boundary {total.across_boundary}, wider than the web "
            f"{total.wider_than_web}, outside the web {total.outside_web}.",
            f"inspected {result.metres_inspected:.3f} m ({result.metres_uninspected:.3f} m not "
            f"inspected), {result.tiles:,} tiles at {result.tiles_per_s:.1f} tiles/s.",
        ]
    )


def _tally_json(tally: DefectTally) -> dict[str, Any]:
    return {**asdict(tally), "missed": tally.missed, "false_alarms_per_m": tally.false_alarms_per_m}


def evaluation_json(result: DefectEvaluation) -> dict[str, Any]:
    """The figures as plain JSON values: settings, per-fabric and total tallies, per strip."""
    settings = {
        key: getattr(result, key)
        for key in (
            "model",
            "threshold",
            "threshold_factor",
            "tile_px",
            "overlap_px",
            "mm_per_px",
            "mm_per_line",
            "localised_mm",
            "target_per_m",
            "supported_per_m",
            "metres_inspected",
            "metres_uninspected",
            "tiles",
            "tiles_per_s",
        )
    }
    return {
        **settings,
        "localised_rule": LOCALISED_RULE,
        "by_fabric": [_tally_json(t) for t in result.by_fabric],
        "total": _tally_json(result.total),
        "strips": [asdict(s) for s in result.strips],
    }


def write_evaluation_json(result: DefectEvaluation, path: Path) -> None:
    """Write :func:`evaluation_json` to ``path`` (its folder is made)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(evaluation_json(result), indent=2) + "\n")
