"""The operator window, real and offscreen, fed by the real pipeline on the synthetic source.

The model is a real (untrained) CRAS model folder, so detections are made by
the real network; their number means nothing, their path through the station
to the window is what is checked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.acquisition.lines import Severity as SourceSeverity
from station.acquisition.lines import SourceEvent, SourceEventKind
from station.pipeline.config import StationConfig
from station.pipeline.errors import PipelineConfigError
from station.pipeline.events import Alarm, SourceNotice, WebPreview
from station.pipeline.orchestrator import Pipeline
from station.store.config import StoreConfig
from station.store.engine import create_store_engine
from station.store.migrate import upgrade_database
from station.store.store import DefectStore
from station.store.users import UserDirectory
from station.store.views import DefectQuery, DefectView, EventView
from training.testing import make_model_dir
from ui.operator.session import Phase, RollDetails
from ui.operator.window import OperatorWindow
from ui.widgets.status_lights import Light

WIDTH_PX = 256
MM_PER_PX = 0.1


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_dir(
        tmp_path_factory.mktemp("operator-model") / "model",
        classes=("grey_twill",),
        tile_px=64,
        seed=3,
    )


@pytest.fixture
def store_config(tmp_path: Path) -> StoreConfig:
    url = f"sqlite:///{tmp_path / 'defects.sqlite3'}"
    engine = create_store_engine(url, create=True)
    upgrade_database(engine)
    engine.dispose()
    return StoreConfig(
        url=url,
        image_root=tmp_path / "images",
        journal_dir=tmp_path / "journal",
        flush_interval_s=0.01,
        fsync_images=False,
    )


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    """Every thread a test starts has ended when it ends."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left:
            return
        time.sleep(0.05)
    pytest.fail(f"threads left running: {[t.name for t in left]}")


def make_config(
    model_dir: Path, store: StoreConfig, *, synthetic: dict[str, Any], **sections: Any
) -> StationConfig:
    data: dict[str, Any] = {
        "station": {"name": "operator-test"},
        "source": {
            "kind": "synthetic",
            "synthetic": {
                "fabric_preset": "grey_twill",
                "width_px": WIDTH_PX,
                "seed": 7,
                "defects_per_metre": 8.0,
                "lines_per_block": 64,
                "mm_per_px": MM_PER_PX,
                **synthetic,
            },
        },
        "model": {"path": str(model_dir), "backend": "torch", "device": "cpu", "batch_size": 16},
        "store": store.model_dump(mode="json"),
        "pipeline": {"status_interval_s": 0.2, "when_behind": "wait"},
        "operator": {"store_poll_s": 0.3, "waterfall_rows": 200},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return StationConfig.model_validate(data)


def stored_roll(config: StoreConfig) -> tuple[list[DefectView], list[EventView], Any]:
    with DefectStore.open(config, with_writer=False) as store:
        (roll,) = store.repository.list_rolls()
        page = store.repository.find_defects(DefectQuery(roll_key=roll.key, limit=1000))
        events = store.repository.list_events(roll_key=roll.key, limit=1000)
        return list(page.items), events, roll


def open_window(qtbot: Any, config: StationConfig, **options: Any) -> OperatorWindow:
    window = OperatorWindow(config, user="op-anna", beep=lambda: None, **options)
    qtbot.addWidget(window)
    window.show()
    return window


def wait_ended(qtbot: Any, window: OperatorWindow, timeout_s: float = 180.0) -> None:
    qtbot.waitUntil(
        lambda: (
            window.session is not None
            and window.session.phase in (Phase.ENDED, Phase.FAILED)
            and not window.session.busy
        ),
        timeout=int(timeout_s * 1000),
    )
    assert window.session is not None and window.session.phase is Phase.ENDED, (
        window.session.problem
    )


def close_window(qtbot: Any, window: OperatorWindow) -> None:
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)


def test_each_logged_defect_shows_within_a_second_and_the_waterfall_advances(
    qtbot: Any, model_dir: Path, store_config: StoreConfig
) -> None:
    config = make_config(model_dir, store_config, synthetic={"total_lines": 6144})
    window = open_window(qtbot, config)
    window.start_roll(RollDetails(lot_number="LOT-UI-1", fabric_type="twill", width_mm=25.6))
    qtbot.waitUntil(lambda: window.waterfall.rows_written > 0, timeout=120_000)
    first_rows = window.waterfall.rows_written
    first_newest = window.waterfall.newest_along_mm
    qtbot.waitUntil(lambda: window.waterfall.rows_written > first_rows, timeout=60_000)
    assert window.waterfall.newest_along_mm > first_newest
    wait_ended(qtbot, window)

    defects, _, roll = stored_roll(store_config)
    assert roll.lot_number == "LOT-UI-1" and roll.ended_at is not None
    assert defects, "the untrained model found nothing; the check below would be empty"
    # The roll has ended, but the event pump's timer may still hold the last few events.
    qtbot.waitUntil(lambda: len(window.shown) >= len(defects), timeout=5000)
    assert len(window.shown) == len(defects) == len(window.strip.marks())
    assert window.counters.value("defects") == str(len(defects))
    for view in defects:
        shown = min(
            window.shown,
            key=lambda s: (
                abs(s.event.defect.along_mm - view.along_mm)
                + abs(s.event.defect.across_mm - view.across_mm)
            ),
        )
        assert shown.event.defect.along_mm == pytest.approx(view.along_mm)
        delay_s = shown.shown_at_s - view.detected_at.timestamp()
        assert delay_s < 1.0, f"defect at {view.along_mm:.0f} mm shown {delay_s:.2f} s late"

    # A corrupt crop in the image store: a message in the crop view, no traceback.
    qtbot.waitUntil(lambda: len(window.store_watch.latest.defects) == len(defects), timeout=5000)
    target = defects[0]
    assert target.crop_path is not None
    (store_config.image_root / target.crop_path).write_bytes(b"not a png any more")
    index = window.shown.index(
        min(window.shown, key=lambda s: abs(s.event.defect.along_mm - target.along_mm))
    )
    window.strip.mark_clicked.emit(index)
    assert "does not match its recorded hash" in window.crop.message.text()
    assert window.crop.heatmap.pixmap() is not None and not window.crop.heatmap.pixmap().isNull()
    close_window(qtbot, window)


STALL_SOURCE = {"total_lines": 4096, "line_rate_hz": 400.0, "queue_blocks": 6}
STALL_QUEUES = {"inference_queue_rows": 1, "result_queue_rows": 1}


def test_control_a_pipeline_that_waited_2_s_for_a_listener_would_drop_blocks(
    model_dir: Path, store_config: StoreConfig
) -> None:
    """What the stall test below would catch: a listener that blocks the pipeline's thread."""
    pipeline = Pipeline(
        make_config(model_dir, store_config, synthetic=STALL_SOURCE, pipeline=STALL_QUEUES)
    )
    stalls = []

    def blocking_listener(_event: object) -> None:
        if not stalls:
            stalls.append(1)
            time.sleep(2.0)  # in the extraction thread: what a synchronous GUI would do

    pipeline.bus.subscribe(blocking_listener, kinds=(WebPreview,))
    pipeline.start()
    assert pipeline.wait(timeout_s=180)
    summary = pipeline.stop()
    assert stalls and summary.source_dropped_blocks > 0


def test_a_gui_stalled_for_two_seconds_costs_the_pipeline_nothing(
    qtbot: Any, model_dir: Path, store_config: StoreConfig, tmp_path: Path
) -> None:
    # 400 lines/s (25 tiles/s) the CPU holds even under load. The source holds 6 blocks and
    # each stage queue one row: 512 lines, 1.3 s, so a window that held the pipeline up for
    # 2 s would make it drop blocks (the control test below shows it does).
    headless_store = store_config.model_copy(
        update={
            "url": f"sqlite:///{tmp_path / 'headless.sqlite3'}",
            "image_root": tmp_path / "headless-images",
            "journal_dir": tmp_path / "headless-journal",
        }
    )
    engine = create_store_engine(headless_store.url, create=True)
    upgrade_database(engine)
    engine.dispose()
    headless = Pipeline(
        make_config(model_dir, headless_store, synthetic=STALL_SOURCE, pipeline=STALL_QUEUES)
    )
    headless.start()
    assert headless.wait(timeout_s=180)
    alone = headless.stop()
    headless_defects, _, _ = stored_roll(headless_store)

    config = make_config(model_dir, store_config, synthetic=STALL_SOURCE, pipeline=STALL_QUEUES)
    window = open_window(qtbot, config)
    stalls = []

    def stall_once(_previews: list) -> None:
        if not stalls:
            stalls.append(time.monotonic())
            time.sleep(2.0)  # the GUI thread does nothing for 2 s

    window.pump.previews.connect(stall_once)
    window.start_roll()
    wait_ended(qtbot, window)
    summary = window.session.summary
    assert stalls, "the stall never happened"
    assert summary.source_dropped_blocks == alone.source_dropped_blocks == 0
    assert summary.dropped_rows == alone.dropped_rows == 0
    defects, _, _ = stored_roll(store_config)
    assert len(defects) == summary.defect_count == alone.defect_count == len(headless_defects)
    assert sorted(round(d.along_mm, 3) for d in defects) == sorted(
        round(d.along_mm, 3) for d in headless_defects
    )
    assert len(window.shown) == len(defects)  # the window caught up after the stall
    close_window(qtbot, window)


def test_the_sensitivity_stays_inside_the_configured_ranges_and_is_recorded_by_user(
    qtbot: Any, model_dir: Path, store_config: StoreConfig
) -> None:
    config = make_config(
        model_dir,
        store_config,
        synthetic={"line_rate_hz": 2000.0},  # endless: the roll runs until the test ends it
        operator={"sensitivity_min": 0.9, "sensitivity_max": 1.1},
    )
    engine = create_store_engine(store_config.url)
    UserDirectory(engine).add_user("eng-ben", role="engineer", password="engineer-password-1")
    engine.dispose()
    window = open_window(qtbot, config)
    window.start_roll()
    qtbot.waitUntil(lambda: window.session.phase is Phase.RUNNING, timeout=120_000)
    qtbot.waitUntil(lambda: window.store_watch.roll_key is not None, timeout=30_000)

    window.controls.sensitivity.setValue(500)  # the operator pushes far past the limit
    assert window.controls.sensitivity_value == pytest.approx(1.1)
    assert window.session.pipeline.sensitivity == pytest.approx(1.1)
    with pytest.raises(PipelineConfigError, match=r"outside 0\.90-1\.10"):
        window.session.pipeline.set_sensitivity(1.5, user="op-anna")
    assert window.session.pipeline.sensitivity == pytest.approx(1.1)

    # A wrong password changes nothing; an engineer who signs in may go further, within limits.
    database = window.lights.lights["database"]
    qtbot.waitUntil(lambda: database.light is Light.GOOD, timeout=10_000)
    window.sign_in()
    dialog = window.sign_in_dialog
    dialog.name_edit.setText("eng-ben")
    dialog.password_edit.setText("not the password")
    assert not dialog.try_sign_in()
    assert window.controls.high == pytest.approx(1.1) and not window.engineer
    dialog.password_edit.setText("engineer-password-1")
    assert dialog.try_sign_in()
    qtbot.waitUntil(lambda: window.engineer, timeout=5000)
    assert (window.controls.low, window.controls.high) == pytest.approx((0.5, 2.0))
    window.controls.sensitivity.setValue(180)
    assert window.session.pipeline.sensitivity == pytest.approx(1.8)
    window.controls.sensitivity.setValue(900)
    assert window.session.pipeline.sensitivity == pytest.approx(2.0)

    close_window(qtbot, window)  # closing ends the roll
    assert window.session.phase is Phase.ENDED
    _, events, roll = stored_roll(store_config)
    assert roll.ended_at is not None and roll.length_inspected_mm > 0
    changes = [e.details for e in events if e.kind == "setting_change"]
    changes.sort(key=lambda details: details["to"])
    assert [(c["user"], round(c["to"], 2)) for c in changes] == [
        ("op-anna", 1.1),
        ("eng-ben", 1.8),
        ("eng-ben", 2.0),
    ]


def test_an_unreachable_database_and_a_lost_camera_are_shown_and_inspection_goes_on(
    qtbot: Any, model_dir: Path, store_config: StoreConfig
) -> None:
    offline = store_config.model_copy(
        update={
            "url": "postgresql+psycopg://root@127.0.0.1:1/test",
            "connect_timeout_s": 1.0,
            "allow_offline_start": True,  # without it the roll refuses to start
        }
    )
    config = make_config(model_dir, offline, synthetic={"line_rate_hz": 2000.0})
    window = open_window(qtbot, config)
    window.start_roll()
    qtbot.waitUntil(lambda: window.waterfall.rows_written > 0, timeout=120_000)
    database = window.lights.lights["database"]
    qtbot.waitUntil(lambda: database.light is Light.WARN, timeout=10_000)
    assert "journal" in database.toolTip() and "offline" in database.state_text
    assert window.banner.isVisible() and "database" in window.banner.message.text()
    assert window.session.phase is Phase.RUNNING  # inspection goes on, records are journaled

    # The camera disappears: what HarvestersSource reports after its last reconnect attempt.
    gone = SourceEvent(
        kind=SourceEventKind.CAMERA_GONE,
        severity=SourceSeverity.FAULT,
        message="camera 21345678 is gone after 5 reconnect attempts",
        source="camera",
    )
    window.session.bus.publish(SourceNotice(gone))
    window.session.bus.publish(Alarm(kind="source_fault", message=gone.message))
    source = window.lights.lights["source"]
    qtbot.waitUntil(lambda: source.light is Light.BAD, timeout=5000)
    assert "reconnect" in source.toolTip()
    qtbot.waitUntil(lambda: "camera/source" in window.banner.message.text(), timeout=5000)

    close_window(qtbot, window)
    assert window.session.phase is Phase.ENDED
    journal_files = list(Path(offline.journal_dir).iterdir())
    assert journal_files, "the records should wait in the journal"


def test_closing_while_the_roll_starts_ends_it_once_it_runs(
    qtbot: Any, model_dir: Path, store_config: StoreConfig
) -> None:
    config = make_config(model_dir, store_config, synthetic={"line_rate_hz": 2000.0})
    window = open_window(qtbot, config)
    window.start_roll()
    window.close()  # at once: the model is still being opened
    assert window.isVisible() and window.session.phase is Phase.STARTING
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=120_000)
    assert window.session.phase is Phase.ENDED and window.session.summary is not None
    with DefectStore.open(store_config, with_writer=False) as store:
        rolls = store.repository.list_rolls()  # none when no line arrived before the stop
    assert all(roll.ended_at is not None for roll in rolls)


def test_a_database_without_tables_is_a_clear_message_not_a_traceback(
    qtbot: Any, model_dir: Path, store_config: StoreConfig, tmp_path: Path
) -> None:
    empty = store_config.model_copy(update={"url": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})
    window = open_window(qtbot, make_config(model_dir, empty, synthetic={"total_lines": 512}))
    window.start_roll()
    qtbot.waitUntil(
        lambda: window.session.phase is Phase.FAILED and not window.session.busy, timeout=60_000
    )
    qtbot.waitUntil(lambda: window.lights.lights["model"].light is Light.BAD, timeout=5000)
    shown = window.banner.message.text() + window.state_line.text()
    assert "station db upgrade" in shown or "migrat" in shown.lower()
    assert "Traceback" not in shown and "Error:" not in shown
    qtbot.waitUntil(window.controls.start.isEnabled, timeout=5000)  # fix it, try again
    close_window(qtbot, window)
