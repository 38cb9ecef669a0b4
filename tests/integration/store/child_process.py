"""Run ``tests/helpers/store_child.py`` and collect what it acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class ChildRun:
    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def acked(self) -> set[uuid.UUID]:
        return {uuid.UUID(line[4:]) for line in list(self.lines) if line.startswith("ACK ")}

    def value(self, tag: str) -> str | None:
        for line in list(self.lines):
            if line.startswith(tag + " "):
                return line[len(tag) + 1 :]
        return None

    def wait_for_acks(self, count: int, *, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.acked) < count:
            if self.process.poll() is not None and not self.reader.is_alive():
                raise AssertionError(f"child ended early: {self.lines[-5:]}\n{self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.acked)} acks after {timeout_s} s")
            time.sleep(0.01)

    def kill(self) -> None:
        """SIGKILL, then read what it had written before dying."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)

    def finish(self, *, timeout_s: float) -> int:
        code = self.process.wait(timeout=timeout_s)
        self.reader.join(timeout=30)
        return code

    stderr_path: Path | None = None

    def stderr(self) -> str:
        return (
            self.stderr_path.read_text() if self.stderr_path and self.stderr_path.exists() else ""
        )


def start_child(
    *,
    url: str,
    image_root: Path,
    journal_dir: Path,
    count: int,
    station: str = "station-a",
    lot: str = "LOT-CHILD",
    allow_offline: bool = False,
    interval_ms: float = 0.0,
) -> ChildRun:
    command = [
        sys.executable,
        "-m",
        "tests.helpers.store_child",
        "--url",
        url,
        "--image-root",
        str(image_root),
        "--journal-dir",
        str(journal_dir),
        "--station",
        station,
        "--lot",
        lot,
        "--count",
        str(count),
        "--interval-ms",
        str(interval_ms),
    ]
    if allow_offline:
        command.append("--allow-offline")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    stderr_path = journal_dir.parent / f"child-{station}-{uuid.uuid4().hex[:6]}.stderr"
    stderr_path.parent.mkdir(parents=True, exist_ok=True)
    with open(stderr_path, "w") as stderr_file:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            bufsize=1,
        )
    run = ChildRun(process)
    run.stderr_path = stderr_path

    def read() -> None:
        for line in process.stdout:
            run.lines.append(line.rstrip("\n"))

    run.reader = threading.Thread(target=read, daemon=True)
    run.reader.start()
    return run
