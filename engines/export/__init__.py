"""Export a trained model to ONNX or a TensorRT engine, each followed by a parity check.

Public API::

    outcome = export_model(model_dir, format_name="onnx", precision="fp32", out="m.onnx")
    graph, artefact = build_onnx_model(model, metadata, precision="fp32")   # in memory
    export_onnx(model, metadata, path, precision="fp16")                     # just the file
    graph, artefact = load_onnx_artefact(path)                               # with clear errors

``EXPORT_FORMATS`` is the table of formats (name, suffix, precisions, build, open).
"""

from importlib import import_module
from typing import Any

from engines.export.artefact import INPUT_NAME, OUTPUT_NAMES, ArtefactMetadata

# The rest needs torch and onnx: imported on first use, so that reading an
# artefact's metadata (the station's backend factory does) pulls in neither.
_LAZY = {
    "EXPORT_FORMATS": "engines.export.formats",
    "ExportFormat": "engines.export.formats",
    "export_format": "engines.export.formats",
    "build_onnx_model": "engines.export.onnx_export",
    "export_onnx": "engines.export.onnx_export",
    "load_onnx_artefact": "engines.export.onnx_export",
    "ExportOutcome": "engines.export.pipeline",
    "export_model": "engines.export.pipeline",
}

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
