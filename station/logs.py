"""Logging set-up shared by the CLI, the service and the tests."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(*, level: str = "INFO", log_file: str | Path | None = None) -> None:
    """Send log records to stderr (and optionally a file) in one format.

    Args:
        level: Name of the lowest level to show.
        log_file: Extra file to append records to, e.g. under the service's state folder.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    logging.basicConfig(level=level, format=LOG_FORMAT, handlers=handlers, force=True)
    # Third-party libraries are chatty at INFO; keep their warnings only.
    for noisy in ("PIL", "matplotlib", "urllib3", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
