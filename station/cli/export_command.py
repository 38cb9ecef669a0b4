"""``station export``: a model folder to an ONNX file or a TensorRT engine, with a parity report.

::

    station export --model MODEL_DIR --format onnx --precision fp32 --out MODEL_DIR/model.onnx
    station export --model MODEL_DIR --format tensorrt --precision fp16 --max-batch 32 \\
        --out MODEL_DIR/model_fp16.engine

The artefact is followed by a parity check against the PyTorch model on real
tiles (``--data`` or ../shared/datasets/aitex when present, generated fabric
otherwise); the report is saved as ``<artefact>.parity.json``. Outside
tolerance the artefact is renamed ``<artefact>.invalid`` and the exit status is 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engines.errors import ParityError
from engines.export.formats import EXPORT_FORMATS
from engines.export.pipeline import export_model
from engines.parity_tiles import DEFAULT_PARITY_TILES

EXIT_PARITY_FAILED = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``export``."""
    formats = "; ".join(f"{f.name}: {f.description}" for f in EXPORT_FORMATS.values())
    parser = subparsers.add_parser(
        "export",
        help="export a model to ONNX or a TensorRT engine, checked against PyTorch",
        description=f"Formats: {formats}.",
    )
    parser.add_argument("--model", required=True, type=Path, help="trained model folder")
    parser.add_argument("--format", required=True, choices=sorted(EXPORT_FORMATS))
    parser.add_argument("--precision", default="fp32", choices=["fp32", "fp16"])
    parser.add_argument(
        "--max-batch", type=int, default=32, help="largest batch the artefact takes (default 32)"
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="artefact file, or a folder for model_<prec>.<ext>"
    )
    parser.add_argument(
        "--parity-tiles",
        type=int,
        default=DEFAULT_PARITY_TILES,
        help=f"tiles for the parity check (default {DEFAULT_PARITY_TILES})",
    )
    parser.add_argument("--data", type=Path, default=None, help="AITEX folder for the parity tiles")
    parser.add_argument(
        "--timing-cache", type=Path, default=None, help="TensorRT timing cache file"
    )
    parser.add_argument(
        "--backbone-weights", type=Path, default=None, help="local backbone weights file"
    )
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export and check; 0 when the artefact passed, 1 when parity failed."""
    try:
        outcome = export_model(
            args.model,
            format_name=args.format,
            precision=args.precision,
            out=args.out,
            max_batch=args.max_batch,
            parity_tile_count=args.parity_tiles,
            data_dir=args.data,
            timing_cache=args.timing_cache,
            backbone_weights=args.backbone_weights,
        )
    except ParityError as error:
        print(f"error: {error}", file=sys.stderr)
        print(f"parity report: {error.report_path}", file=sys.stderr)
        return EXIT_PARITY_FAILED
    print(outcome.report.summary())
    print(f"wrote {outcome.artefact}")
    print(f"parity report: {outcome.report_path}")
    return 0
