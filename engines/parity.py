"""Numerical parity of an exported artefact with the PyTorch model, and its report.

Every export is followed by this check (architecture convention 4): the same
real tiles go through the PyTorch model (CPU, fp32: the reference) and through
the artefact's backend; the report saved next to the artefact says how far
they differ and whether that is within tolerance.

Tolerances (per artefact precision):

==========================  ==========  ==========  ===================================
check                       fp32        fp16        why
==========================  ==========  ==========  ===================================
max |Δ tile score|          1e-3        2e-2        scores are probabilities in (0, 1)
mean |Δ tile score|         1e-4        5e-3        a systematic shift shows here first
mean |Δ anomaly map|        1e-4        5e-3        the same, per pixel
tile decision agreement     >= 99.5 %   >= 99.0 %   anomalous/normal at the tile threshold
pixel decision agreement    >= 99.9 %   >= 99.5 %   defective/not at the pixel threshold
|Δ tile I-AUROC|            <= 0.002    <= 0.01     ranking of defective vs normal tiles
                            or near-ties (below)
==========================  ==========  ==========  ===================================

When scores agree to δ = max |Δ tile score|, only a (defective, normal) pair whose
reference scores lie within 2δ of each other can change order, so |Δ I-AUROC|
cannot exceed the fraction of such pairs. A model scored with the plain sigmoid
(score_temperature 1, the files written before that field) saturates: on AITEX
a quarter of the test tiles scored exactly 1.0 in fp32, and a rounding of 1e-5
then reorders many pairs; near-ties also occur without saturation. The I-AUROC
check therefore allows the larger of its limit and that near-tie fraction (both
are in the report); a larger difference means the scores themselves are
inconsistent.

fp32 exports are measured at about 1e-6 here (float rounding order only),
except where local center matching meets a near-tie: two center rows almost
equally similar to a feature, which the reference and the artefact may rank
differently after rounding. That position then gets another (equally valid)
center and its patch score can differ by a few 1e-2, and the smoothing
spreads that over some 40 x 40 pixels. Seen on real AITEX tiles with an
untrained model: one position in 32 000. The maximum over all map pixels is
therefore reported but not a criterion; the mean and the pixel decisions are.
fp16 differences come from half-precision convolutions and matrix products; a
decision can flip only for a tile whose score lies within the score tolerance
of the threshold, which the agreement bound limits to 1 % of the tiles.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engines.backends.base import BackendInfo, InferenceResult
from engines.errors import ExportError


@dataclass(frozen=True)
class ParityTolerance:
    """Limits an artefact must meet (see the module docstring)."""

    max_abs_tile_score: float
    mean_abs_tile_score: float
    mean_abs_anomaly_map: float
    min_decision_agreement: float
    min_pixel_agreement: float
    max_auroc_diff: float


TOLERANCES: dict[str, ParityTolerance] = {
    "fp32": ParityTolerance(
        max_abs_tile_score=1e-3,
        mean_abs_tile_score=1e-4,
        mean_abs_anomaly_map=1e-4,
        min_decision_agreement=0.995,
        min_pixel_agreement=0.999,
        max_auroc_diff=0.002,
    ),
    "fp16": ParityTolerance(
        max_abs_tile_score=2e-2,
        mean_abs_tile_score=5e-3,
        mean_abs_anomaly_map=5e-3,
        min_decision_agreement=0.99,
        min_pixel_agreement=0.995,
        max_auroc_diff=0.01,
    ),
}


def tolerance_for(precision: str) -> ParityTolerance:
    """The tolerance of an artefact precision ("fp32" or "fp16")."""
    if precision not in TOLERANCES:
        raise ExportError(
            f"no parity tolerance for precision {precision!r}",
            hint=f"use one of {', '.join(TOLERANCES)}",
        )
    return TOLERANCES[precision]


def near_tie_fraction(scores: np.ndarray, labels: np.ndarray, *, within: float) -> float:
    """Fraction of (defective, normal) pairs whose scores differ by at most ``within``."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    positives, negatives = np.sort(scores[labels]), np.sort(scores[~labels])
    if len(positives) == 0 or len(negatives) == 0:
        return 0.0
    close = np.searchsorted(negatives, positives + within, side="right") - np.searchsorted(
        negatives, positives - within, side="left"
    )
    return float(close.sum()) / (len(positives) * len(negatives))


def tile_auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (ties count half).

    Returns:
        The AUROC, or None when only one label value is present.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # Average rank within each group of equal scores (Mann-Whitney U with ties).
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    stops = np.concatenate([boundaries, [len(scores)]])
    for start, stop in zip(starts, stops, strict=True):
        ranks[order[start:stop]] = (start + stop + 1) / 2.0
    rank_sum = ranks[labels].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


@dataclass
class DifferenceStats:
    """Absolute differences of one output."""

    max_abs_diff: float
    mean_abs_diff: float

    @classmethod
    def of(cls, reference: np.ndarray, candidate: np.ndarray) -> DifferenceStats:
        difference = np.abs(reference.astype(np.float64) - candidate.astype(np.float64))
        if not np.all(np.isfinite(difference)):
            return cls(max_abs_diff=float("inf"), mean_abs_diff=float("inf"))
        return cls(max_abs_diff=float(difference.max()), mean_abs_diff=float(difference.mean()))


@dataclass
class ParityReport:
    """Outcome of one parity check; saved as JSON next to the artefact."""

    artefact: str
    format: str
    precision: str
    model_hash: str
    backend: dict[str, Any]
    reference: dict[str, Any]
    tiles: dict[str, Any]
    tile_score: DifferenceStats
    score_grid: DifferenceStats
    anomaly_map: DifferenceStats
    decisions: dict[str, Any] | None
    pixel_decisions: dict[str, Any] | None
    matched_class_agreement: float
    i_auroc: dict[str, Any]
    tolerance: ParityTolerance
    failures: list[str] = field(default_factory=list)
    created_utc: str = field(default_factory=lambda: _now_utc())

    @property
    def valid(self) -> bool:
        return not self.failures

    def to_json_dict(self) -> dict[str, Any]:
        values = asdict(self)
        return {"valid": self.valid, **values}

    def summary(self) -> str:
        """One line per check, for the CLI."""
        lines = [
            f"parity of {self.artefact} ({self.format}, {self.precision}) against PyTorch "
            f"on {self.tiles['count']} tiles from {self.tiles['source']}:",
            f"  tile score |diff| max {self.tile_score.max_abs_diff:.2e} "
            f"mean {self.tile_score.mean_abs_diff:.2e}",
            f"  anomaly map |diff| max {self.anomaly_map.max_abs_diff:.2e} "
            f"mean {self.anomaly_map.mean_abs_diff:.2e}",
        ]
        if self.decisions is not None:
            lines.append(
                f"  decisions at threshold {self.decisions['threshold']:.4g}: "
                f"{100 * self.decisions['agreement']:.2f}% agree"
            )
        if self.pixel_decisions is not None:
            lines.append(
                f"  pixel decisions at threshold {self.pixel_decisions['threshold']:.4g}: "
                f"{100 * self.pixel_decisions['agreement']:.3f}% agree"
            )
        if self.i_auroc["reference"] is not None:
            lines.append(
                f"  tile I-AUROC PyTorch {self.i_auroc['reference']:.4f}, "
                f"artefact {self.i_auroc['artefact']:.4f} (allowed difference "
                f"{self.i_auroc['allowed']:.4f}; near-tie pairs "
                f"{self.i_auroc['near_tie_pairs']:.4f})"
            )
        lines.append("  PASS" if self.valid else "  FAIL: " + "; ".join(self.failures))
        return "\n".join(lines)


def compare_outputs(
    reference: InferenceResult,
    candidate: InferenceResult,
    *,
    labels: np.ndarray,
    tile_threshold: float | None,
    pixel_threshold: float | None = None,
    tolerance: ParityTolerance,
    artefact: str,
    format_name: str,
    precision: str,
    model_hash: str,
    backend: BackendInfo,
    reference_backend: BackendInfo,
    tile_source: str,
) -> ParityReport:
    """Compare the artefact's outputs with the reference's on the same tiles.

    Args:
        reference: PyTorch outputs.
        candidate: The artefact's outputs.
        labels: Tile labels (1 defective), [T], for the I-AUROC.
        tile_threshold: The model's calibrated tile threshold; None skips the tile decisions.
        pixel_threshold: Its pixel threshold; None skips the pixel decisions.
        tolerance: Limits to apply.
    """
    for name, ref, cand in zip(InferenceResult._fields, reference, candidate, strict=True):
        if ref.shape != cand.shape:
            raise ExportError(
                f"the artefact's {name} has shape {cand.shape}, PyTorch's {ref.shape}",
                hint="the artefact does not fit this model; export it again",
            )
    tile_score = DifferenceStats.of(reference.tile_score, candidate.tile_score)
    report = ParityReport(
        artefact=artefact,
        format=format_name,
        precision=precision,
        model_hash=model_hash,
        backend=_backend_dict(backend),
        reference=_backend_dict(reference_backend),
        tiles={
            "count": len(labels),
            "defective": int(np.sum(labels)),
            "source": tile_source,
        },
        tile_score=tile_score,
        score_grid=DifferenceStats.of(reference.score_grid, candidate.score_grid),
        anomaly_map=DifferenceStats.of(reference.anomaly_map, candidate.anomaly_map),
        decisions=None,
        pixel_decisions=None,
        matched_class_agreement=float(np.mean(reference.matched_class == candidate.matched_class)),
        i_auroc={"reference": None, "artefact": None, "abs_diff": None},
        tolerance=tolerance,
    )
    failures = report.failures
    if not tile_score.max_abs_diff <= tolerance.max_abs_tile_score:
        failures.append(
            f"max |tile score diff| {tile_score.max_abs_diff:.3g} > {tolerance.max_abs_tile_score}"
        )
    if not tile_score.mean_abs_diff <= tolerance.mean_abs_tile_score:
        failures.append(
            f"mean |tile score diff| {tile_score.mean_abs_diff:.3g} > "
            f"{tolerance.mean_abs_tile_score}"
        )
    if not report.anomaly_map.mean_abs_diff <= tolerance.mean_abs_anomaly_map:
        failures.append(
            f"mean |anomaly map diff| {report.anomaly_map.mean_abs_diff:.3g} > "
            f"{tolerance.mean_abs_anomaly_map}"
        )
    if tile_threshold is not None:
        ref_decisions = reference.tile_score > tile_threshold
        cand_decisions = candidate.tile_score > tile_threshold
        agreement = float(np.mean(ref_decisions == cand_decisions))
        report.decisions = {
            "threshold": float(tile_threshold),
            "agreement": agreement,
            "disagreeing_tiles": int(np.sum(ref_decisions != cand_decisions)),
            "anomalous_reference": int(ref_decisions.sum()),
            "anomalous_artefact": int(cand_decisions.sum()),
        }
        if agreement < tolerance.min_decision_agreement:
            failures.append(
                f"decisions agree on {100 * agreement:.2f}% of tiles "
                f"< {100 * tolerance.min_decision_agreement:.1f}%"
            )
    if pixel_threshold is not None:
        pixel_agreement = float(
            np.mean(
                (reference.anomaly_map > pixel_threshold)
                == (candidate.anomaly_map > pixel_threshold)
            )
        )
        report.pixel_decisions = {"threshold": float(pixel_threshold), "agreement": pixel_agreement}
        if pixel_agreement < tolerance.min_pixel_agreement:
            failures.append(
                f"pixel decisions agree on {100 * pixel_agreement:.3f}% of pixels "
                f"< {100 * tolerance.min_pixel_agreement:.1f}%"
            )
    auroc_reference = tile_auroc(reference.tile_score, labels)
    auroc_candidate = tile_auroc(candidate.tile_score, labels)
    if auroc_reference is not None and auroc_candidate is not None:
        difference = abs(auroc_reference - auroc_candidate)
        ties = near_tie_fraction(reference.tile_score, labels, within=2.0 * tile_score.max_abs_diff)
        allowed = max(tolerance.max_auroc_diff, ties)
        report.i_auroc = {
            "reference": auroc_reference,
            "artefact": auroc_candidate,
            "abs_diff": difference,
            "near_tie_pairs": ties,
            "allowed": allowed,
        }
        if difference > allowed:
            failures.append(
                f"|I-AUROC diff| {difference:.4f} > {allowed:.4f} (limit "
                f"{tolerance.max_auroc_diff}, near-tie pairs {ties:.4f})"
            )
    return report


def _now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _backend_dict(info: BackendInfo) -> dict[str, Any]:
    return {"name": info.name, "device": info.device, "precision": info.precision}


def report_path_for(artefact: Path) -> Path:
    """Where the parity report of ``artefact`` is saved: ``<artefact>.parity.json``."""
    return artefact.with_name(artefact.name + ".parity.json")


def write_report(report: ParityReport, path: Path) -> None:
    """Write the report as JSON (atomically)."""
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_text(json.dumps(report.to_json_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
