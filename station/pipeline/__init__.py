"""The inspection pipeline: line blocks in, logged defects out, at line speed.

``source -> web assembly -> tiling -> inference -> stitching + defect
extraction -> store / events``, as threads joined by bounded queues (see
:mod:`station.pipeline.orchestrator` and docs/pipeline.md).
"""

from station.pipeline.config import StationConfig, load_station_config
from station.pipeline.coverage import Stretch
from station.pipeline.events import (
    Alarm,
    DefectFound,
    EventBus,
    EventQueue,
    FiguresUpdated,
    PipelineEvent,
    PipelineState,
    SourceNotice,
    StatusChanged,
    UninspectedStretchFound,
)
from station.pipeline.extraction import FoundDefect
from station.pipeline.figures import PipelineFigures
from station.pipeline.orchestrator import Pipeline
from station.pipeline.run_summary import RunSummary

__all__ = [
    "Alarm",
    "DefectFound",
    "EventBus",
    "EventQueue",
    "FiguresUpdated",
    "FoundDefect",
    "Pipeline",
    "PipelineEvent",
    "PipelineFigures",
    "PipelineState",
    "RunSummary",
    "SourceNotice",
    "StationConfig",
    "StatusChanged",
    "Stretch",
    "UninspectedStretchFound",
    "load_station_config",
]
