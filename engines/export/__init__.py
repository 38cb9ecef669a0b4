"""Export a trained model to ONNX or a TensorRT engine, each followed by a parity check.

Public API::

    outcome = export_model(model_dir, format_name="onnx", precision="fp32", out="m.onnx")
    graph, artefact = build_onnx_model(model, metadata, precision="fp32")   # in memory
    export_onnx(model, metadata, path, precision="fp16")                     # just the file
    graph, artefact = load_onnx_artefact(path)                               # with clear errors

``EXPORT_FORMATS`` is the table of formats (name, suffix, precisions, build, open).
"""

from engines.export.artefact import INPUT_NAME, OUTPUT_NAMES, ArtefactMetadata
from engines.export.formats import EXPORT_FORMATS, ExportFormat, export_format
from engines.export.onnx_export import build_onnx_model, export_onnx, load_onnx_artefact
from engines.export.pipeline import ExportOutcome, export_model

__all__ = [
    "EXPORT_FORMATS",
    "INPUT_NAME",
    "OUTPUT_NAMES",
    "ArtefactMetadata",
    "ExportFormat",
    "ExportOutcome",
    "build_onnx_model",
    "export_format",
    "export_model",
    "export_onnx",
    "load_onnx_artefact",
]
