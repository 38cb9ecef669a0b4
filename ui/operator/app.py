"""``station-operator``: the operator window, running the station from ``station.yaml``.

::

    station-operator --config /etc/cras-station/station.yaml
    station-operator --config station.yaml --start --lot LOT-1234

A bad configuration is shown in a dialog (and on stderr), never as a traceback;
the exit status is then 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from PyQt6.QtWidgets import QApplication, QMessageBox

from training.errors import CrasStationError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="station-operator",
        description="The operator window: live web with anomaly overlay, roll map, figures, "
        "alarms and roll control, running the station pipeline from station.yaml.",
    )
    parser.add_argument("--config", required=True, type=Path, help="station.yaml")
    parser.add_argument("--start", action="store_true", help="start a roll at once")
    parser.add_argument("--lot", default="", help="lot number of the first roll")
    parser.add_argument("--user", default=None, help="who operates (default: the OS user)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Open the window; returns the exit status (0, or 2 for a bad configuration)."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from station.pipeline.config import load_station_config
    from ui.operator.session import RollDetails, message_of
    from ui.operator.window import OperatorWindow

    try:
        config = load_station_config(args.config)
    except CrasStationError as error:
        text = message_of(error)
        print(f"station-operator: {text}", file=sys.stderr)
        QMessageBox.critical(None, "station-operator: configuration", text)
        return 2
    window = OperatorWindow(config, user=args.user)
    window.show()
    if args.start:
        window.start_roll(RollDetails(lot_number=args.lot))
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
