"""The operator window's parts on their own: waterfall, pump, banner, lights, readouts, app."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PyQt6.QtWidgets import QMessageBox

from station.acquisition.lines import Severity as SourceSeverity
from station.acquisition.lines import SourceEvent, SourceEventKind
from station.pipeline.config import OperatorConfig
from station.pipeline.events import Alarm, EventBus, SourceNotice, WebPreview
from station.pipeline.extraction import FoundDefect
from station.store.writer import WriterStats
from ui.event_pump import EventPump
from ui.operator import app
from ui.operator.readouts import database_light, defect_alarm, live_grade
from ui.operator.store_watch import StoreReading
from ui.widgets.alarm_banner import AlarmBanner
from ui.widgets.status_lights import Light, StatusLightsWidget
from ui.widgets.waterfall import MarkedDefect, WaterfallWidget


def preview(first_row: int, rows: int, *, width: int = 64, level: int | None = None) -> WebPreview:
    """Rows whose pixels encode their row number (mod 256) unless ``level`` is given."""
    numbers = first_row + np.arange(rows)
    pixels = np.repeat(
        ((numbers % 256) if level is None else np.full(rows, level))[:, None], width, 1
    )
    return WebPreview(
        pixels=pixels.astype(np.uint8),
        scores=np.zeros((rows, width), np.uint8),
        along_mm=numbers * 0.5,
        mm_per_px=0.5,
        mm_per_row=0.5,
    )


def test_the_waterfall_shows_the_newest_rows_on_top_from_a_contiguous_ring(qtbot: Any) -> None:
    waterfall = WaterfallWidget(rows=50)
    qtbot.addWidget(waterfall)
    for first in range(0, 170, 17):  # wraps the ring several times, blocks not aligned to it
        waterfall.add_previews([preview(first, 17)])
    shown = waterfall.web_image.image
    assert shown.shape == (50, 64, 4)
    np.testing.assert_array_equal(shown[:, 0, 0], np.arange(120, 170))  # oldest row first
    assert waterfall.rows_written == 170
    assert waterfall.newest_along_mm == pytest.approx(169 * 0.5)
    ring = waterfall._rgba
    start = 170 % 50
    np.testing.assert_array_equal(ring[start : start + 50], shown)  # one contiguous slice


def test_the_overlay_colours_high_scores_and_follows_its_switch(qtbot: Any) -> None:
    waterfall = WaterfallWidget(rows=20)
    qtbot.addWidget(waterfall)
    rows = preview(0, 20, level=100)
    rows.scores[:, 32:] = 255  # twice the threshold on the right half
    waterfall.add_previews([rows])
    image = waterfall.web_image.image
    assert tuple(image[5, 0, :3]) == (100, 100, 100)  # no score: the web's own grey
    assert image[5, 40, 0] > 150 and image[5, 40, 2] < 150  # hot: a warm colour
    waterfall.set_overlay(visible=False, opacity=0.6)
    assert tuple(waterfall.web_image.image[5, 40, :3]) == (100, 100, 100)


def test_the_waterfall_draws_the_web_and_boxes_defects_in_view(qtbot: Any) -> None:
    waterfall = WaterfallWidget(rows=100)
    qtbot.addWidget(waterfall)
    waterfall.resize(400, 400)
    waterfall.show()
    waterfall.add_previews([preview(0, 100, level=10)])
    waterfall.clear_roll()  # a new roll: the old rows go, the view still draws
    for along_mm, label in ((40.0, "3p"), (-500.0, "long gone")):
        waterfall.mark_defect(
            MarkedDefect(along_mm=along_mm, length_mm=4, across_mm=10, width_mm=6, label=label)
        )
    waterfall.add_previews([preview(0, 100, level=230)])
    qtbot.wait(50)
    image = waterfall.grab().toImage()
    centre = image.pixelColor(image.width() // 2, image.height() // 2)
    assert centre.red() > 200 and centre.green() > 200  # the bright web, not the background
    visible = [label.toPlainText() for box, label in waterfall._boxes if box.isVisible()]
    assert visible == ["3p"]


def test_the_pump_coalesces_previews_and_counts_what_a_stalled_window_lost(qtbot: Any) -> None:
    bus = EventBus()
    pump = EventPump(preview_queue_size=3)
    pump.attach(bus)
    pump.stop()  # the window is stalled: nothing drains
    for first in range(0, 100, 10):
        bus.publish(preview(first, 10))
    bus.publish(Alarm(kind="defect", message="4-point defect"))
    received: list[list[WebPreview]] = []
    alarms: list[Alarm] = []
    pump.previews.connect(received.append)
    pump.alarm.connect(alarms.append)
    pump.drain()
    assert len(received) == 1 and [p.along_mm[0] for p in received[0]] == [35.0, 40.0, 45.0]
    assert pump.dropped_events == 7
    assert [a.message for a in alarms] == ["4-point defect"]


def test_the_banner_beeps_counts_and_is_acknowledged(qtbot: Any) -> None:
    beeps: list[int] = []
    banner = AlarmBanner(beep=lambda: beeps.append(1))
    qtbot.addWidget(banner)
    banner.raise_alarm("3-point defect at 1.2 m")
    banner.raise_alarm("0.5 m not inspected")
    assert banner.isVisibleTo(banner.parentWidget() or banner) and len(beeps) == 2
    assert "not inspected" in banner.message.text() and "+1 more" in banner.message.text()
    with qtbot.waitSignal(banner.acknowledged):
        banner.button.click()
    assert banner.isHidden() and banner.pending == 0


def test_a_source_fault_turns_the_source_light_red_with_its_reason(qtbot: Any) -> None:
    lights = StatusLightsWidget(["source", "model", "database"])
    qtbot.addWidget(lights)
    bus = EventBus()
    pump = EventPump()
    pump.attach(bus)
    pump.stop()

    def show(notice: SourceNotice) -> None:
        event = notice.event
        lights.set("source", Light.BAD, str(event.kind), event.message)

    pump.source_notice.connect(show)
    bus.publish(
        SourceNotice(
            SourceEvent(
                kind=SourceEventKind.CAMERA_GONE,
                severity=SourceSeverity.FAULT,
                message="camera 21345678 is gone after 5 reconnect attempts",
                source="camera",
            )
        )
    )
    pump.drain()
    light = lights.lights["source"]
    assert light.light is Light.BAD and "reconnect" in light.toolTip()


def test_a_bad_configuration_is_a_message_and_exit_status_2(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _parent, _title, text: shown.append(text))
    config = tmp_path / "station.yaml"
    config.write_text("source:\n  kind: camera\nmodel:\n  path: /nowhere\n")
    assert app.main(["--config", str(config)]) == 2
    assert len(shown) == 1 and "model.path" in shown[0] and "Traceback" not in shown[0]
    assert "model.path" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        app.main(["--help"])
    assert exit_info.value.code == 0


def found(*, points: int, score: float = 0.5, length_mm: float = 10.0) -> FoundDefect:
    return FoundDefect(
        first_line=0,
        end_line=100,
        x0=0,
        x1=50,
        along_mm=1500.0,
        across_mm=200.0,
        across_camera_mm=230.0,
        length_mm=length_mm,
        width_mm=5.0,
        area_mm2=40.0,
        area_px=4000,
        peak_score=score,
        class_index=0,
        fabric_class="twill",
        points=points,
    )


def test_defect_alarms_follow_the_engineers_limits() -> None:
    limits = OperatorConfig(alarm_min_points=3, alarm_min_score=0.9, alarm_min_length_mm=200.0)
    assert defect_alarm(found(points=1), limits) is None
    assert "3 points" in defect_alarm(found(points=3), limits)
    assert "score 0.95" in defect_alarm(found(points=1, score=0.95), limits)
    assert "250 mm long" in defect_alarm(found(points=1, length_mm=250.0), limits)


def test_the_live_grade_counts_points_per_100_square_yards() -> None:
    # 4 points on 914.4 mm x 914.4 mm (one square yard): 400 per 100 yd², over a limit of 40.
    grade = live_grade([found(points=4)], width_mm=914.4, length_mm=914.4, limit=40.0)
    assert grade.text.startswith("400.0 (FAIL") and grade.good is False
    assert live_grade([], width_mm=914.4, length_mm=914.4, limit=40.0).good is True
    assert live_grade([], width_mm=None, length_mm=0.0, limit=40.0).text == "–"


def test_the_database_light_prefers_the_writers_own_state() -> None:
    offline = WriterStats(
        submitted=10,
        acked=10,
        committed=0,
        journaled=10,
        replayed=0,
        dropped=0,
        rejected=0,
        images_skipped=0,
        queued=0,
        journal_pending=10,
        database_online=False,
        last_error="connection refused",
    )
    light = database_light(offline, StoreReading(reachable=False, problem="no answer"))
    assert light.light is Light.WARN and "10 journaled" in light.state
    assert "connection refused" in light.reason
    online = dataclasses.replace(offline, database_online=True, journal_pending=0)
    assert database_light(online, StoreReading(reachable=True)).light is Light.GOOD
    assert database_light(None, StoreReading(reachable=False, problem="x")).light is Light.BAD
    assert database_light(None, None) is None
