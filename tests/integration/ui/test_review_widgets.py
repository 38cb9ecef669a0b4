"""The shared widgets on real (offscreen) Qt: roll map, defect images, sign-in dialog."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QColor

from ui.widgets.roll_map import POINT_COLOURS, STRIP_COLOUR, RollMapWidget, RollMark


def _colour_at(widget: RollMapWidget, key: object) -> QColor:
    image = widget.grab().toImage()
    point = widget.mark_position(key).toPoint()
    return image.pixelColor(point)


def _close(a: QColor, b: QColor, tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


@pytest.fixture
def roll_map(qtbot) -> RollMapWidget:
    widget = RollMapWidget()
    qtbot.addWidget(widget)
    widget.resize(800, 120)
    widget.set_roll(length_mm=10_000.0, width_mm=1_600.0)
    widget.set_defects(
        [
            RollMark(key="a", along_mm=1_000.0, across_mm=400.0, points=1),
            RollMark(key="b", along_mm=5_000.0, across_mm=800.0, points=4),
            RollMark(key="c", along_mm=8_000.0, across_mm=1_200.0, points=3, rejected=True),
        ]
    )
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_marks_sit_where_the_defects_are_and_are_coloured_by_points(roll_map) -> None:
    a, b = roll_map.mark_position("a"), roll_map.mark_position("b")
    assert a.x() < b.x() and a.y() < b.y()  # further along and further across
    assert abs((b.x() - a.x()) - 0.4 * (roll_map.width() - 16)) < 2
    assert _close(_colour_at(roll_map, "a"), POINT_COLOURS[1])
    assert _close(_colour_at(roll_map, "b"), POINT_COLOURS[4])
    assert _close(_colour_at(roll_map, "c"), STRIP_COLOUR)  # a false alarm is hollow


def test_clicking_a_mark_sends_its_key_and_empty_strip_sends_nothing(roll_map, qtbot) -> None:
    with qtbot.waitSignal(roll_map.mark_clicked, timeout=1000) as clicked:
        qtbot.mouseClick(
            roll_map, Qt.MouseButton.LeftButton, pos=roll_map.mark_position("b").toPoint()
        )
    assert clicked.args == ["b"]
    with qtbot.assertNotEmitted(roll_map.mark_clicked):
        qtbot.mouseClick(
            roll_map, Qt.MouseButton.LeftButton, pos=QPoint(roll_map.width() // 4 + 60, 20)
        )


def test_uninspected_stretch_is_shaded_and_a_new_defect_appears(roll_map) -> None:
    strip_point = QPoint(int(8 + (roll_map.width() - 16) * 0.65), 30)
    before = roll_map.grab().toImage().pixelColor(strip_point)
    roll_map.set_uninspected([(6_000.0, 7_000.0)])
    after = roll_map.grab().toImage().pixelColor(strip_point)
    assert after.lightness() < before.lightness() - 20
    roll_map.add_defect(RollMark(key="d", along_mm=2_500.0, across_mm=200.0, points=2))
    assert [m.key for m in roll_map.marks()] == ["a", "b", "c", "d"]
    assert _close(_colour_at(roll_map, "d"), POINT_COLOURS[2])


def _stored_pair(tmp_path, seed: int):
    import uuid

    from station.store.images import ImageStore
    from tests.integration.store.helpers import png_bytes

    store = ImageStore(tmp_path / "images", fsync=False)
    roll, defect = uuid.uuid4(), uuid.uuid4()
    crop = store.put(roll_key=roll, defect_key=defect, kind="crop", data=png_bytes(seed, size=24))
    heat = store.put(roll_key=roll, defect_key=defect, kind="heatmap", data=png_bytes(seed + 1))
    return store, crop, heat


def test_defect_view_shows_both_images_and_a_message_for_a_corrupt_crop(qtbot, tmp_path) -> None:
    from ui.widgets.defect_view import DefectImagesView

    view = DefectImagesView()
    qtbot.addWidget(view)
    view.resize(500, 260)
    view.show()
    store, crop, heat = _stored_pair(tmp_path, 3)
    paths = {
        "crop_path": crop.path,
        "crop_sha256": crop.sha256,
        "heatmap_path": heat.path,
        "heatmap_sha256": heat.sha256,
    }
    view.show_stored(store, **paths)
    assert view.crop.image is not None and view.crop.image.width() == 24
    assert view.heatmap.image is not None and view.crop.message == ""

    store.resolve(crop.path).write_bytes(b"\x89PNG\r\n\x1a\n not a picture any more")
    view.show_stored(store, **paths)
    assert view.crop.image is None
    assert "does not match its recorded hash" in view.crop.message
    assert view.heatmap.image is not None  # the other picture still shows

    view.show_stored(store, **{**paths, "crop_sha256": None})  # no hash: decoding fails
    assert "cannot be decoded" in view.crop.message
    store.resolve(crop.path).unlink()
    view.show_stored(store, **paths)
    assert "is not in the image store" in view.crop.message
    assert "Traceback" not in view.crop.message


def test_sign_in_dialog_refuses_a_wrong_password_then_accepts_the_right_one(
    qtbot, tmp_path
) -> None:
    from PyQt6.QtWidgets import QDialog

    from station.store.users import Role, UserDirectory
    from tests.integration.store.conftest import migrate
    from ui.widgets.sign_in import SignInDialog

    users = UserDirectory.connect(migrate(f"sqlite:///{tmp_path / 'users.sqlite3'}"))
    try:
        users.add_user("anna", role=Role.QA, password="anna's password")
        dialog = SignInDialog(users.sign_in, purpose="QA review")
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.keyClicks(dialog.name_edit, "anna")
        qtbot.keyClicks(dialog.password_edit, "not her password")
        qtbot.keyClick(dialog.password_edit, Qt.Key.Key_Return)
        assert dialog.user is None and dialog.isVisible()
        assert "user name or password is wrong" in dialog.error_label.text()
        assert dialog.password_edit.text() == ""  # cleared for the next try
        qtbot.keyClicks(dialog.password_edit, "anna's password")
        qtbot.keyClick(dialog.password_edit, Qt.Key.Key_Return)
        assert dialog.result() == QDialog.DialogCode.Accepted
        assert dialog.user is not None and dialog.user.role is Role.QA
    finally:
        users.close()
