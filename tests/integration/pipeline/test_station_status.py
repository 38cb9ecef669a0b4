"""Start-up without the database, stopping that inspects what was acquired, truthful status.

Real parts throughout: the PyTorch backend on a real (untrained) model, a paced
synthetic web, SQLite or an unreachable PostgreSQL port (the TCP proxy cut),
the /metrics endpoint read over HTTP, `station run` as a child process.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from engines.backends.factory import open_backend
from station.cli import main
from station.pipeline import Alarm, Pipeline
from station.pipeline.config import StationConfig
from station.pipeline.errors import PipelineConfigError
from station.pipeline.stages import DISCARDED_AT_SHUTDOWN
from station.pipeline.status_query import scrape, status_from_metrics
from station.pipeline.summary_text import format_status
from station.store.config import StoreConfig
from station.store.errors import DatabaseUnreachableError
from tests.integration.pipeline.conftest import station_config
from tests.integration.pipeline.test_drops import SlowedBackend
from tests.integration.store.tcp_proxy import TcpProxy

REPO_ROOT = Path(__file__).resolve().parents[3]


def _synthetic(line_rate_hz: float, **extra: object) -> dict:
    return {
        "kind": "synthetic",
        "synthetic": {
            "fabric_preset": "grey_twill",
            "width_px": 192,
            "seed": 4,
            "defects_per_metre": 10.0,
            "lines_per_block": 64,
            "line_rate_hz": line_rate_hz,
            "mm_per_px": 0.1,
            **extra,
        },
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _write(config: StationConfig, path: Path) -> Path:
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


@pytest.fixture
def cut_database(store_config: StoreConfig) -> StoreConfig:
    """A PostgreSQL URL through a TCP proxy that is cut: connections are refused."""
    proxy = TcpProxy("127.0.0.1", 5432)
    proxy.restore()
    proxy.cut()
    return store_config.model_copy(
        update={
            "url": f"postgresql+psycopg://root@127.0.0.1:{proxy.port}/test",
            "connect_timeout_s": 1.0,
        }
    )


def test_an_unreachable_database_refuses_the_start_with_one_message(
    model_dir: Path, cut_database: StoreConfig, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = station_config(model_dir, cut_database, source=_synthetic(1000.0))
    with pytest.raises(DatabaseUnreachableError) as raised:
        Pipeline(config).start()
    assert raised.value.message.startswith("not starting: cannot reach the database")
    assert "allow_offline_start: true" in raised.value.hint

    status = main(["run", "--config", str(_write(config, tmp_path / "station.yaml"))])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    message = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(message) == 1, err
    assert f"127.0.0.1:{cut_database.url.rsplit(':', 1)[1].split('/')[0]}/test" in message[0]
    assert "store.url" in message[0]
    assert "what to do: start the database or correct store.url" in err
    assert "set store.allow_offline_start: true" in err
    assert not list(Path(cut_database.journal_dir).glob("*.journal"))  # nothing was inspected

    status = main(["status", "--config", str(tmp_path / "station.yaml")])
    out = capsys.readouterr().out
    assert status == 5, out  # not running, and the database unreachable
    assert "not running (metrics.port is not set" in out and "database       UNREACHABLE" in out


def test_an_allowed_offline_start_inspects_warns_repeatedly_and_alarms(
    model_dir: Path,
    cut_database: StoreConfig,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture,
) -> None:
    offline = cut_database.model_copy(
        update={
            "allow_offline_start": True,
            "offline_warn_every_s": 0.5,
            "offline_alarm_after_s": 1.5,
        }
    )
    config = station_config(
        model_dir, offline, source=_synthetic(1000.0), metrics={"port": _free_port()}
    )
    config_path = _write(config, tmp_path / "station.yaml")
    caplog.set_level(logging.WARNING)
    pipeline = Pipeline(config)
    alarms = pipeline.bus.subscribe_queue(kinds=(Alarm,))
    pipeline.start()
    try:
        deadline = time.monotonic() + 60
        raised: list = []
        while time.monotonic() < deadline and not raised:
            raised = [a for a in alarms.drain() if a.kind == "database_offline"]
            time.sleep(0.2)
        status = pipeline.latest_status()
        exit_status = main(["status", "--config", str(config_path)])
        out = capsys.readouterr().out
    finally:
        summary = pipeline.stop()
    assert raised, "no database_offline alarm within 60 s"
    assert exit_status == 3, out  # running, records journaled
    assert "UNREACHABLE for" in out and "started without it: store.allow_offline_start" in out
    assert "unreachable" in raised[0].message and "local journal" in raised[0].message
    assert status is not None and status.offline_start and status.store.database_online is False
    assert status.store.journal_records > 0 and status.store.journal_oldest_age_s >= 1.5
    line = format_status(status)
    assert "DATABASE UNREACHABLE" in line and "STARTED WITHOUT ITS DATABASE" in line
    warnings = [r.getMessage() for r in caplog.records if "DATABASE UNREACHABLE" in r.message]
    assert len(warnings) >= 2 and all("\n" not in w for w in warnings)
    assert any("STARTING WITHOUT THE DATABASE" in r.getMessage() for r in caplog.records)
    assert summary.error is None and summary.metres_inspected > 0
    assert summary.writer is not None and summary.writer.journal_pending > 0


def test_metrics_and_status_agree_with_the_pipeline_while_it_runs(
    model_dir: Path, store_config: StoreConfig, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    port = _free_port()
    config = station_config(
        model_dir,
        store_config,
        source=_synthetic(1000.0),
        roll={"lot_number": "LOT-METRICS"},
        metrics={"port": port},
        pipeline={"status_interval_s": 0.5, "rate_window_s": 5.0},
    )
    config_path = _write(config, tmp_path / "station.yaml")
    url = f"http://127.0.0.1:{port}/metrics"
    pipeline = Pipeline(config)
    pipeline.start()
    try:
        while pipeline.figures_now().tiles < 300:
            time.sleep(0.2)
        for _ in range(50):  # a scrape between two reports: both show the same one
            before = pipeline.latest_status()
            text = scrape(url)
            if text is not None and pipeline.latest_status() is before:
                break
        assert text is not None and before is not None
        scraped = status_from_metrics(text, url=before.store.url)
        assert scraped is not None
        assert format_status(scraped) == format_status(before)  # the status line's figures
        figures = before.figures
        assert figures.lines_per_s > 500 and figures.tiles_per_s > 10 and figures.latency_s > 0
        assert scraped.store.database_online is True and scraped.store.journal_records == 0
        assert [q.name for q in scraped.figures.queues] == ["source", "inference", "extraction"]
        now = pipeline.figures_now()
        assert figures.lines <= now.lines and figures.metres_seen <= now.metres_seen

        status = main(["status", "--config", str(config_path)])
        out = capsys.readouterr().out
        assert status == 0, out
        assert out.startswith(f"station test-station: running (read from {url})")
        assert re.search(r"speed\s+\d+ lines/s", out) and "database       sqlite" in out
    finally:
        summary = pipeline.stop()
    assert summary.error is None
    status = main(["status", "--config", str(config_path)])
    out = capsys.readouterr().out
    assert status == 4, out
    assert f"not running (nothing answers at {url})" in out
    assert "LOT-METRICS" in out and "journal        0 record(s) waiting" in out


def test_a_taken_metrics_port_refuses_the_start_naming_the_field(
    model_dir: Path, store_config: StoreConfig
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = station_config(
            model_dir, store_config, source=_synthetic(1000.0), metrics={"port": port}
        )
        with pytest.raises(PipelineConfigError) as raised:
            Pipeline(config).start()
    assert raised.value.message.startswith(
        f"metrics.port: cannot serve /metrics on 127.0.0.1:{port}"
    )
    assert "\n" not in raised.value.message


def test_work_still_queued_at_the_bound_is_discarded_and_marked_exactly(
    model_dir: Path, store_config: StoreConfig
) -> None:
    slow = SlowedBackend(
        open_backend(model_dir, kind="torch", device="cpu", max_batch=4), delay_s=0.2
    )
    config = station_config(
        model_dir,
        store_config,
        source=_synthetic(4000.0),
        model={"batch_size": 4},
        pipeline={"when_behind": "wait"},
    )
    pipeline = Pipeline(config, backend=slow)
    try:
        pipeline.start()
        time.sleep(3.0)
        summary = pipeline.stop(drain_timeout_s=0.5)
    finally:
        slow.close()
    assert summary.error is None and summary.metres_inspected > 0
    reasons = {reason for stretch in summary.stretches for reason in stretch.reasons}
    assert DISCARDED_AT_SHUTDOWN in reasons
    assert summary.metres_inspected + summary.metres_uninspected == pytest.approx(
        summary.metres_seen, abs=1e-6
    )


def test_sigterm_on_the_cpu_inspects_every_line_acquired(
    model_dir: Path, store_config: StoreConfig, tmp_path: Path
) -> None:
    config = station_config(
        model_dir,
        store_config,
        source=_synthetic(400.0, queue_blocks=64),  # 19 tiles/s: the CPU holds it under load
        roll={"lot_number": "LOT-DRAIN"},
    )
    config_path = _write(config, tmp_path / "station.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "station", "run", "--config", str(config_path)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "inspecting" in first, first + (process.stderr.read() if process.poll() else "")
        time.sleep(6.0)  # ~2,400 lines
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    seen = float(re.search(r"web seen\s+([\d.]+) m", out).group(1))
    inspected = float(re.search(r"inspected\s+([\d.]+) m", out).group(1))
    assert seen > 0.2  # > 2,000 lines acquired
    assert "not inspected   0.000 m in 0 stretch(es)" in out, out + err
    assert inspected == pytest.approx(seen, abs=0.001)
    assert "discarded" not in err and "queued tile row(s) inspected" in err
