"""The ``station`` command line: one entry point, one module per sub-command.

Each module listed in :data:`COMMAND_MODULES` exposes ``register(subparsers)``,
which adds its parser and sets ``handler`` to a function taking the parsed
arguments and returning an exit status. Errors a user can cause
(:class:`~training.errors.CrasStationError`) are printed as one clear message
with what to do, never as a traceback; ``--debug`` shows the traceback too.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from station.logs import configure_logging
from training.errors import CrasStationError

# Sub-command modules, in the order ``station --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    # Each line is one sub-command module; add yours here.
    "station.cli.demo_command",
    "station.cli.train_command",
    "station.cli.evaluate_command",
    "station.cli.db_command",
    "station.cli.recipe_command",
    "station.cli.report_command",
    "station.cli.camera_command",
    "station.cli.capture_command",
    "station.cli.export_command",
    "station.cli.run_command",
    "station.cli.status_command",
)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="station",
        description="CRAS fabric inspection station: train, evaluate, export and run.",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much to log (default: INFO)",
    )
    parser.add_argument("--log-file", default=None, help="also append the log to this file")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks for user errors too"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``station`` command; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(level=args.log_level, log_file=args.log_file)
    try:
        return int(args.handler(args) or 0)
    except CrasStationError as error:
        if args.debug:
            logging.getLogger("station").exception("user error")
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
