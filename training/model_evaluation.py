"""One evaluation of a trained model on a labelled split, as ``station evaluate`` runs it.

:func:`evaluate_model` scores the split with the model, optionally scores more
models and the nearest-neighbour baseline on the same tiles (and, where the
backbone settings match, the same cached features), counts false alarms per
metre on the test-normal AITEX fabric at the model's calibrated threshold, and
returns an :class:`EvaluationReport` whose :meth:`~EvaluationReport.text` is what
the command prints. The metrics themselves live in ``training/evaluate.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from training.baselines import NearestNeighbourBaseline
from training.calibration import fabric_metres, merge_gap_px
from training.cras.model import CrasModel
from training.data.datasets import load_tiles
from training.data.items import TileSet
from training.devices import resolve_device
from training.errors import UnknownClassError
from training.evaluate import (
    ScoredTiles,
    false_alarms_per_metre,
    format_table,
    image_heights,
    metrics_by_class,
    score_model,
    write_json,
    write_map_images,
)
from training.features import cached_features
from training.model_file import ModelMetadata, load_model


@dataclass
class EvaluationReport:
    """What :func:`evaluate_model` measured.

    Attributes:
        model_dir: The evaluated model's folder.
        data: The data folder.
        layout: Its layout (``aitex``, ``mvtec`` or ``folder``).
        split: The split scored.
        tiles: Number of tiles scored.
        defective_tiles: How many of them hold a defect.
        metrics: ``{"mean": {...}, "per_class": {...}}`` of the model (``metrics_by_class``).
        comparisons: The same for each compared model and the baseline, by name.
        false_alarms: On the AITEX test split of a calibrated model: ``threshold``,
            ``test_normal_metres`` and ``false_alarms_per_m``; empty otherwise.
        seconds: Time taken, without writing map images.
        map_images: Anomaly-map images written (0 when none were asked for).
        maps_dir: Where they were written.
    """

    model_dir: Path
    data: Path
    layout: str
    split: str
    tiles: int
    defective_tiles: int
    metrics: dict
    comparisons: dict[str, dict] = field(default_factory=dict)
    false_alarms: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    map_images: int = 0
    maps_dir: Path | None = None

    def as_json(self) -> dict:
        """The JSON document ``--json`` writes (metrics, settings, false alarms, comparisons)."""
        return dict(
            self.metrics,
            model=str(self.model_dir),
            split=self.split,
            layout=self.layout,
            **self.false_alarms,
            comparisons=self.comparisons,
        )

    def text(self) -> str:
        """Plain-text tables: every method's mean, the model per class, false alarms, time."""
        rows = {self.model_dir.name: self.metrics["mean"]}
        rows.update({name: figures["mean"] for name, figures in self.comparisons.items()})
        lines = [
            f"\n{self.split} split of {self.data}: {self.tiles} tiles, "
            f"{self.defective_tiles} defective (%)",
            format_table(rows),
            f"\nper class ({self.model_dir.name})",
            format_table(self.metrics["per_class"]),
        ]
        if self.false_alarms:
            lines.append(
                f"\nfalse alarms on test-normal fabric at threshold "
                f"{self.false_alarms['threshold']:.4f}: "
                f"{self.false_alarms['false_alarms_per_m']:.2f}/m over "
                f"{self.false_alarms['test_normal_metres']:.2f} m"
            )
        lines.append(f"({self.seconds:.0f} s)")
        if self.maps_dir is not None:
            lines.append(f"{self.map_images} anomaly-map images in {self.maps_dir}")
        return "\n".join(lines)


def evaluate_model(
    model_dir: Path,
    data: Path,
    *,
    layout: str = "aitex",
    split: str = "test",
    classes: list[str] | None = None,
    compare: tuple[Path, ...] | list[Path] = (),
    nearest_neighbour: bool = False,
    nn_bank_fraction: float = 0.05,
    cache_dir: Path | None = None,
    device: str = "cpu",
    maps_dir: Path | None = None,
    json_path: Path | None = None,
) -> EvaluationReport:
    """Score a labelled split with a model (and, alongside, others) and measure it.

    Args:
        model_dir: Model folder from ``station train``.
        data: Data folder.
        layout: Its layout.
        split: Split to score (``train``, ``val`` or ``test``).
        classes: Classes to evaluate (default: all the model knows).
        compare: More model folders scored on the same tiles.
        nearest_neighbour: Also score the nearest-neighbour patch-distance baseline.
        nn_bank_fraction: Fraction of training patches in the baseline's memory bank.
        cache_dir: Feature cache folder (default ``model_dir/cache``).
        device: Where to score: ``cpu``, ``cuda`` or ``cuda:N``.
        maps_dir: Save anomaly-map images of the top tiles here.
        json_path: Write the report as JSON here (NaN as null).

    Returns:
        The measurements; ``text()`` is what ``station evaluate`` prints.

    Raises:
        UnknownClassError: a class the model was not trained on.
        ModelFileError, DataError, ConfigError: a bad model folder, data or device.
    """
    started = time.perf_counter()
    torch_device = resolve_device(device)
    model, metadata = load_model(model_dir)
    model.to(torch_device)
    classes = classes or list(model.spec.classes)
    unknown = [c for c in classes if c not in model.spec.classes]
    if unknown:
        raise UnknownClassError(
            f"model {model_dir} was not trained on class(es) {', '.join(unknown)}",
            hint=f"it knows: {', '.join(model.spec.classes)}",
        )
    spec = model.spec
    tiles = load_tiles(
        data,
        layout=layout,
        split=split,
        classes=classes,
        tile_px=spec.tile_px,
        channels=spec.in_channels,
    )
    cache_dir = cache_dir or model_dir / "cache"
    raw = cached_features(
        model,
        tiles,
        weights_sha256=metadata.backbone_weights_sha256,
        cache_dir=cache_dir,
        desc=f"{split} features",
    )
    scored, _ = score_model(model, tiles, raw_features=raw)
    report = EvaluationReport(
        model_dir=model_dir,
        data=data,
        layout=layout,
        split=split,
        tiles=len(tiles),
        defective_tiles=int(tiles.labels.sum()),
        metrics=metrics_by_class(tiles, scored),
    )
    if metadata.calibration is not None and layout == "aitex" and split == "test":
        report.false_alarms = _test_normal_false_alarms(tiles, scored, metadata)
    for other_dir in compare:
        report.comparisons[other_dir.name] = _compared_model_metrics(
            other_dir, model, tiles, raw, cache_dir=cache_dir, device=torch_device
        )
    if nearest_neighbour:
        name = f"nearest-neighbour ({nn_bank_fraction:.0%} bank)"
        report.comparisons[name] = _baseline_metrics(
            model,
            metadata,
            tiles,
            raw,
            data=data,
            layout=layout,
            classes=classes,
            cache_dir=cache_dir,
            bank_fraction=nn_bank_fraction,
            device=torch_device,
        )
    report.seconds = time.perf_counter() - started
    if maps_dir is not None:
        report.map_images = write_map_images(tiles, scored, maps_dir)
        report.maps_dir = maps_dir
    if json_path is not None:
        write_json(report.as_json(), json_path)
    return report


def _test_normal_false_alarms(
    tiles: TileSet, scored: ScoredTiles, metadata: ModelMetadata
) -> dict[str, float]:
    """False alarms per metre on the defect-free test images at the calibrated threshold."""
    calibration = metadata.calibration
    normal_items = {i for i, item in enumerate(tiles.items) if not item.is_defective}
    normal = np.isin(tiles.image_index, list(normal_items))
    normal_tiles = tiles.subset(normal)
    metres = fabric_metres(image_heights(normal_tiles), mm_per_px=calibration.mm_per_px)
    return {
        "threshold": calibration.pixel_threshold,
        "test_normal_metres": metres,
        "false_alarms_per_m": false_alarms_per_metre(
            normal_tiles,
            ScoredTiles(scored.tile_scores[normal], scored.maps[normal]),
            pixel_threshold=calibration.pixel_threshold,
            merge_gap_px=merge_gap_px(calibration.merge_gap_mm, calibration.mm_per_px),
            metres=metres,
        ),
    }


def _compared_model_metrics(
    other_dir: Path,
    model: CrasModel,
    tiles: TileSet,
    raw: torch.Tensor,
    *,
    cache_dir: Path,
    device: torch.device,
) -> dict:
    """Metrics of another model on the same tiles (same features when the backbone matches)."""
    other, other_meta = load_model(other_dir)
    other.to(device)
    spec = model.spec
    same_features = (
        other.spec.backbone,
        other.spec.tile_px,
        other.spec.input_scale,
        other.spec.dim,
    ) == (spec.backbone, spec.tile_px, spec.input_scale, spec.dim)
    other_raw = (
        raw
        if same_features
        else cached_features(
            other,
            tiles,
            weights_sha256=other_meta.backbone_weights_sha256,
            cache_dir=cache_dir,
            desc="features",
        )
    )
    return metrics_by_class(tiles, score_model(other, tiles, raw_features=other_raw)[0])


def _baseline_metrics(
    model: CrasModel,
    metadata: ModelMetadata,
    tiles: TileSet,
    raw: torch.Tensor,
    *,
    data: Path,
    layout: str,
    classes: list[str],
    cache_dir: Path,
    bank_fraction: float,
    device: torch.device,
) -> dict:
    """Metrics of the nearest-neighbour baseline on the model's standardised features."""
    spec = model.spec
    train_tiles = load_tiles(
        data,
        layout=layout,
        split="train",
        classes=classes,
        tile_px=spec.tile_px,
        channels=spec.in_channels,
    )
    train_raw = cached_features(
        model,
        train_tiles,
        weights_sha256=metadata.backbone_weights_sha256,
        cache_dir=cache_dir,
        desc="train features",
    )
    baseline = NearestNeighbourBaseline.from_features(
        model.standardise(train_raw.to(device)),
        tile_px=spec.tile_px,
        grid_px=spec.grid_px,
        bank_fraction=bank_fraction,
    )
    metrics = metrics_by_class(tiles, baseline.score(model.standardise(raw.to(device))))
    metrics["bank_vectors"] = len(baseline.bank)
    return metrics
