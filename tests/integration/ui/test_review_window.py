"""The QA review window on a real store (SQLite, and once on the real PostgreSQL), offscreen.

It signs in through the real dialog, rejects a defect by keyboard and checks
that the grade, the roll map and the review history change accordingly, as
read back from the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from sqlalchemy import make_url

from station.store.images import ImageStore
from station.store.records import ReviewStatus
from station.store.repository import DefectRepository
from station.store.reviews import ReviewActionKind
from station.store.users import Role, UserDirectory
from tests.integration.store.conftest import fast_config, fresh_pg_schema_url, migrate
from tests.integration.store.helpers import with_port
from tests.integration.store.review_roll import ReviewRoll, write_review_roll
from tests.integration.store.tcp_proxy import TcpProxy
from ui.review.session import ReviewSession
from ui.review.window import ReviewWindow
from ui.widgets.sign_in import SignInDialog

PASSWORDS = {"anna": "anna's long password", "olga": "olga's long password"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def roll(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReviewRoll]:
    """The five-defect test roll and two users (anna: qa, olga: operator)."""
    if request.param == "sqlite":
        yield _with_users(write_review_roll(fast_config(migrate(
            f"sqlite:///{tmp_path / 'defects.sqlite3'}"), tmp_path)))  # fmt: skip
        return
    with fresh_pg_schema_url(request.getfixturevalue("postgres_url")) as url:
        yield _with_users(write_review_roll(fast_config(migrate(url), tmp_path)))


def _with_users(roll: ReviewRoll) -> ReviewRoll:
    users = UserDirectory.connect(roll.config.url)
    try:
        users.add_user("anna", role=Role.QA, password=PASSWORDS["anna"])
        users.add_user("olga", role=Role.OPERATOR, password=PASSWORDS["olga"])
    finally:
        users.close()
    return roll


def sign_in_by_keyboard(qtbot, repository: DefectRepository, name: str, password: str):
    dialog = SignInDialog(UserDirectory(repository.engine).sign_in, purpose="QA review")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.name_edit, name)
    qtbot.keyClicks(dialog.password_edit, password)
    qtbot.keyClick(dialog.password_edit, Qt.Key.Key_Return)
    return dialog


def open_window(qtbot, roll: ReviewRoll, name: str, *, url: str | None = None) -> ReviewWindow:
    repository = DefectRepository.connect(url or roll.config.url)
    dialog = sign_in_by_keyboard(qtbot, repository, name, PASSWORDS[name])
    assert dialog.user is not None, dialog.error_label.text()
    session = ReviewSession(
        repository, ImageStore(roll.config.image_root), dialog.user, limit_points_per_100yd2=40.0
    )
    window = ReviewWindow(session, url=url or roll.config.url)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: len(window.rolls.visible_rows()) == 1, timeout=10_000)
    window.rolls.select_roll(roll.roll_key)
    qtbot.waitUntil(
        lambda: window.state is not None and window.gallery.current_key() is not None,
        timeout=10_000,
    )
    return window


def close_window(qtbot, window: ReviewWindow) -> None:
    window.close()
    qtbot.waitUntil(
        lambda: not any(t.name.startswith("qa-database") for t in threading.enumerate()),
        timeout=5000,
    )


def test_reject_by_keyboard_updates_grade_map_and_history(qtbot, roll: ReviewRoll) -> None:
    window = open_window(qtbot, roll, "anna")
    try:
        assert window.gallery.current_key() == roll.defect_keys[0]  # first along the roll
        before = window.state.all_detections.grade
        assert before is not None and before.capped_points == 11  # 1 + 2 + 3 + 4 + 1
        assert window.state.confirmed_only.grade.capped_points == 0
        for _ in range(3):
            qtbot.keyClick(window.gallery.table, Qt.Key.Key_J)
        four_points = roll.defect_keys[3]
        assert window.gallery.current_key() == four_points
        qtbot.keyClick(window.gallery.table, Qt.Key.Key_X)
        qtbot.waitUntil(
            lambda: window.state.all_detections.grade.capped_points == 7, timeout=10_000
        )
        assert "PASS" in window.grade_all.text()
        mark = next(m for m in window.roll_map.marks() if m.key == four_points)
        assert mark.rejected
        assert sum(m.rejected for m in window.roll_map.marks()) == 1
        assert window.gallery.current_key() == roll.defect_keys[4]  # moved on to the next one

        qtbot.keyClick(window.gallery.table, Qt.Key.Key_K)
        qtbot.keyClick(window.gallery.table, Qt.Key.Key_K)
        qtbot.keyClick(window.gallery.table, Qt.Key.Key_C)  # confirm the 3-point defect
        qtbot.waitUntil(
            lambda: window.state.confirmed_only.grade.capped_points == 3, timeout=10_000
        )
        assert "Confirmed by QA only" in window.grade_confirmed.text()
    finally:
        close_window(qtbot, window)
    repository = DefectRepository.connect(roll.config.url)
    try:
        history = repository.review_history(four_points)
        assert [(a.action, a.reviewer) for a in history] == [("reject", "anna")]
        assert repository.get_defect(four_points).review_status is ReviewStatus.FALSE_ALARM
        grade = repository.grade(roll.roll_key, limit_points_per_100yd2=40.0)
        assert grade.capped_points == 7
    finally:
        repository.close()


def test_history_and_relabel_show_in_the_window(qtbot, roll: ReviewRoll) -> None:
    window = open_window(qtbot, roll, "anna")
    try:
        window.panel.comment_edit.setText("oil from the loom")
        window.review_current(ReviewActionKind.RELABEL, defect_type="oil stain")
        qtbot.waitUntil(lambda: window.state.defects[0].defect_type == "oil stain", timeout=10_000)
        window.gallery.select(roll.defect_keys[0])
        qtbot.waitUntil(
            lambda: (
                window.panel.history.count() == 1 and "anna" in window.panel.history.item(0).text()
            ),
            timeout=10_000,
        )
        line = window.panel.history.item(0).text()
        assert "relabel" in line and "oil stain" in line and "oil from the loom" in line
    finally:
        close_window(qtbot, window)


def test_an_operator_may_look_but_not_review(qtbot, roll: ReviewRoll) -> None:
    window = open_window(qtbot, roll, "olga")
    try:
        assert not window.panel.buttons["reject"].isEnabled()
        qtbot.keyClick(window.gallery.table, Qt.Key.Key_X)
        qtbot.wait(200)
        assert "may not review" in window.statusBar().currentMessage()
        assert window.worker.pending == 0
        assert window.state.all_detections.grade.capped_points == 11
    finally:
        close_window(qtbot, window)
    repository = DefectRepository.connect(roll.config.url)
    try:
        assert repository.review_history(roll.defect_keys[0]) == []
    finally:
        repository.close()


def test_a_wrong_password_is_refused(qtbot, roll: ReviewRoll) -> None:
    repository = DefectRepository.connect(roll.config.url)
    try:
        dialog = sign_in_by_keyboard(qtbot, repository, "anna", "olga's long password")
        assert dialog.user is None and dialog.isVisible()
        assert "user name or password is wrong" in dialog.error_label.text()
        dialog.reject()
    finally:
        repository.close()


def test_a_corrupt_crop_shows_a_message_in_the_view(qtbot, roll: ReviewRoll) -> None:
    repository = DefectRepository.connect(roll.config.url)
    crop = repository.get_defect(roll.defect_keys[0]).crop_path
    repository.close()
    ImageStore(roll.config.image_root).resolve(crop).write_bytes(b"\x89PNG\r\n\x1a\n damaged")
    window = open_window(qtbot, roll, "anna")
    try:
        assert window.gallery.current_key() == roll.defect_keys[0]
        assert "does not match its recorded hash" in window.panel.images_view.crop.message
        assert window.panel.images_view.heatmap.image is not None
        qtbot.keyClick(window.gallery.table, Qt.Key.Key_J)
        assert window.panel.images_view.crop.image is not None  # the next one is fine
    finally:
        close_window(qtbot, window)


def test_exports_from_the_window(qtbot, roll: ReviewRoll, tmp_path: Path) -> None:
    window = open_window(qtbot, roll, "anna")
    try:
        qtbot.keyClick(window.gallery.table, Qt.Key.Key_C)
        qtbot.keyClick(window.gallery.table, Qt.Key.Key_R)
        qtbot.waitUntil(lambda: window.state.confirmed_only.grade.defect_count == 1, timeout=10_000)
        qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=10_000)
        window.export_report(tmp_path / "roll.pdf", "pdf")
        window.export_training(tmp_path / "training")
        qtbot.waitUntil(lambda: "exported" in window.statusBar().currentMessage(), timeout=20_000)
    finally:
        close_window(qtbot, window)
    assert (tmp_path / "roll.pdf").read_bytes().startswith(b"%PDF-")
    labels = (tmp_path / "training" / "labels.csv").read_text().splitlines()
    assert len(labels) == 3  # header, the confirmed defect, the false alarm
    assert any(",false_alarm," in line for line in labels)


@pytest.mark.postgres
def test_a_database_lost_mid_session_shows_a_dialog_not_a_frozen_window(
    qtbot, postgres_url: str, tmp_path: Path
) -> None:
    with fresh_pg_schema_url(postgres_url) as url:
        roll = _with_users(write_review_roll(fast_config(migrate(url), tmp_path)))
        target = make_url(url)
        proxy = TcpProxy(target.host, target.port)
        proxy.restore()
        window = open_window(qtbot, roll, "anna", url=with_port(url, proxy.port))
        try:
            proxy.cut()  # the server is gone: open connections reset, new ones refused
            qtbot.keyClick(window.gallery.table, Qt.Key.Key_X)
            qtbot.waitUntil(
                lambda: "cannot reach the database" in window.last_error, timeout=20_000
            )
            assert "What to do" in window.last_error and "Traceback" not in window.last_error
            assert window.isVisible()
            qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=20_000)
            assert "history not available" in window.panel.history.item(0).text()
            window.error_box.accept()  # the person reads the message and presses OK
            window.activateWindow()  # what the window manager does when the dialog closes
            qtbot.waitUntil(window.isActiveWindow, timeout=5000)
            # The window moved on at the key press and still answers keys.
            qtbot.keyClick(window.gallery.table, Qt.Key.Key_J)
            assert window.gallery.current_key() == roll.defect_keys[2]
            proxy.restore()
            qtbot.keyClick(window.gallery.table, Qt.Key.Key_X)
            qtbot.waitUntil(
                lambda: window.state.all_detections.grade.capped_points == 8, timeout=20_000
            )
        finally:
            close_window(qtbot, window)
            proxy.cut()


def test_an_unusable_database_at_start_is_a_dialog_and_status_2(monkeypatch, tmp_path) -> None:
    from ui.review import app

    shown: list[str] = []
    monkeypatch.setattr(
        app.QMessageBox, "critical", lambda _parent, _title, text: shown.append(text)
    )
    missing = f"sqlite:///{tmp_path / 'nothing-here.sqlite3'}"
    assert app.main(["--url", missing, "--images", str(tmp_path)]) == 2
    assert len(shown) == 1 and "station db upgrade" in shown[0]
    assert "Traceback" not in shown[0]


def test_gallery_and_rolls_filters(qtbot, roll: ReviewRoll) -> None:
    window = open_window(qtbot, roll, "anna")
    try:
        gallery = window.gallery
        qtbot.keyClick(gallery.table, Qt.Key.Key_X)  # the first defect becomes a false alarm
        qtbot.waitUntil(lambda: window.state.all_detections.grade.defect_count == 4, timeout=10_000)
        gallery.status_filter.setCurrentText("false alarm")
        assert gallery.visible_keys() == [roll.defect_keys[0]]
        gallery.status_filter.setCurrentText("any")
        gallery.min_score.setValue(0.8)
        assert set(gallery.visible_keys()) == {roll.defect_keys[2], roll.defect_keys[3]}
        gallery.min_score.setValue(0.0)
        gallery.min_size.setValue(150.0)
        assert set(gallery.visible_keys()) == {roll.defect_keys[2], roll.defect_keys[3]}
        gallery.min_size.setValue(0.0)
        gallery.type_filter.setCurrentText("slub")
        assert gallery.visible_keys() == [roll.defect_keys[1], roll.defect_keys[3]]
        gallery.type_filter.setCurrentText("any")
        gallery.table.sortByColumn(5, Qt.SortOrder.DescendingOrder)  # score, highest first
        assert gallery.visible_keys()[0] == roll.defect_keys[3]

        rolls = window.rolls
        assert rolls.visible_rows()[0].progress == "in progress"
        rolls.progress_filter.setCurrentText("done")
        assert rolls.visible_rows() == []
        rolls.progress_filter.setCurrentText("any")
        rolls.lot_filter.setText("qa-1")
        assert len(rolls.visible_rows()) == 1
        rolls.lot_filter.setText("nope")
        assert rolls.visible_rows() == []
        rolls.lot_filter.setText("")
        rolls.grade_filter.setCurrentText("pass")
        assert rolls.visible_rows() == []  # 10 points on 10 m x 1.6 m: 52.3 > 40
        rolls.grade_filter.setCurrentText("fail")
        rolls.station_filter.setCurrentText("station-a")
        assert len(rolls.visible_rows()) == 1
    finally:
        close_window(qtbot, window)


def test_clicking_a_roll_map_mark_shows_that_defect(qtbot, roll: ReviewRoll) -> None:
    window = open_window(qtbot, roll, "anna")
    try:
        target = roll.defect_keys[2]
        point = window.roll_map.mark_position(target).toPoint()
        qtbot.mouseClick(window.roll_map, Qt.MouseButton.LeftButton, pos=point)
        assert window.gallery.current_key() == target
        assert "4.100 m" in window.panel.details.text()
        assert window.panel.images_view.crop.image is not None
    finally:
        close_window(qtbot, window)


@pytest.mark.postgres
def test_an_unreachable_postgres_at_start_is_a_dialog_and_status_2(
    monkeypatch, postgres_url: str, tmp_path: Path
) -> None:
    from ui.review import app

    shown: list[str] = []
    monkeypatch.setattr(
        app.QMessageBox, "critical", lambda _parent, _title, text: shown.append(text)
    )
    status = app.main(["--url", with_port(postgres_url, 1), "--images", str(tmp_path)])
    assert status == 2
    assert len(shown) == 1 and "cannot reach the database" in shown[0]
    assert "What to do" in shown[0] and "Traceback" not in shown[0]
