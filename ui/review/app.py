"""``station-review``: the QA review window on a SQLite file or the plant's PostgreSQL.

    station-review --url sqlite:///station_data/defects.sqlite3 --images station_data/images
    station-review --url postgresql+psycopg://qa@db-host:5432/plant --images /mnt/plant/images

The window asks for a user name and password first (users are added with
``station db user add``). A database that cannot be opened shows a dialog with
what to do, and the program ends with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from PyQt6.QtWidgets import QApplication, QDialog, QMessageBox

from station.grading import FIRST_QUALITY_LIMIT_POINTS_PER_100YD2
from station.store.config import load_store_config
from station.store.engine import safe_url
from station.store.images import ImageStore
from station.store.repository import DefectRepository
from station.store.users import SignedInUser, UserDirectory
from training.errors import CrasStationError
from ui.review.session import ReviewSession
from ui.review.window import ReviewWindow, describe_error
from ui.widgets.sign_in import SignInDialog

CONNECT_TIMEOUT_S = 5.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="station-review", description="Review a roll's defects, grade it, export reports."
    )
    parser.add_argument(
        "--url",
        default=None,
        help="defect database: sqlite:///path/defects.sqlite3 or "
        "postgresql+psycopg://user@host:5432/db (default: the station's SQLite file)",
    )
    parser.add_argument(
        "--images", type=Path, default=None, help="image store folder (crops and heatmaps)"
    )
    parser.add_argument("--config", default=None, help="station or store YAML (for its store:)")
    parser.add_argument(
        "--limit",
        type=float,
        default=None,
        help=f"grade limit in points per 100 yd² (default: config, usually "
        f"{FIRST_QUALITY_LIMIT_POINTS_PER_100YD2:g})",
    )
    return parser.parse_args(argv)


def open_session_parts(
    args: argparse.Namespace,
) -> tuple[str, DefectRepository, ImageStore | None, float]:
    """The database, image store and grade limit the arguments name.

    Raises:
        CrasStationError: bad URL, unreachable database, unmigrated schema, bad image folder.
    """
    config = load_store_config(args.config, url=args.url, image_root=args.images)
    repository = DefectRepository.connect(config.url, connect_timeout_s=CONNECT_TIMEOUT_S)
    images = ImageStore(config.image_root) if Path(config.image_root).is_dir() else None
    limit = args.limit if args.limit is not None else config.grade_limit_points_per_100yd2
    return config.url, repository, images, limit


def sign_in(repository: DefectRepository) -> SignedInUser | None:
    """Show the sign-in dialog; None when the user cancelled."""
    dialog = SignInDialog(UserDirectory(repository.engine).sign_in, purpose="QA review")
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.user


def main(argv: Sequence[str] | None = None) -> int:
    """Start the QA window; returns the exit status."""
    args = parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    try:
        url, repository, images, limit = open_session_parts(args)
    except CrasStationError as error:
        QMessageBox.critical(None, "QA review", describe_error(error, args.url or ""))
        return 2
    user = sign_in(repository)
    if user is None:
        repository.close()
        return 1
    session = ReviewSession(repository, images, user, limit_points_per_100yd2=limit)
    window = ReviewWindow(session, url=safe_url(url))
    window.show()
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
