"""Export a :class:`~training.cras.model.CrasModel` to one self-contained ONNX file.

The graph is the whole inference path: ``tiles`` uint8 [B, S, S, C] in (cast
to float first, because TensorRT accepts a uint8 input only into a cast), the
model's own normalisation, backbone, embedding, standardisation, adaptor,
per-image class match, one ``cras::CenterMatch`` node (with a standard-op
function body, so ONNX Runtime runs the file as is), discriminator, score
grid, upsampled and smoothed anomaly map. Outputs, in order: ``tile_score``
[B], ``score_grid`` [B, H, W], ``anomaly_map`` [B, S, S] (float32) and
``matched_class`` [B] int64. The batch dimension is dynamic.

``precision="fp16"`` exports a graph that computes in float16 except where
the reference itself computes in float32 (preprocessing, the global class
match, the cosine similarities of center matching); its outputs are still
float32. It is meant for TensorRT, whose strongly typed builds take their
precision from the graph's types.
"""

from __future__ import annotations

import copy
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import onnx
import torch
from google.protobuf.message import DecodeError
from torch import nn

from engines.errors import ArtefactError, ExportError
from engines.export.artefact import INPUT_NAME, OUTPUT_NAMES, PRECISIONS, ArtefactMetadata
from engines.export.center_match_op import ExportCenterMatch, center_match_function
from engines.export.onnx_graph import fold_constants, set_output_dims
from engines.tensorrt_plugin.onnx_node import ONNX_DOMAIN, center_match_opset
from training.cras.model import CrasModel

log = logging.getLogger(__name__)

ONNX_OPSET = 17
BATCH_DIM = "batch"


def _cast_floats(value: Any, dtype: torch.dtype) -> Any:
    """``value`` with every floating tensor in it (also in lists and tuples) cast to ``dtype``."""
    if isinstance(value, torch.Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, list | tuple):
        return type(value)(_cast_floats(item, dtype) for item in value)
    return value


class _HalfStage(nn.Module):
    """A model stage run in float16 whatever the type of its inputs."""

    def __init__(self, stage: nn.Module) -> None:
        super().__init__()
        self.stage = stage.half()

    def forward(self, *inputs: Any) -> Any:
        return self.stage(*_cast_floats(inputs, torch.float16))


# Stages computed in fp16 in an fp16 export. The rest stays float32 as in the
# reference: preprocessing, the standardisation statistics, the global class
# match (its norms run over N*D values) and the cosines of center matching.
HALF_STAGES = ("backbone", "embedding", "adaptor", "discriminator", "map_head")


class ExportableCras(nn.Module):
    """The graph that is traced: uint8 tiles in, a tuple of the four outputs out.

    Args:
        model: The trained model (not modified; a copy is adapted).
        precision: "fp32" or "fp16".
    """

    def __init__(self, model: CrasModel, *, precision: str) -> None:
        super().__init__()
        adapted = copy.deepcopy(model).cpu().eval()
        adapted.center_match = ExportCenterMatch()
        if precision == "fp16":
            for name in HALF_STAGES:
                setattr(adapted, name, _HalfStage(getattr(adapted, name)))
        self.model = adapted

    def forward(self, tiles: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(tiles.float())
        return (
            out.tile_score.float(),
            out.score_grid.float(),
            out.anomaly_map.float(),
            out.matched_class,
        )


def build_onnx_model(
    model: CrasModel, metadata: Any, *, precision: str = "fp32", opset: int = ONNX_OPSET
) -> tuple[onnx.ModelProto, ArtefactMetadata]:
    """Trace the model into an in-memory ONNX model with metadata and the CenterMatch function.

    Args:
        model: The loaded model (eval mode).
        metadata: Its ``ModelMetadata`` (hash, calibration).
        precision: "fp32" or "fp16".
        opset: Default-domain opset (>= 15).

    Raises:
        ExportError: unknown precision.
    """
    if precision not in PRECISIONS:
        raise ExportError(
            f"unknown precision {precision!r}", hint=f"use one of {', '.join(PRECISIONS)}"
        )
    spec = model.spec
    artefact = ArtefactMetadata.from_model(spec, metadata, precision=precision)
    wrapper = ExportableCras(model, precision=precision).eval()
    example = torch.zeros(2, spec.tile_px, spec.tile_px, spec.in_channels, dtype=torch.uint8)
    with tempfile.TemporaryDirectory() as scratch:
        traced_path = Path(scratch) / "traced.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            # The legacy (TorchScript) exporter is the one that takes autograd
            # Functions with a ``symbolic``; its deprecation and tracer warnings
            # are expected here (the parity check is what proves the graph right).
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                (example,),
                str(traced_path),
                dynamo=False,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=list(OUTPUT_NAMES),
                dynamic_axes={name: {0: BATCH_DIM} for name in (INPUT_NAME, *OUTPUT_NAMES)},
                custom_opsets={ONNX_DOMAIN: center_match_opset().version},
                do_constant_folding=True,
            )
        graph = onnx.load(str(traced_path))
    graph = _optimise(graph)
    fold_constants(graph)
    grid, tile = spec.grid_px, spec.tile_px
    set_output_dims(
        graph,
        {
            "tile_score": [BATCH_DIM],
            "score_grid": [BATCH_DIM, grid, grid],
            "anomaly_map": [BATCH_DIM, tile, tile],
            "matched_class": [BATCH_DIM],
        },
    )
    graph.functions.append(center_match_function(opset=opset))
    graph.producer_name = "cras-station"
    graph.producer_version = artefact.code_version
    graph.doc_string = (
        f"CRAS anomaly model {artefact.model_hash[:16]} ({spec.backbone}, "
        f"{len(spec.classes)} classes, {tile} px tiles, {precision})"
    )
    onnx.helper.set_model_props(graph, artefact.to_metadata_props())
    onnx.checker.check_model(graph)
    return graph, artefact


def _optimise(graph: onnx.ModelProto) -> onnx.ModelProto:
    """onnxscript's optimiser (BatchNorm folding, dead code), keeping the custom node as is."""
    try:
        import onnxscript.optimizer
    except ImportError:  # optional: the graph is correct without it
        return graph
    # Both log every folding decision at INFO.
    chatty = [logging.getLogger(name) for name in ("onnx_ir", "onnxscript")]
    levels = [logger.level for logger in chatty]
    for logger in chatty:
        logger.setLevel(logging.WARNING)
    try:
        return onnxscript.optimizer.optimize(graph, inline=False)
    finally:
        for logger, level in zip(chatty, levels, strict=True):
            logger.setLevel(level)


def export_onnx(
    model: CrasModel,
    metadata: Any,
    path: str | Path,
    *,
    precision: str = "fp32",
    opset: int = ONNX_OPSET,
) -> ArtefactMetadata:
    """Write the model's inference graph to ``path`` (atomically).

    Returns:
        The metadata stored in the file.
    """
    path = Path(path)
    graph, artefact = build_onnx_model(model, metadata, precision=precision, opset=opset)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    onnx.save(graph, str(temporary))
    os.replace(temporary, path)
    log.info("wrote %s (%s, %.1f MB)", path, precision, path.stat().st_size / 1e6)
    return artefact


def load_onnx_artefact(path: str | Path) -> tuple[onnx.ModelProto, ArtefactMetadata]:
    """Read an exported ONNX file and its metadata, with clear errors.

    Raises:
        ArtefactError: missing, truncated or corrupt file, or not a ``station export`` file.
    """
    path = Path(path)
    if not path.is_file():
        raise ArtefactError(
            f"ONNX file {path} does not exist", hint="export it with `station export --format onnx`"
        )
    try:
        graph = onnx.load(str(path))
    except (DecodeError, OSError, ValueError, RuntimeError) as error:
        raise ArtefactError(
            f"{path} is not a readable ONNX file ({type(error).__name__}: {error})",
            hint="the file is truncated or corrupt; export it again with `station export`",
        ) from None
    if len(graph.graph.node) == 0:
        raise ArtefactError(
            f"{path} holds no ONNX graph (empty or not an ONNX file)",
            hint="export it again with `station export --format onnx`",
        )
    props = {prop.key: prop.value for prop in graph.metadata_props}
    return graph, ArtefactMetadata.from_metadata_props(props, origin=path)
