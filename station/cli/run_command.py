"""``station run``: the inspection pipeline, headless (what the systemd service runs).

::

    station run --config /etc/cras-station/station.yaml
    station run --config station.yaml --max-metres 5 --lot LOT-1234

SIGINT or SIGTERM stops it cleanly: the source stops, what it acquired is
inspected (a wait that scales with the backlog, at most
``pipeline.drain_timeout_s``; what is left then is recorded as uninspected),
the roll and run are closed, the store is flushed and a summary is printed.
Exit status 0 after a clean stop, 2 for a user error (bad configuration, camera
gone, database unreachable without ``store.allow_offline_start``), 1 when a
stage failed with a bug.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from training.errors import ConfigError, CrasStationError

logger = logging.getLogger("station.run")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``station run``."""
    parser = subparsers.add_parser(
        "run", help="run the inspection pipeline headless (stop with Ctrl-C or SIGTERM)"
    )
    parser.add_argument("--config", required=True, type=Path, help="station.yaml")
    parser.add_argument(
        "--max-metres", type=float, default=None, help="stop after this much web has passed"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=None, help="stop after this many seconds"
    )
    parser.add_argument(
        "--lot", default=None, help="lot number of the roll (overrides roll.lot_number)"
    )
    parser.add_argument(
        "--fabric",
        default=None,
        help="fabric article of the roll (overrides roll.fabric_type; with recipes.per_roll "
        "it picks the recipe)",
    )
    parser.add_argument(
        "--new-roll",
        action="store_true",
        help="open a new roll even if this station inspected the lot before (roll.same_lot: new)",
    )
    parser.add_argument(
        "--status-every-s",
        type=float,
        default=10.0,
        help="log the status line (figures, database, journal, disk) this often "
        "(default 10 s; 0 = never)",
    )
    parser.set_defaults(handler=run)


def _positive(name: str, value: float | None) -> None:
    if value is not None and not value > 0:
        raise ConfigError(f"{name} must be > 0, got {value}", hint=f"give a positive {name}")


def run(args: argparse.Namespace) -> int:
    """Run until the source ends, a limit is reached or a signal arrives."""
    # Imported here: the pipeline pulls in torch, which `station --help` need not wait for.
    from station.pipeline.config import load_station_config
    from station.pipeline.headless import run_headless
    from station.pipeline.summary_text import format_summary

    _positive("--max-metres", args.max_metres)
    _positive("--max-seconds", args.max_seconds)
    config = load_station_config(args.config)
    if args.lot:
        config.roll.lot_number = args.lot
    if args.fabric:
        config.roll.fabric_type = args.fabric
    if args.new_roll:
        config.roll.same_lot = "new"
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def on_signal(number: int, _frame: FrameType | None) -> None:
        logger.info("%s received: stopping", signal.Signals(number).name)
        stop.set()

    for sig in previous:
        signal.signal(sig, on_signal)
    try:
        summary = run_headless(
            config,
            stop=stop,
            max_metres=args.max_metres,
            max_seconds=args.max_seconds,
            status_every_s=args.status_every_s,
            on_started=lambda: print(
                f"station {config.station.name}: inspecting (Ctrl-C or SIGTERM stops)",
                flush=True,
            ),
        )
        print(format_summary(summary), flush=True)
        if summary.error is None:
            return 0
        if isinstance(summary.error, CrasStationError):
            raise summary.error
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
