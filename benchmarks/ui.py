"""The operator view's cost: frame time of the waterfall, and the pipeline with and without it.

1. **Frame time**: the waterfall (the operator window's live view, heat
   overlay on, defect boxes in view) gets a web preview 20 times a second for a
   4096-pixel-wide web, made by the pipeline's own
   :class:`~station.pipeline.preview.PreviewMaker` from ``--lines-per-update``
   new lines each; one frame is ``add_previews`` plus a synchronous repaint of
   the view. p50/p99 over ``--frames`` frames (target: p99 under 50 ms).
2. **Pipeline tiles/s with and without the window**, in one run: the same
   seeded synthetic roll through the real pipeline (untrained model of the
   shipped class, PyTorch on the CPU, ``when_behind: wait``), first headless,
   then inside the operator window; the ratio of the mean tiles/s.

Usage (from the repository root; Qt's offscreen platform unless one is set)::

    python benchmarks/ui.py --frames 600
    python benchmarks/ui.py --frames 600 --pipeline-lines 4096 --pipeline-width 1024
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtWidgets import QApplication

# Run as `python benchmarks/ui.py`, this folder is first on sys.path and `import ui`
# would find this file instead of the ui package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile (0..1) of ``values`` by the nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def frame_times(app: QApplication, *, frames: int, width_px: int, lines: int) -> list[float]:
    """Seconds per frame (update + paint) at 20 updates/s."""
    from station.pipeline.preview import PreviewMaker
    from ui.widgets.waterfall import MarkedDefect, WaterfallWidget

    rng = np.random.default_rng(0)
    pixels = rng.integers(70, 180, size=(lines, width_px), dtype=np.uint8)
    scores = rng.gamma(2.0, 0.1, size=(lines, width_px)).astype(np.float32)
    maker = PreviewMaker(mm_per_px=0.2, mm_per_line=0.2, display_width_px=1024, rate_hz=1e6)
    waterfall = WaterfallWidget(rows=600)
    waterfall.resize(1050, 770)  # its size in a 1500 x 1000 operator window
    waterfall.show()
    app.processEvents()
    times: list[float] = []
    period_s = 1.0 / 20.0
    next_frame = time.perf_counter()
    for frame in range(frames):
        first = frame * lines
        maker.add(
            first_line=first,
            pixels=pixels,
            scores=scores,
            along_mm=(first + np.arange(lines)) * 0.2,
            threshold=0.4,
        )
        preview = maker.take(force=True)
        assert preview is not None
        if frame % 10 == 0:  # a defect every half second, boxed while in view
            waterfall.mark_defect(
                MarkedDefect(
                    along_mm=float(preview.along_mm[-1]),
                    length_mm=12.0,
                    across_mm=400.0,
                    width_mm=20.0,
                    label="2p 0.61",
                )
            )
        start = time.perf_counter()
        waterfall.add_previews([preview])
        app.processEvents()  # delivers the paint the update scheduled
        times.append(time.perf_counter() - start)
        next_frame += period_s
        time.sleep(max(0.0, next_frame - time.perf_counter()))
    waterfall.close()
    return times


def pipeline_rates(app: QApplication, *, lines: int, width_px: int) -> tuple[float, float, int]:
    """Mean tiles/s headless and inside the window, and the window's display rows."""
    from station.pipeline.config import StationConfig
    from station.pipeline.orchestrator import Pipeline
    from station.store.config import StoreConfig
    from station.store.engine import create_store_engine
    from station.store.migrate import upgrade_database
    from training.testing import make_model_dir
    from ui.operator.session import Phase
    from ui.operator.window import OperatorWindow

    work = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    model = make_model_dir(work / "model", classes=("grey_twill",), tile_px=64, seed=3)

    def config(name: str) -> StationConfig:
        url = f"sqlite:///{work / name}.sqlite3"
        engine = create_store_engine(url, create=True)
        upgrade_database(engine)
        engine.dispose()
        store = StoreConfig(
            url=url, image_root=work / f"{name}-images", journal_dir=work / f"{name}-journal"
        )
        data: dict[str, Any] = {
            "station": {"name": "bench"},
            "source": {
                "kind": "synthetic",
                "synthetic": {
                    "fabric_preset": "grey_twill",
                    "width_px": width_px,
                    "seed": 4,
                    "defects_per_metre": 5.0,
                    "lines_per_block": 128,
                    "total_lines": lines,
                    "mm_per_px": 0.1,
                },
            },
            "model": {"path": str(model), "backend": "torch", "device": "cpu"},
            "store": store.model_dump(mode="json"),
            "pipeline": {"when_behind": "wait"},
        }
        return StationConfig.model_validate(data)

    headless = Pipeline(config("headless"))
    headless.start()
    headless.wait(timeout_s=3600)
    alone = headless.stop().mean_tiles_per_s

    window = OperatorWindow(config("window"), user="bench", beep=lambda: None)
    window.resize(1500, 1000)
    window.show()
    window.start_roll()
    while not (
        window.session is not None
        and window.session.phase in (Phase.ENDED, Phase.FAILED)
        and not window.session.busy
    ):
        app.processEvents()
        time.sleep(0.005)
    summary = window.session.summary
    with_window = summary.mean_tiles_per_s if summary is not None else float("nan")
    rows = window.waterfall.rows_written
    window.close()
    while window.isVisible():
        app.processEvents()
        time.sleep(0.01)
    return alone, with_window, rows


def main(argv: list[str] | None = None) -> int:
    """Run both measurements and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=600, help="frames timed (>= 600)")
    parser.add_argument("--width-px", type=int, default=4096, help="web width in pixels")
    parser.add_argument(
        "--lines-per-update",
        type=int,
        default=250,
        help="new lines per preview (250 at 20 Hz = a 5 kHz line rate)",
    )
    parser.add_argument("--pipeline-lines", type=int, default=4096, help="lines of the roll")
    parser.add_argument("--pipeline-width", type=int, default=1024, help="its width in pixels")
    parser.add_argument("--skip-pipeline", action="store_true", help="frame times only")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before the application exists
    app = QApplication.instance() or QApplication(sys.argv[:1])

    times = frame_times(
        app, frames=args.frames, width_px=args.width_px, lines=args.lines_per_update
    )
    ms = [t * 1000 for t in times]
    print(
        f"\nWaterfall frame time (update + paint), 20 updates/s, {args.width_px} px web, "
        f"{args.lines_per_update} lines per update, {len(ms)} frames"
    )
    print("| p50 ms | p99 ms | max ms | mean ms | target p99 |")
    print("|---|---|---|---|---|")
    p99 = percentile(ms, 0.99)
    print(
        f"| {statistics.median(ms):.1f} | {p99:.1f} | {max(ms):.1f} | "
        f"{statistics.fmean(ms):.1f} | < 50 ms: {'met' if p99 < 50 else 'MISSED'} |"
    )
    if args.skip_pipeline:
        return 0
    alone, with_window, rows = pipeline_rates(
        app, lines=args.pipeline_lines, width_px=args.pipeline_width
    )
    print(
        f"\nPipeline tiles/s, {args.pipeline_lines} lines x {args.pipeline_width} px synthetic "
        "roll, PyTorch CPU, one run"
    )
    print("| headless | in the operator window | ratio | display rows drawn |")
    print("|---|---|---|---|")
    print(f"| {alone:.1f} | {with_window:.1f} | {with_window / alone:.2f} | {rows} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
