"""A screenshot of the operator window with real content (for docs/images/operator.png).

::

    python -m ui.operator.screenshot --out docs/images/operator.png --model runs/cras
    python -m ui.operator.screenshot --out shot.png --model MODEL --synthetic

The window runs the real pipeline on a replay of AITEX defect strips when the
data set is found (``--aitex``, else ``../shared/datasets/aitex``), otherwise
on the synthetic web, until the roll ends; then the first defect is selected
and the window is saved. ``--model`` is a model folder from ``station train``
(an untrained one from ``training.testing.make_model_dir`` shows the
mechanics, not detection quality).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PyQt6.QtWidgets import QApplication

REPO_ROOT = Path(__file__).resolve().parents[2]


def _aitex_dir(given: Path | None) -> Path | None:
    for candidate in (given, REPO_ROOT.parent / "shared" / "datasets" / "aitex"):
        if candidate is not None and (candidate / "Defect_images").is_dir():
            return candidate
    return None


def _source(
    aitex: Path | None, strips: int, fabric: str, mm_per_px: float
) -> tuple[dict[str, Any], float]:
    """The source section and the pixel size (mm; a replay gets the model's calibrated one)."""
    if aitex is not None:
        paths = sorted((aitex / "Defect_images").glob(f"*_{fabric}.png"))[:strips]
        if paths:
            replay = {"paths": [str(path) for path in paths], "lines_per_block": 256}
            return {"kind": "replay", "replay": replay}, mm_per_px
    synthetic = {
        "fabric_preset": "grey_twill",
        "width_px": 2048,
        "seed": 11,
        "defects_per_metre": 20.0,
        "lines_per_block": 128,
        "total_lines": strips * 256,
        "mm_per_px": 0.1,
    }
    return {"kind": "synthetic", "synthetic": synthetic}, 0.1


def main(argv: list[str] | None = None) -> int:
    """Make the screenshot; returns 0, or 1 when the roll could not run."""
    parser = argparse.ArgumentParser(prog="python -m ui.operator.screenshot", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument(
        "--model", type=Path, required=True, help="model folder (from station train)"
    )
    parser.add_argument("--aitex", type=Path, default=None, help="the AITEX folder")
    parser.add_argument("--synthetic", action="store_true", help="the synthetic web, not AITEX")
    parser.add_argument("--fabric", default="00", help="AITEX fabric code of the strips")
    parser.add_argument("--strips", type=int, default=8, help="strips (256 lines each) to replay")
    parser.add_argument("--threshold-factor", type=float, default=1.0, help="x the threshold")
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from station.pipeline.builders import model_facts
    from station.pipeline.config import ModelConfig, StationConfig
    from station.store.config import StoreConfig
    from station.store.engine import create_store_engine
    from station.store.migrate import upgrade_database
    from ui.operator.session import Phase, RollDetails
    from ui.operator.window import OperatorWindow

    work = Path(tempfile.mkdtemp(prefix="operator-shot-"))
    model = args.model
    aitex = None if args.synthetic else _aitex_dir(args.aitex)
    calibration = model_facts(ModelConfig(path=model)).metadata.calibration
    calibrated_mm = calibration.mm_per_px if calibration is not None else 0.1
    source, mm_per_px = _source(aitex, args.strips, args.fabric, calibrated_mm)
    url = f"sqlite:///{work / 'defects.sqlite3'}"
    engine = create_store_engine(url, create=True)
    upgrade_database(engine)
    engine.dispose()
    store = StoreConfig(url=url, image_root=work / "images", journal_dir=work / "journal")
    config = StationConfig.model_validate(
        {
            "station": {"name": "line-3"},
            "source": source,
            "model": {"path": str(model), "threshold_factor": args.threshold_factor},
            "geometry": {"mm_per_px": mm_per_px} if source["kind"] == "replay" else {},
            "store": store.model_dump(mode="json"),
            "pipeline": {"when_behind": "wait", "status_interval_s": 0.5},
            "operator": {"waterfall_rows": 64 * args.strips, "store_poll_s": 0.5},
        }
    )
    window = OperatorWindow(config, user="operator", beep=lambda: None)
    window.resize(1680, 1050)
    window.show()
    article = "AITEX " + args.fabric if source["kind"] == "replay" else "grey twill"
    window.controls.lot.setText("LOT-24-0815")
    window.controls.article.setText(article)
    window.start_roll(RollDetails(lot_number="LOT-24-0815", fabric_type=article))
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        app.processEvents()
        session = window.session
        if (
            session is not None
            and session.phase in (Phase.ENDED, Phase.FAILED)
            and not session.busy
        ):
            break
        time.sleep(0.02)
    settle = time.monotonic() + 1.5  # the store watch reads the finished roll
    while time.monotonic() < settle:
        app.processEvents()
        time.sleep(0.02)
    if window.shown:
        worst = max(range(len(window.shown)), key=lambda i: window.shown[i].event.defect.points)
        window.strip.set_selected(worst)
        window.show_defect(worst)
    settle = time.monotonic() + 0.5  # nested layouts take a few passes to follow new texts
    while time.monotonic() < settle:
        app.processEvents()
        time.sleep(0.02)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out))
    ok = window.session is not None and window.session.phase is Phase.ENDED
    print(f"wrote {args.out} ({len(window.shown)} defects; {window.state_line.text()})")
    window.close()
    while window.isVisible():
        app.processEvents()
        time.sleep(0.02)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
