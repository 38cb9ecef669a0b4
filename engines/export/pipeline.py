"""Export a model folder to an artefact, then prove it with a parity check.

``export_model`` = look the format up in the table, write the artefact, run
the same real tiles through PyTorch (CPU, fp32: the reference) and through
the artefact's backend, and save the parity report next to the artefact
(``<artefact>.parity.json``). When the artefact is outside tolerance it is
renamed to ``<artefact>.invalid`` (so nothing loads it by accident), the
report says so, and :class:`~engines.errors.ParityError` is raised.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from engines.backends.torch_backend import TorchBackend
from engines.errors import ExportError, ParityError
from engines.export.formats import BuildRequest, ExportFormat, export_format
from engines.parity import (
    ParityReport,
    compare_outputs,
    report_path_for,
    tolerance_for,
    write_report,
)
from engines.parity_tiles import DEFAULT_PARITY_TILES, ParityTiles, collect_parity_tiles
from training.model_file import load_model

log = logging.getLogger(__name__)

INVALID_SUFFIX = ".invalid"


@dataclass(frozen=True)
class ExportOutcome:
    """Where the artefact and its report went, and what the report says."""

    artefact: Path
    report_path: Path
    report: ParityReport


def resolve_output_path(out: str | Path, fmt: ExportFormat, *, precision: str) -> Path:
    """The artefact path: ``out`` itself, or ``out/model_<precision><suffix>`` for a folder.

    Raises:
        ExportError: ``out`` names a file with another suffix than the format's.
    """
    out = Path(out)
    if out.is_dir():
        return out / f"model_{precision}{fmt.suffix}"
    if out.suffix != fmt.suffix:
        raise ExportError(
            f"--out {out} does not end in {fmt.suffix}, the suffix of {fmt.name} files",
            hint=f"name the file e.g. {out.with_suffix(fmt.suffix)}",
        )
    return out


def export_model(
    model_dir: str | Path,
    *,
    format_name: str,
    precision: str,
    out: str | Path,
    max_batch: int = 32,
    parity_tile_count: int = DEFAULT_PARITY_TILES,
    parity_tiles: ParityTiles | None = None,
    data_dir: str | Path | None = None,
    timing_cache: str | Path | None = None,
    backbone_weights: str | Path | None = None,
    device_index: int = 0,
) -> ExportOutcome:
    """Write an artefact and its parity report.

    Args:
        model_dir: Trained model folder.
        format_name: A key of ``EXPORT_FORMATS`` ("onnx", "tensorrt").
        precision: "fp32" or "fp16".
        out: Artefact file, or a folder to put ``model_<precision><suffix>`` in.
        max_batch: Largest batch the artefact must take.
        parity_tile_count: Tiles for the parity check (when ``parity_tiles`` is None).
        parity_tiles: Tiles to use instead of collecting them.
        data_dir: AITEX folder for the parity tiles (searched for when None).
        timing_cache: TensorRT timing cache file.
        backbone_weights: Local backbone weights (wide_resnet50_2).
        device_index: CUDA device for GPU formats.

    Raises:
        ExportError: bad options, or the format cannot be built here.
        ParityError: the artefact is outside tolerance (it is then renamed ``*.invalid``).
    """
    fmt = export_format(format_name)
    if precision not in fmt.precisions:
        raise ExportError(
            f"{fmt.name} exports come in {', '.join(fmt.precisions)}, not {precision!r}",
            hint=f"use --precision {fmt.precisions[0]}",
        )
    if max_batch < 1:
        raise ExportError(f"--max-batch must be >= 1, got {max_batch}", hint="use e.g. 32")
    reason = fmt.unavailable_reason()
    if reason is not None:
        raise ExportError(
            f"cannot export {fmt.name} on this machine: {reason}",
            hint="export on a machine that has it (TensorRT engines: on the target GPU)",
        )
    artefact = resolve_output_path(out, fmt, precision=precision)
    artefact.parent.mkdir(parents=True, exist_ok=True)
    report_path = report_path_for(artefact)
    invalid = artefact.with_name(artefact.name + INVALID_SUFFIX)
    for stale in (report_path, invalid):
        stale.unlink(missing_ok=True)

    model, metadata = load_model(model_dir, backbone_weights=backbone_weights)
    spec = model.spec
    tiles = parity_tiles or collect_parity_tiles(
        tile_px=spec.tile_px,
        in_channels=spec.in_channels,
        count=parity_tile_count,
        data_dir=data_dir,
    )
    if len(tiles.tiles) == 0:
        raise ExportError("no tiles for the parity check", hint="pass --data with fabric images")
    log.info("parity check on %d tiles (%s)", len(tiles.tiles), tiles.source)
    # The reference is computed before the builder sees the model.
    with TorchBackend(model, metadata, device="cpu", precision="fp32", max_batch=16) as reference:
        expected = reference.infer(tiles.tiles)
        reference_info = reference.info
    fmt.build(
        BuildRequest(
            model=model,
            metadata=metadata,
            out=artefact,
            precision=precision,
            max_batch=max_batch,
            timing_cache=Path(timing_cache) if timing_cache else None,
            device_index=device_index,
        )
    )
    with fmt.open_backend(artefact, max_batch) as backend:
        candidate = backend.infer(tiles.tiles)
        backend_info = backend.info
    calibration = metadata.calibration
    report = compare_outputs(
        expected,
        candidate,
        labels=tiles.labels,
        tile_threshold=None if calibration is None else calibration.tile_threshold,
        pixel_threshold=None if calibration is None else calibration.pixel_threshold,
        tolerance=tolerance_for(precision),
        artefact=str(artefact),
        format_name=fmt.name,
        precision=precision,
        model_hash=metadata.model_hash,
        backend=backend_info,
        reference_backend=reference_info,
        tile_source=tiles.source,
    )
    if not report.valid:
        os.replace(artefact, invalid)
        report.artefact = str(invalid)
    write_report(report, report_path)
    log.info("%s", report.summary())
    if not report.valid:
        raise ParityError(
            f"{fmt.name} export does not match PyTorch: " + "; ".join(report.failures),
            hint=f"the artefact was renamed to {invalid} and must not be used; "
            f"see {report_path}, and report the model and command as a bug",
            report_path=str(report_path),
        )
    return ExportOutcome(artefact=artefact, report_path=report_path, report=report)
