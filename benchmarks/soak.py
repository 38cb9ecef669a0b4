"""Soak: the real pipeline for a long shift, sampling what would leak, with the store on PostgreSQL.

Runs the station's own :class:`~station.pipeline.orchestrator.Pipeline` on the
endless synthetic fabric source (planted defects, paced at a line rate this
machine holds) with its store on PostgreSQL, and every ``--sample-s`` seconds
records:

* resident memory (RSS), open file descriptors and threads of this process;
* the depth of every queue between stages, and the source's own queue;
* the local journal's size (it must stay empty while the database is up);
* the defect rows in the database for this roll.

At the end it prints the samples as a table, the slope of RSS after the
warm-up (percent of the mean RSS per 10 minutes, least squares), and the
defect accounting:

* **lost** = defects the pipeline handed to the store (``DefectFound``
  events) that are not rows in the database after the store closed;
* the planted defects found / missed (the synthetic source knows them), as a
  check that the model was detecting at all.

The line rate: ``--line-rate-hz``, or by default a fraction (``--load``) of
what the pipeline managed in a 20-second unpaced warm-up run on the same model,
so the run stays within what the CPU sustains even with other work on it.

Usage (from the repository root; PostgreSQL at 127.0.0.1:5432, database ``test``)::

    python benchmarks/soak.py --model MODEL_DIR --minutes 30
    python benchmarks/soak.py --model MODEL_DIR --minutes 3 --sample-s 15
    python benchmarks/soak.py --minutes 5 --database-url sqlite:////tmp/soak.sqlite3

``MODEL_DIR`` is any trained model folder whose classes include a synthetic
fabric preset (``station demo --data synthetic`` trains one under its
``--out`` folder); without ``--model`` an untrained model with a made-up
calibration is used, which exercises the same code but finds noise, not defects.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from station.acquisition.synthetic_source import SyntheticFabricSource  # noqa: E402
from station.pipeline.config import StationConfig  # noqa: E402
from station.pipeline.events import DefectFound  # noqa: E402
from station.pipeline.orchestrator import Pipeline  # noqa: E402
from station.pipeline.planted_truth import compare_with_planted, found_box  # noqa: E402
from station.store.engine import create_store_engine  # noqa: E402
from station.store.migrate import upgrade_database  # noqa: E402
from station.store.models import Defect, Roll  # noqa: E402
from training.data.fabric.style import FABRIC_PRESETS, GREY_PRESETS  # noqa: E402
from training.model_file import read_metadata  # noqa: E402
from training.testing import make_model_dir  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
WARMUP_RUN_S = 20.0


@dataclass(frozen=True)
class Sample:
    """One look at the running process."""

    minute: float
    rss_mib: float
    fds: int
    threads: int
    queues: str
    source_queue: int
    journal_bytes: int
    db_rows: int
    metres: float
    defects: int


def rss_mib() -> float:
    """Resident memory of this process in MiB (from /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def open_fds() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def rss_slope_percent_per_10min(samples: list[Sample], warmup_min: float) -> float:
    """Least-squares slope of RSS after the warm-up, as % of its mean per 10 minutes."""
    kept = [s for s in samples if s.minute >= warmup_min]
    if len(kept) < 3:
        return float("nan")
    minutes = np.array([s.minute for s in kept])
    rss = np.array([s.rss_mib for s in kept])
    slope_per_min = float(np.polyfit(minutes, rss, 1)[0])
    return 100.0 * slope_per_min * 10.0 / float(rss.mean())


def station_config(
    model_dir: Path, *, url: str, work: Path, preset: str, line_rate_hz: float | None, width_px: int
) -> StationConfig:
    """The soak's station: synthetic fabric (endless, planted defects), the given store URL."""
    meta = read_metadata(model_dir)
    spec = meta.model_spec()
    mm_per_px = meta.calibration.mm_per_px if meta.calibration else 0.1
    return StationConfig.model_validate(
        {
            "station": {"name": "soak"},
            "source": {
                "kind": "synthetic",
                "synthetic": {
                    "fabric_preset": preset,
                    "width_px": width_px,
                    "seed": 11,
                    "defects_per_metre": 2.0,
                    "mm_per_px": mm_per_px,
                    "output_channels": spec.in_channels,
                    "line_rate_hz": line_rate_hz,
                },
            },
            "model": {"path": str(model_dir), "backend": "auto", "device": "cpu"},
            "store": {
                "url": url,
                "image_root": str(work / "images"),
                "journal_dir": str(work / "journal"),
            },
            "roll": {"lot_number": f"SOAK-{uuid.uuid4().hex[:8]}"},
            "pipeline": {"status_interval_s": 1.0},
        }
    )


def preset_for(model_dir: Path) -> str:
    """A synthetic fabric preset the model knows (by class name), else one of its colour depth."""
    spec = read_metadata(model_dir).model_spec()
    usable = FABRIC_PRESETS if spec.in_channels == 3 else GREY_PRESETS
    return next((name for name in spec.classes if name in usable), next(iter(usable)))


def measure_line_rate(model_dir: Path, *, url: str, width_px: int) -> float:
    """Lines/s the pipeline keeps up with unpaced (a short run, its own store folder)."""
    with tempfile.TemporaryDirectory(prefix="soak-warmup-") as scratch:
        config = station_config(
            model_dir,
            url=url,
            work=Path(scratch),
            preset=preset_for(model_dir),
            line_rate_hz=None,
            width_px=width_px,
        )
        config = config.model_copy(
            update={"pipeline": config.pipeline.model_copy(update={"when_behind": "wait"})}
        )
        pipeline = Pipeline(config)
        pipeline.start()
        time.sleep(WARMUP_RUN_S)
        summary = pipeline.stop()
    return summary.mean_lines_per_s


def count_rows(url: str, roll_key: Any) -> int:
    """Defect rows of the roll in the database (0 before the roll exists)."""
    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            statement = (
                select(func.count(Defect.id))
                .join(Roll, Defect.roll_id == Roll.id)
                .where(Roll.key == roll_key)
            )
            return int(connection.execute(statement).scalar_one())
    finally:
        engine.dispose()


def run_soak(args: argparse.Namespace, model_dir: Path, work: Path) -> int:
    """Run the soak; print the table and the verdict; exit code 0 when nothing was lost."""
    engine = create_store_engine(args.database_url, create=True)
    try:
        upgrade_database(engine)
    finally:
        engine.dispose()
    rate = args.line_rate_hz
    if rate is None:
        sustained = measure_line_rate(model_dir, url=args.database_url, width_px=args.width_px)
        rate = round(args.load * sustained)
        print(f"warm-up: {sustained:.0f} lines/s unpaced; soaking at {rate} lines/s")
    config = station_config(
        model_dir,
        url=args.database_url,
        work=work,
        preset=preset_for(model_dir),
        line_rate_hz=rate,
        width_px=args.width_px,
    )
    found: list[tuple[int, int, int, int]] = []
    roll_keys: set[Any] = set()
    lock = threading.Lock()

    def on_defect(event: DefectFound) -> None:
        with lock:
            found.append(found_box(event.defect))
            roll_keys.add(event.roll_key)

    print(HEADER)
    pipeline = Pipeline(config)
    pipeline.bus.subscribe(on_defect, kinds=(DefectFound,))
    pipeline.start()
    started = time.monotonic()
    samples: list[Sample] = []
    journal = Path(config.store.journal_dir) / "pending.journal"
    try:
        while True:
            elapsed_min = (time.monotonic() - started) / 60.0
            figures = pipeline.figures_now()
            source = pipeline.source
            roll_key = pipeline.recorder.roll_key if pipeline.recorder.started else None
            samples.append(
                Sample(
                    minute=elapsed_min,
                    rss_mib=rss_mib(),
                    fds=open_fds(),
                    threads=threading.active_count(),
                    queues=" ".join(f"{q.name}={q.depth}/{q.capacity}" for q in figures.queues),
                    source_queue=source.queued_blocks if source is not None else 0,
                    journal_bytes=journal.stat().st_size if journal.exists() else 0,
                    db_rows=count_rows(args.database_url, roll_key) if roll_key else 0,
                    metres=figures.metres_seen,
                    defects=len(found),
                )
            )
            print(format_sample(samples[-1]), flush=True)
            if elapsed_min >= args.minutes or pipeline.finished:
                break
            time.sleep(max(0.0, args.sample_s - (time.monotonic() - started) % args.sample_s))
    finally:
        summary = pipeline.stop()
    db_rows = count_rows(args.database_url, summary.roll_key) if summary.roll_key else 0
    lost = len(found) - db_rows
    slope = rss_slope_percent_per_10min(samples, args.warmup_min)
    print()
    m_per_min = rate * config.mm_per_line * 60 / 1000
    print(f"line rate            {rate:.0f} lines/s ({m_per_min:.2f} m/min)")
    print(f"metres seen          {summary.metres_seen:.1f} m")
    print(
        f"inspected            {summary.metres_inspected:.1f} m, "
        f"uninspected {summary.metres_uninspected:.2f} m"
    )
    print(
        f"dropped              {summary.source_dropped_blocks} block(s), "
        f"{summary.dropped_rows} row(s)"
    )
    print(f"RSS slope            {slope:+.2f} % per 10 min after {args.warmup_min:.0f} min warm-up")
    print(f"defects found        {len(found)}; rows in the database {db_rows}; lost {lost}")
    if isinstance(pipeline.source, SyntheticFabricSource) and summary.metres_inspected > 0:
        truth = compare_with_planted(
            pipeline.source.planted_defects,
            found,
            inspected_lines=round(summary.metres_inspected * 1000.0 / config.mm_per_line),
            metres=summary.metres_inspected,
        )
        print(
            f"planted defects      {truth.planted}: {truth.found} found, {truth.missed} missed; "
            f"{truth.false_alarms_per_m:.2f} false alarms per metre"
        )
    if summary.error is not None:
        print(f"pipeline error       {summary.error}")
    return 0 if lost == 0 and summary.error is None else 1


HEADER = (
    f"{'min':>6} {'RSS MiB':>8} {'fds':>4} {'thr':>4} {'queues':<32} {'src':>4} "
    f"{'journal B':>9} {'DB rows':>8} {'metres':>8} {'found':>6}"
)


def format_sample(sample: Sample) -> str:
    """One table row."""
    return (
        f"{sample.minute:6.1f} {sample.rss_mib:8.1f} {sample.fds:4d} {sample.threads:4d} "
        f"{sample.queues:<32} {sample.source_queue:4d} {sample.journal_bytes:9d} "
        f"{sample.db_rows:8d} {sample.metres:8.1f} {sample.defects:6d}"
    )


def main() -> int:
    """Parse the arguments and run the soak."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a trained model folder (default: untrained)")
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the soak")
    parser.add_argument("--sample-s", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--warmup-min", type=float, default=5.0, help="left out of the RSS slope")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="the store (PostgreSQL)")
    parser.add_argument("--width-px", type=int, default=1024, help="pixels across the web")
    parser.add_argument("--line-rate-hz", type=float, help="default: --load x the warm-up rate")
    parser.add_argument("--load", type=float, default=0.6, help="share of the warm-up rate")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        work = Path(scratch)
        model_dir = args.model or make_model_dir(
            work / "model", classes=(GREY_PRESETS[0],), tile_px=64
        )
        return run_soak(args, model_dir, work)


if __name__ == "__main__":
    sys.exit(main())
