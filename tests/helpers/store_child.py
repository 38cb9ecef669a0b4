"""A station process for the store's crash and concurrency tests.

It opens a store, starts a roll and logs defects through the writer. Every key
the writer acknowledges is printed (``ACK <key>``) and flushed at once, so the
parent knows exactly what was durable when it kills this process.

    python -m tests.helpers.store_child --url URL --image-root DIR --journal-dir DIR \
        --station NAME --lot LOT --count N [--interval-ms MS] [--allow-offline]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import UTC, datetime

from station.store.config import StoreConfig
from station.store.records import DefectRecord, ModelVersionInfo
from station.store.store import DefectStore

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a49444154789c636000000002000154a24f5d0000000049454e44ae426082"
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--image-root", required=True)
    parser.add_argument("--journal-dir", required=True)
    parser.add_argument("--station", default="station-a")
    parser.add_argument("--lot", default="LOT-CHILD")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--interval-ms", type=float, default=0.0)
    parser.add_argument("--allow-offline", action="store_true")
    args = parser.parse_args()

    out_lock = threading.Lock()

    def say(line: str) -> None:
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def on_ack(keys) -> None:
        with out_lock:
            sys.stdout.write("".join(f"ACK {key}\n" for key in keys))
            sys.stdout.flush()

    config = StoreConfig(
        url=args.url,
        image_root=args.image_root,
        journal_dir=args.journal_dir,
        batch_size=32,
        flush_interval_s=0.005,
        retry_initial_s=0.05,
        retry_max_s=0.5,
        connect_timeout_s=2,
    )
    store = DefectStore.open(config, allow_offline=args.allow_offline, on_ack=on_ack)
    roll = store.start_roll(
        lot_number=args.lot, station=args.station, fabric_type="denim", width_mm=1600.0
    )
    model = ModelVersionInfo(
        sha256="ab" * 32, name="child.engine", classes=("denim",), threshold=0.5
    )
    run = store.start_run(
        roll_key=roll.key, station=args.station, model=model, camera_serial="cam-1"
    )
    say(f"ROLL {roll.key}")
    for index in range(args.count):
        record = DefectRecord(
            roll_key=roll.key,
            run_key=run.key,
            along_mm=index * 5.0,
            across_mm=10.0,
            length_mm=12.0,
            width_mm=3.0,
            area_mm2=20.0,
            peak_score=0.9,
            points=1,
            fabric_class="denim",
            detected_at=datetime.now(UTC),
        )
        store.writer.submit_defect(record, crop_png=PNG_1X1 if index % 4 == 0 else None)
        if args.interval_ms:
            time.sleep(args.interval_ms / 1000)
    store.end_run(run.key)
    store.end_roll(roll.key, length_inspected_mm=args.count * 5.0)
    stats = store.close(timeout_s=60)
    say(
        f"DONE submitted={stats.submitted} acked={stats.acked} dropped={stats.dropped} "
        f"rejected={stats.rejected} journal_pending={stats.journal_pending}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
