"""Pipeline throughput: lines/s, tiles/s and web speed for a camera width, pixel size and backend.

Runs the real pipeline (synthetic fabric source played as fast as the pipeline
takes it, ``when_behind: wait``, so every tile is inspected; SQLite store) for
a fixed time and prints one table:

* lines/s, tiles/s and the equivalent web speed (m/min) at the given mm per line;
* what the goal needs: a ``--width-px`` camera at ``--goal-m-per-min`` with every
  tile inspected, in lines/s and tiles/s, and the achieved/needed ratio;
* per-stage working time (assembly + web edges + tiling, inference, stitching +
  extraction + store hand-off) as seconds and share of the run;
* what the CPU stages manage alone, one thread each without the model (so a
  fast GPU backend is not hidden behind them): assembly + tiling on rendered
  fabric, stitching + extraction on made-up maps without and with defects;
  and the synthetic source's own rendering speed (it runs in its own thread).

Speed does not depend on what a model learned, so ``--model`` may be left out:
an untrained model of the requested tile size is built (real backbone, same
cost). ``--export onnx`` exports the model first so ``--backend onnxruntime``
has an artefact to run.

Usage (from the repository root)::

    python benchmarks/pipeline.py                                  # 4096 px, 0.2 mm/px, auto
    python benchmarks/pipeline.py --width-px 1024 --seconds 30 --backend torch
    python benchmarks/pipeline.py --model MODEL_DIR --backend tensorrt --device cuda
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

from station.acquisition.lines import Lines  # noqa: E402
from station.pipeline.assembly import LinePositions, WebAssembler  # noqa: E402
from station.pipeline.config import StationConfig  # noqa: E402
from station.pipeline.extraction import DefectExtractor, ExtractionSettings  # noqa: E402
from station.pipeline.orchestrator import Pipeline  # noqa: E402
from station.pipeline.stitching import ScoreBand, ScoredRow  # noqa: E402
from station.pipeline.tiler import tile_row  # noqa: E402
from station.store.engine import create_store_engine  # noqa: E402
from station.store.migrate import upgrade_database  # noqa: E402
from training.data.fabric.style import preset  # noqa: E402
from training.data.fabric.web import FabricWeb  # noqa: E402
from training.data.tiling import window_starts  # noqa: E402
from training.model_file import read_metadata  # noqa: E402


def _model(args: argparse.Namespace, scratch: Path) -> Path:
    if args.model is not None:
        return args.model
    from training.testing import make_model_dir

    return make_model_dir(scratch / "model", classes=("grey_twill",), tile_px=args.tile_px)


def _render_rate(width_px: int, mm_per_px: float, *, seconds: float = 2.0) -> float:
    """Lines per second the synthetic source renders on its own."""
    web = FabricWeb(preset("grey_twill"), width_px=width_px, seed=1, mm_per_px=mm_per_px)
    start, lines = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        lines += web.next_block(256).pixels.shape[0]
    return lines / (time.perf_counter() - start)


def _stage_capacity(
    width_px: int, tile_px: int, overlap_px: int, mm_per_px: float, *, rows: int = 40
) -> dict[str, float]:
    """Lines/s of the CPU stages alone (one thread each, no model).

    Assembly + web edges + tiling on rendered fabric; stitching + extraction on
    made-up tile maps (noise below the threshold, plus one 10 x 10 px defect per
    tile row when asked), with crops and heatmaps rendered as in the station.
    """
    web = FabricWeb(preset("grey_twill"), width_px=width_px, seed=1, mm_per_px=mm_per_px)
    blocks = [web.next_block(tile_px) for _ in range(rows)]
    lines = [Lines(pixels=b.pixels, first_line=b.first_line, timestamp_s=0.0) for b in blocks]
    assembler = WebAssembler(
        tile_px=tile_px, overlap_px=overlap_px, positions=LinePositions(mm_per_line=mm_per_px)
    )
    start = time.perf_counter()
    tiled = [
        tile_row(row, tile_px=tile_px, overlap_px=overlap_px, in_channels=1)
        for block in lines
        for row in assembler.add(block)
    ]
    capacity = {"assembly + web edges + tiling": rows * tile_px / (time.perf_counter() - start)}
    rng = np.random.default_rng(0)
    for label, defects in (("no defects", False), ("one defect per tile row", True)):
        scored = []
        for item in tiled:
            maps = rng.random((item.num_tiles, tile_px, tile_px), dtype=np.float32) * 0.3
            if defects:
                centre = tile_px // 2
                maps[0, centre - 5 : centre + 5, centre - 5 : centre + 5] = 0.9
            scored.append(
                ScoredRow(
                    row=item.row,
                    xs=item.xs,
                    tile_px=tile_px,
                    anomaly_maps=maps,
                    tile_scores=maps.reshape(len(maps), -1).max(axis=1),
                    matched_class=np.zeros(len(maps), np.int64),
                )
            )
        band = ScoreBand()
        extractor = DefectExtractor(
            band,
            ExtractionSettings(
                threshold=0.5, mm_per_px=mm_per_px, mm_per_line=mm_per_px, classes=("a",)
            ),
        )
        start = time.perf_counter()
        for item in scored:
            band.add(item)
            extractor.extract(item.row.first_line)
        extractor.extract(band.end_line, end=True)
        seconds = time.perf_counter() - start
        capacity[f"stitching + extraction, {label}"] = len(scored) * tile_px / seconds
    return capacity


def run(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        model_dir = _model(args, scratch)
        if args.export == "onnx":
            from engines.export.pipeline import export_model

            export_model(model_dir, format_name="onnx", precision="fp32", out=model_dir)
        spec = read_metadata(model_dir).model_spec()
        url = f"sqlite:///{scratch / 'bench.sqlite3'}"
        engine = create_store_engine(url, create=True)
        upgrade_database(engine)
        engine.dispose()
        config = StationConfig.model_validate(
            {
                "station": {"name": "benchmark"},
                "source": {
                    "kind": "synthetic",
                    "synthetic": {
                        "fabric_preset": "grey_twill",
                        "width_px": args.width_px,
                        "mm_per_px": args.mm_per_px,
                        "defects_per_metre": 2.0,
                        "lines_per_block": args.lines_per_block,
                        "output_channels": spec.in_channels,
                    },
                },
                "model": {
                    "path": str(model_dir),
                    "backend": args.backend,
                    "device": args.device,
                    "batch_size": args.batch_size,
                    "pixel_threshold": 0.99,  # an untrained model: keep the defect count sane
                },
                "tiling": {"overlap_px": args.overlap_px},
                "store": {
                    "url": url,
                    "image_root": str(scratch / "images"),
                    "journal_dir": str(scratch / "journal"),
                    "fsync_images": False,
                },
                "pipeline": {"when_behind": "wait"},
                "alarm": {"min_points": 5},
            }
        )
        pipeline = Pipeline(config)
        pipeline.start()
        backend = pipeline.backend_info
        time.sleep(args.warmup_s)
        before = pipeline.figures_now()
        start = time.perf_counter()
        time.sleep(args.seconds)
        after = pipeline.figures_now()
        wall = time.perf_counter() - start
        summary = pipeline.stop(drain_timeout_s=0.0)
    render = _render_rate(args.width_px, args.mm_per_px)
    capacity = _stage_capacity(args.width_px, spec.tile_px, args.overlap_px, args.mm_per_px)

    lines_per_s = (after.lines - before.lines) / wall
    tiles_per_s = (after.tiles - before.tiles) / wall
    mm_per_line = args.mm_per_px
    stride = spec.tile_px - args.overlap_px
    tiles_per_row = len(window_starts(args.width_px, spec.tile_px, stride))
    goal_lines = args.goal_m_per_min * 1000.0 / 60.0 / mm_per_line
    goal_tiles = goal_lines / stride * tiles_per_row
    busy = {
        name: after.stage_busy_s[name] - before.stage_busy_s[name] for name in after.stage_busy_s
    }

    name = f"{backend.name} {backend.device} {backend.precision}" if backend else "?"
    print(
        f"pipeline benchmark: {args.width_px} px x {mm_per_line} mm/px, tile {spec.tile_px} px, "
        f"overlap {args.overlap_px} px, batch {args.batch_size}, backend {name}, "
        f"{wall:.0f} s measured after {args.warmup_s:.0f} s warm-up"
    )
    rows = [
        ("lines/s", f"{lines_per_s:,.0f}"),
        ("tiles/s", f"{tiles_per_s:,.1f}"),
        ("web speed (m/min)", f"{lines_per_s * mm_per_line * 60 / 1000:.2f}"),
        (f"goal {args.goal_m_per_min:g} m/min: lines/s", f"{goal_lines:,.0f}"),
        (f"goal {args.goal_m_per_min:g} m/min: tiles/s", f"{goal_tiles:,.0f}"),
        ("achieved / goal", f"{lines_per_s / goal_lines:.4f}"),
        ("tiles per row", str(tiles_per_row)),
    ]
    for stage, seconds in busy.items():
        rows.append((f"{stage} busy (s, share of run)", f"{seconds:.1f} ({seconds / wall:.0%})"))
    for stage, rate in capacity.items():
        rows.append((f"{stage} alone (lines/s)", f"{rate:,.0f}"))
    rows.append(("synthetic source alone (lines/s)", f"{render:,.0f}"))
    rows.append(("dropped rows / stretches", f"{summary.dropped_rows} / {len(summary.stretches)}"))
    width = max(len(label) for label, _ in rows)
    print("| " + "figure".ljust(width) + " | value |")
    print("|" + "-" * (width + 2) + "|-------|")
    for label, value in rows:
        print(f"| {label.ljust(width)} | {value} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width-px", type=int, default=4096, help="camera pixels per line")
    parser.add_argument("--mm-per-px", type=float, default=0.2, help="pixel size (square lines)")
    parser.add_argument(
        "--backend", default="auto", choices=["auto", "torch", "onnxruntime", "tensorrt"]
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument(
        "--model", type=Path, default=None, help="model folder (default: untrained)"
    )
    parser.add_argument("--tile-px", type=int, default=256, help="tile size of the untrained model")
    parser.add_argument("--export", choices=["onnx"], default=None, help="export first (for ORT)")
    parser.add_argument("--overlap-px", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lines-per-block", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured time")
    parser.add_argument("--warmup-s", type=float, default=10.0, help="run before measuring")
    parser.add_argument("--goal-m-per-min", type=float, default=60.0)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
