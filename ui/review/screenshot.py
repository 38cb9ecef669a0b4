"""Screenshots of the QA window showing a reviewed roll, and page 1 of its PDF report.

    python -m ui.review.screenshot --model MODEL_DIR --out docs/images/review.png \\
        --pdf-page docs/images/report_page1.png

Runs a short roll through the real station pipeline (synthetic fabric with
planted defects, or replayed AITEX strips with ``--aitex DIR``), or opens an
existing store with ``--url`` and ``--images``. Then it signs in a QA user,
reviews the roll through the window's own keyboard actions (confirms some
defects, rejects some, relabels one), and saves the window as a PNG. Page 1 of
the roll's PDF report is rendered with ``pdftoppm`` (poppler-utils).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from PyQt6.QtCore import QCoreApplication, QDeadlineTimer, QThread
from PyQt6.QtWidgets import QApplication

from station.store.engine import create_store_engine
from station.store.images import ImageStore
from station.store.migrate import upgrade_database
from station.store.repository import DefectRepository
from station.store.reviews import ReviewActionKind
from station.store.users import Role, UserDirectory, UserError
from training.errors import ConfigError, CrasStationError
from ui.review.session import ReviewSession
from ui.review.window import ReviewWindow

QA_USER = "qa.inspector"
SETTLE_MS = 20_000


def _demo_store(model: Path, work: Path, aitex: Path | None, metres: float) -> tuple[str, Path]:
    from station.pipeline.demo import run_demo_roll

    summary = run_demo_roll(
        model,
        out_dir=work,
        source="aitex" if aitex is not None else "synthetic",
        metres=metres,
        progress=False,
        aitex_dir=aitex,
    )
    return summary.database_url, Path(summary.image_root)


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = QDeadlineTimer(SETTLE_MS)
    while not condition():
        if deadline.hasExpired():
            raise CrasStationError(f"the window did not finish {what} in time")
        QCoreApplication.processEvents()
        QThread.msleep(20)


def _review_roll(window: ReviewWindow) -> None:
    """Confirm, reject and relabel through the window, as an inspector would with keys."""
    keys = window.gallery.visible_keys()
    plan = [ReviewActionKind.CONFIRM, ReviewActionKind.REJECT, ReviewActionKind.RELABEL]
    plan += [ReviewActionKind.CONFIRM, ReviewActionKind.REJECT] * 2
    for action, key in zip(plan, keys[: max(1, len(keys) - 2)], strict=False):
        window.gallery.select(key)
        if action is ReviewActionKind.RELABEL:
            window.panel.comment_edit.setText("dark pick across the web")
            window.review_current(action, defect_type="broken pick")
        else:
            window.review_current(action)
        _wait(lambda: window.worker.pending == 0, "a review action")
    window.gallery.select(keys[2] if len(keys) > 2 else keys[0])
    _wait(lambda: window.worker.pending == 0, "reading the history")


def take_screenshots(
    url: str, images_root: Path, out: Path, pdf_page: Path | None, work: Path
) -> None:
    """Review the newest roll of ``url`` in the window and save the PNGs."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # read when the app starts
    _app = QApplication.instance() or QApplication(sys.argv[:1])  # alive while the window is
    engine = create_store_engine(url, create=True)
    upgrade_database(engine)
    engine.dispose()
    repository = DefectRepository.connect(url)
    users = UserDirectory(repository.engine)
    password = secrets.token_urlsafe(16)
    try:
        users.add_user(QA_USER, role=Role.QA, password=password)
    except UserError:
        users.reset_password(QA_USER, password=password)
    user = users.sign_in(QA_USER, password)
    rolls = repository.list_rolls(limit=1)
    if not rolls:
        raise ConfigError(f"no roll in {url}", hint="run a roll first, or pass --model")
    session = ReviewSession(repository, ImageStore(images_root), user, limit_points_per_100yd2=40.0)
    window = ReviewWindow(session, url=url)
    window.resize(1600, 920)
    window.show()
    _wait(lambda: bool(window.rolls.visible_rows()), "loading the rolls")
    window.rolls.select_roll(rolls[0].key)
    _wait(lambda: window.state is not None and window.worker.pending == 0, "opening")
    _review_roll(window)
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    print(f"window screenshot: {out}")
    if pdf_page is not None:
        pdf = work / "report.pdf"
        session.export_report(rolls[0].key, pdf, report_format="pdf")
        _render_first_page(pdf, pdf_page)
        print(f"PDF report page 1: {pdf_page} (report in {pdf})")
    window.close()


def _render_first_page(pdf: Path, png: Path) -> None:
    if shutil.which("pdftoppm") is None:
        raise ConfigError(
            "pdftoppm is not installed, so the PDF page cannot be rendered",
            hint="install poppler-utils (apt-get install poppler-utils)",
        )
    stem = png.with_suffix("")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
        check=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui.review.screenshot", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="PNG of the window")
    parser.add_argument("--pdf-page", type=Path, default=None, help="PNG of the PDF's page 1")
    parser.add_argument("--model", type=Path, default=None, help="model folder for a new roll")
    parser.add_argument(
        "--aitex", type=Path, default=None, help="replay AITEX strips from here (else synthetic)"
    )
    parser.add_argument("--metres", type=float, default=1.0, help="length of the new roll")
    parser.add_argument("--url", default=None, help="use this store instead of a new roll")
    parser.add_argument("--images", type=Path, default=None, help="its image folder")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: temp)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="review-screenshot-"))
    try:
        if args.url is not None:
            if args.images is None:
                raise ConfigError("--url needs --images", hint="pass the store's image folder")
            url, images = args.url, args.images
        elif args.model is not None:
            url, images = _demo_store(args.model, work, args.aitex, args.metres)
        else:
            raise ConfigError("nothing to show", hint="pass --model DIR, or --url and --images")
        take_screenshots(url, images, args.out, args.pdf_page, work)
    except CrasStationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
