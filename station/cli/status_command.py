"""``station status``: the figures of the running station, or the store's view when none runs.

::

    station status --config /etc/cras-station/station.yaml

Exit status: 0 running with its database, 3 running without it (records are
journaled), 4 not running, 5 not running and the database unreachable, 2 a bad
configuration.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``station status``."""
    parser = subparsers.add_parser(
        "status",
        help="show the running station's figures (its /metrics port), or the store's state",
    )
    parser.add_argument("--config", required=True, type=Path, help="station.yaml")
    parser.add_argument(
        "--timeout-s", type=float, default=2.0, help="how long to wait for the station's answer"
    )
    parser.set_defaults(handler=status)


def status(args: argparse.Namespace) -> int:
    """Print one block; the exit status says running or not, and the database's state."""
    from station.pipeline.config import load_station_config
    from station.pipeline.status_query import station_status

    report = station_status(load_station_config(args.config), timeout_s=args.timeout_s)
    print(report.text, flush=True)
    return report.exit_status
