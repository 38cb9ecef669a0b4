"""Building the pipeline's parts from the station configuration.

Errors name the configuration field to fix. Source errors raised at start-up
name ``camera.<field>`` or ``replay.<field>`` (the acquisition package's own
naming); in a station configuration those sections are ``source.camera`` and
``source.replay``, so :func:`start_source` rewrites the names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from engines.backends.base import InferenceBackend
from engines.backends.factory import open_backend as open_inference_backend
from station.acquisition.base import EventCallback, LineSource
from station.acquisition.harvesters_source import HarvestersSource
from station.acquisition.replay_source import ReplaySource
from station.acquisition.synthetic_source import SyntheticFabricSource
from station.pipeline.config import ModelConfig, StationConfig
from station.pipeline.errors import PipelineConfigError
from station.pipeline.extraction import ExtractionSettings
from station.store.records import ModelVersionInfo
from training.public import CrasStationError, ModelMetadata, read_metadata

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelFacts:
    """What the pipeline needs to know about the model it runs.

    Attributes:
        metadata: The model folder's metadata.
        threshold: Effective pixel threshold (calibrated or configured, times the factor).
        classes: Class names.
        tile_px: S.
        in_channels: Channels of its tiles.
    """

    metadata: ModelMetadata
    threshold: float
    classes: tuple[str, ...]
    tile_px: int
    in_channels: int

    def merge_gap_mm(self, configured: float | None) -> float:
        """The configured merge gap, else the one the model was calibrated with."""
        if configured is not None:
            return configured
        calibration = self.metadata.calibration
        return calibration.merge_gap_mm if calibration is not None else 0.0

    def version_info(self, name: str) -> ModelVersionInfo:
        """The store's record of this model version."""
        return ModelVersionInfo(
            sha256=self.metadata.model_hash,
            name=name[:128],
            classes=self.classes,
            threshold=self.threshold,
        )


def model_facts(config: ModelConfig) -> ModelFacts:
    """Read the model's metadata and settle the threshold.

    Raises:
        ModelFileError: the folder is not a readable model.
        PipelineConfigError: the model has no calibration and no ``model.pixel_threshold``.
    """
    if config.path is None:
        raise PipelineConfigError(
            "model.path is not set (recipes.per_roll picks the model when a roll starts)",
            hint="set model.path to a model folder for this command",
        )
    metadata = read_metadata(config.path)
    spec = metadata.model_spec()
    base = config.pixel_threshold
    if base is None:
        if metadata.calibration is None:
            raise PipelineConfigError(
                f"model.path: the model {config.path} has no calibration, so there is no "
                "pixel threshold",
                hint="calibrate the model (`station train` does it on validation normals) or "
                "set model.pixel_threshold",
            )
        base = metadata.calibration.pixel_threshold
    return ModelFacts(
        metadata=metadata,
        threshold=base * config.threshold_factor,
        classes=tuple(spec.classes),
        tile_px=spec.tile_px,
        in_channels=spec.in_channels,
    )


def open_backend(config: ModelConfig, *, model_hash: str) -> InferenceBackend:
    """Open the configured inference backend (``engines.backends.factory.open_backend``).

    Args:
        config: The ``model:`` section.
        model_hash: Hash of the model folder's tensors; an explicit artefact must match it.

    Raises:
        BackendUnavailableError: the backend cannot run here (the message says why).
        PipelineConfigError: ``model.artefact`` was exported from another model.
        ModelFileError: the model cannot be loaded.
    """
    backend = open_inference_backend(
        config.artefact or config.path,
        kind=config.backend,
        device=config.device,
        precision=config.precision,
        max_batch=config.batch_size,
    )
    if backend.info.model_hash != model_hash:
        backend.close()
        raise PipelineConfigError(
            f"model.artefact: {config.artefact} was exported from another model than {config.path}",
            hint="export again from this model folder, or point model.path at the folder the "
            "artefact came from",
        )
    return backend


def make_source(config: StationConfig, *, on_event: EventCallback) -> LineSource:
    """The configured line source (not started)."""
    source = config.source
    if source.kind == "camera" and source.camera is not None:
        return HarvestersSource(source.camera, on_event=on_event)
    if source.kind == "replay" and source.replay is not None:
        return ReplaySource(source.replay, on_event=on_event)
    assert source.synthetic is not None  # the config's validator guarantees the section
    return SyntheticFabricSource(source.synthetic, on_event=on_event)


def start_source(source: LineSource, *, section: str) -> None:
    """Start a source; its errors name ``source.<section>.<field>`` as station.yaml does.

    Args:
        source: The source to start.
        section: ``camera``, ``replay`` or ``synthetic``: the config section it came from.
    """
    try:
        source.start()
    except CrasStationError as error:
        prefix = f"{section}."
        if not error.message.startswith(prefix):
            raise
        renamed = type(error)(
            "source." + error.message, hint=error.hint.replace(prefix, f"source.{prefix}")
        )
        raise renamed from None


def extraction_settings(config: StationConfig, facts: ModelFacts) -> ExtractionSettings:
    """How components become defects, from the ``extraction:`` section and the model."""
    section = config.extraction
    return ExtractionSettings(
        threshold=facts.threshold,
        mm_per_px=config.mm_per_px,
        mm_per_line=config.mm_per_line,
        classes=facts.classes,
        min_area_mm2=section.min_area_mm2,
        max_length_lines=max(
            facts.tile_px, round(section.max_defect_length_mm / config.mm_per_line)
        ),
        crop_margin_px=section.crop_margin_px,
        max_crop_px=section.max_crop_px,
        save_images=section.save_images,
        merge_gap_px=round(facts.merge_gap_mm(section.merge_gap_mm) / config.mm_per_px),
    )
