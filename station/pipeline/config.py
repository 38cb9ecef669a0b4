"""The station configuration (``station.yaml``): one strict model per concept.

``deploy/station.example.yaml`` shows and explains every field. Load a file
with :func:`load_station_config`; a mistake becomes one
:class:`~training.errors.ConfigError` naming the file, the dotted field
(e.g. ``source.camera.cti_path``) and the fix.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from station.acquisition.config import CameraConfig, ReplayConfig, SyntheticConfig
from station.store.config import StoreConfig
from station.store.recipe_config import RecipesConfig
from training.public import StrictModel, load_yaml_config

SourceKind = Literal["camera", "replay", "synthetic"]


class SourceConfig(StrictModel):
    """Where lines come from: ``kind`` picks the section that is used."""

    kind: SourceKind = Field(description="camera, replay or synthetic: the section to use")
    camera: CameraConfig | None = Field(default=None, description="a GenICam line-scan camera")
    replay: ReplayConfig | None = Field(default=None, description="image files played back")
    synthetic: SyntheticConfig | None = Field(
        default=None, description="procedural fabric with planted defects"
    )

    @model_validator(mode="after")
    def _chosen_section_present(self) -> SourceConfig:
        if getattr(self, self.kind) is None:
            raise ValueError(
                f"kind is {self.kind!r} but there is no `{self.kind}:` section; add it "
                "(see deploy/station.example.yaml) or set kind to a section you gave"
            )
        return self


class ModelConfig(StrictModel):
    """The trained model and how to run it."""

    path: Path | None = Field(
        default=None,
        description="model folder (model.json + model.safetensors); leave out with "
        "recipes.per_roll (each roll's recipe names its model)",
    )
    backend: Literal["auto", "torch", "onnxruntime", "openvino", "tensorrt"] = Field(
        default="auto",
        description="inference runtime; auto = the fastest usable here (TensorRT engine, "
        "PyTorch on CUDA, ONNX Runtime, OpenVINO, PyTorch on the CPU)",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto = a GPU where one is usable"
    )
    precision: Literal["fp32", "fp16"] | None = Field(
        default=None, description="None = each backend's fastest (fp16 on a GPU, fp32 on a CPU)"
    )
    artefact: Path | None = Field(
        default=None,
        description="an .onnx or .engine file from `station export` to run; None = look for "
        "exports inside the model folder",
    )
    batch_size: int = Field(default=16, ge=1, le=1024, description="tiles per inference call")
    pixel_threshold: float | None = Field(
        default=None,
        gt=0,
        description="anomaly-map threshold; None = the model's calibrated pixel_threshold",
    )
    threshold_factor: float = Field(
        default=1.0,
        gt=0,
        description="multiplies the threshold: above 1 fewer detections, below 1 more sensitive",
    )

    @field_validator("path")
    @classmethod
    def _model_folder_exists(cls, path: Path | None) -> Path | None:
        if path is not None and not (path / "model.json").is_file():
            raise ValueError(
                f"{str(path)!r} is not a model folder (no model.json in it); point model.path "
                "at the folder written by `station train --out`"
            )
        return path

    @field_validator("artefact")
    @classmethod
    def _artefact_exists(cls, path: Path | None) -> Path | None:
        if path is not None and (not path.is_file() or path.suffix not in (".onnx", ".engine")):
            raise ValueError(
                f"{str(path)!r} is not an existing .onnx or .engine file; export one with "
                "`station export --format onnx|tensorrt`, or leave model.artefact out"
            )
        return path


class GeometryConfig(StrictModel):
    """Pixel size across the web and roll advance per line along it."""

    mm_per_px: float | None = Field(
        default=None,
        gt=0,
        description="pixel size across the web; None only with a synthetic source (taken from it)",
    )
    mm_per_line: float | None = Field(
        default=None, gt=0, description="roll advance per camera line; None = mm_per_px"
    )
    position_from: Literal["line_count", "encoder"] = Field(
        default="line_count",
        description="line_count: line index x mm_per_line; encoder: the camera's encoder "
        "position of each block (needs source.camera.encoder_chunk_node)",
    )


class TilingConfig(StrictModel):
    """How the web is cut into the model's S x S tiles."""

    overlap_px: int = Field(
        default=0, ge=0, description="overlap of neighbouring tiles, both directions (< S)"
    )
    max_background_fraction: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="a column is off the web when more than this share of it is background",
    )
    edge_gap_px: int = Field(
        default=64,
        ge=0,
        description="background gaps inside the web narrower than this are bridged",
    )


class ExtractionConfig(StrictModel):
    """From stitched anomaly maps to defects."""

    min_area_mm2: float = Field(default=0.0, ge=0, description="smaller components are ignored")
    merge_gap_mm: float | None = Field(
        default=None,
        ge=0,
        description="fragments closer than this are one defect; None = the gap the model's "
        "threshold was calibrated with (keeps the calibrated false-alarm rate meaningful)",
    )
    max_defect_length_mm: float = Field(
        default=500.0,
        gt=0,
        description="a defect longer than this is reported in pieces (bounds memory)",
    )
    crop_margin_px: int = Field(default=24, ge=0, description="context around a defect's crop")
    max_crop_px: int = Field(default=512, ge=32, description="longer crop sides are scaled down")
    save_images: bool = Field(default=True, description="store a crop and a heatmap per defect")


class StationIdentity(StrictModel):
    """Who is inspecting."""

    name: str = Field(
        default_factory=socket.gethostname, min_length=1, max_length=128, description="station"
    )


class RollConfig(StrictModel):
    """The roll on the frame."""

    lot_number: str = Field(
        default="auto", min_length=1, max_length=128, description="auto = station + start time"
    )
    fabric_type: str | None = Field(
        default=None, max_length=128, description="None = the model's class if it has only one"
    )
    width_mm: float | None = Field(
        default=None, gt=0, description="fabric width for grading; None = measured web width"
    )
    same_lot: Literal["continue", "new"] = Field(
        default="continue",
        description="a lot number this station inspected before: continue that roll as a new "
        "inspection run (positions go on from where it ended), or open a new roll",
    )
    checkpoint_every_s: float = Field(
        default=1.0,
        gt=0,
        description="write how far inspection got at least this often (what a crash can lose)",
    )
    checkpoint_every_m: float = Field(
        default=1.0, gt=0, description="... and at least every this many metres of web"
    )


class AlarmConfig(StrictModel):
    """When the pipeline raises an alarm (to the UI and the store)."""

    min_points: int = Field(
        default=3, ge=1, le=5, description="alarm for defects with at least these points (5=never)"
    )
    on_uninspected: bool = Field(default=True, description="alarm for every uninspected stretch")
    on_source_fault: bool = Field(default=True, description="alarm for camera faults")


class RuntimeConfig(StrictModel):
    """Queues, back-pressure and reporting of the running pipeline."""

    inference_queue_rows: int = Field(
        default=8, ge=1, description="tile rows waiting for inference before the oldest drops"
    )
    result_queue_rows: int = Field(
        default=8, ge=1, description="scored rows waiting for extraction before the oldest drops"
    )
    when_behind: Literal["drop_oldest", "wait"] = Field(
        default="drop_oldest",
        description="drop_oldest: a live camera never waits, lost fabric is recorded as "
        "uninspected; wait: stages wait for each other (replays, benchmarks)",
    )
    status_interval_s: float = Field(default=1.0, gt=0, description="figures published this often")
    rate_window_s: float = Field(
        default=20.0, gt=0, description="lines/s, tiles/s and latency are averaged over this long"
    )
    drain_timeout_s: float = Field(
        default=120.0,
        ge=0,
        description="on stop, the longest wait for queued work to be inspected; what is still "
        "queued then is discarded (and recorded as uninspected)",
    )
    drain_margin: float = Field(
        default=2.0,
        ge=1,
        description="on stop, the wait is this many times the backlog's estimated inspection "
        "time (queued tiles / measured tiles/s), plus drain_min_s, at most drain_timeout_s",
    )
    drain_min_s: float = Field(
        default=2.0, ge=0, description="on stop, wait at least this long (if work is queued)"
    )


class MetricsConfig(StrictModel):
    """The Prometheus text endpoint ``/metrics`` of a running station (off unless a port is set)."""

    port: int | None = Field(
        default=None, ge=1, le=65535, description="serve /metrics on this port; None = off"
    )
    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="address to listen on; 127.0.0.1 = this machine only (`station status` "
        "reads it there)",
    )


class PreviewConfig(StrictModel):
    """The live view's web preview (``WebPreview`` events, made only when a window asks)."""

    rate_hz: float = Field(default=20.0, gt=0, le=25, description="previews per second at most")
    width_px: int = Field(
        default=1024, ge=64, le=8192, description="display columns across the whole camera line"
    )


class OperatorConfig(StrictModel):
    """What the operator window lets people change, and when it alarms (the engineer sets it).

    Sensitivity divides the model's threshold: 1.2 finds fainter defects, 0.8 fewer.
    """

    sensitivity_min: float = Field(default=0.8, gt=0, le=1, description="operators: lowest")
    sensitivity_max: float = Field(default=1.25, ge=1, le=10, description="operators: highest")
    engineer_sensitivity_min: float = Field(
        default=0.5, gt=0, le=1, description="signed-in engineers: lowest"
    )
    engineer_sensitivity_max: float = Field(
        default=2.0, ge=1, le=10, description="signed-in engineers: highest"
    )
    alarm_min_points: int = Field(
        default=3, ge=1, le=5, description="window alarm for defects of at least these points"
    )
    alarm_min_score: float | None = Field(
        default=None, gt=0, description="window alarm for defects scoring this much; None = never"
    )
    alarm_min_length_mm: float | None = Field(
        default=None, gt=0, description="window alarm for defects this long; None = never"
    )
    alarm_on_uninspected: bool = Field(
        default=True, description="window alarm for every uninspected stretch"
    )
    store_poll_s: float = Field(
        default=2.0, ge=0.2, description="false alarms and the database are read this often"
    )
    waterfall_rows: int = Field(
        default=600, ge=64, le=4096, description="display rows the waterfall shows"
    )

    @model_validator(mode="after")
    def _ranges_nest(self) -> OperatorConfig:
        if not (
            self.engineer_sensitivity_min <= self.sensitivity_min
            and self.sensitivity_max <= self.engineer_sensitivity_max
        ):
            raise ValueError(
                "the engineers' sensitivity range must contain the operators' range; widen "
                "engineer_sensitivity_min/max or narrow sensitivity_min/max"
            )
        return self


class StationConfig(StrictModel):
    """Everything ``station run`` needs (``station.yaml``)."""

    station: StationIdentity = Field(default_factory=StationIdentity)
    source: SourceConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    geometry: GeometryConfig = Field(default_factory=GeometryConfig)
    tiling: TilingConfig = Field(default_factory=TilingConfig)
    extraction: ExtractionConfig = Field(default_factory=ExtractionConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    roll: RollConfig = Field(default_factory=RollConfig)
    alarm: AlarmConfig = Field(default_factory=AlarmConfig)
    pipeline: RuntimeConfig = Field(default_factory=RuntimeConfig)
    preview: PreviewConfig = Field(default_factory=PreviewConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    operator: OperatorConfig = Field(default_factory=OperatorConfig)
    recipes: RecipesConfig = Field(default_factory=RecipesConfig)

    @model_validator(mode="after")
    def _model_known(self) -> StationConfig:
        if self.model.path is None and not self.recipes.per_roll:
            raise ValueError(
                "model.path is not set; point it at a model folder, or set recipes.per_roll: "
                "true to run each roll's recipe (see docs/engineer.md)"
            )
        return self

    @model_validator(mode="after")
    def _geometry_known(self) -> StationConfig:
        synthetic = self.source.synthetic if self.source.kind == "synthetic" else None
        if self.geometry.mm_per_px is None and synthetic is None:
            raise ValueError(
                "geometry.mm_per_px is not set; give the pixel size across the web in mm "
                "(e.g. 0.2 for a 4096-pixel camera over 820 mm)"
            )
        if synthetic is not None:
            synthetic_line = synthetic.mm_per_line or synthetic.mm_per_px
            for name, given, actual in (
                ("mm_per_px", self.geometry.mm_per_px, synthetic.mm_per_px),
                ("mm_per_line", self.geometry.mm_per_line, synthetic_line),
            ):
                if given is not None and abs(given - actual) > 1e-9:
                    raise ValueError(
                        f"geometry.{name} = {given} differs from the synthetic source's "
                        f"{actual}; leave geometry.{name} out to use the source's value"
                    )
        if self.geometry.position_from == "encoder" and (
            self.source.kind != "camera"
            or self.source.camera is None
            or self.source.camera.encoder_chunk_node is None
        ):
            raise ValueError(
                "geometry.position_from is 'encoder' but the source has no encoder; set "
                "source.camera.encoder_chunk_node and mm_per_encoder_count, or use line_count"
            )
        return self

    @property
    def mm_per_px(self) -> float:
        """Pixel size across the web (mm)."""
        if self.geometry.mm_per_px is not None:
            return self.geometry.mm_per_px
        assert self.source.synthetic is not None  # guaranteed by _geometry_known
        return self.source.synthetic.mm_per_px

    @property
    def mm_per_line(self) -> float:
        """Roll advance per camera line (mm)."""
        if self.geometry.mm_per_line is not None:
            return self.geometry.mm_per_line
        if self.source.kind == "synthetic" and self.source.synthetic is not None:
            return self.source.synthetic.mm_per_line or self.source.synthetic.mm_per_px
        return self.mm_per_px


def load_station_config(path: str | Path) -> StationConfig:
    """Load and validate ``station.yaml``.

    Raises:
        ConfigError: the file is missing or not YAML, or a field is unknown or invalid
            (the message names each field, e.g. ``source.camera.cti_path``).
    """
    return load_yaml_config(StationConfig, path)
