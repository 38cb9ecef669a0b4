"""Two station processes on one PostgreSQL database share the recipes, and a recipe
published while a station runs is used from its next roll.

The station is a child process (``tests/helpers/recipe_station_child.py``) that runs
rolls one after another through the real pipeline on the synthetic source, with
``recipes.per_roll``, never restarting. Version 1 is published before it starts;
version 2 is published with ``station recipe publish`` and the list read with
``station recipe list``, each a separate process, while that station is alive.
Real parts: PostgreSQL (a fresh schema), the model store, two real (untrained,
calibrated) model files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from station.store.engine import create_store_engine
from station.store.migrate import upgrade_database
from station.store.model_store import ModelStore
from station.store.recipes import RecipeBook
from tests.helpers.recipe_station_child import recorded_run
from tests.integration.store.conftest import fresh_pg_schema_url
from training.public import read_metadata
from training.testing import make_model_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTICLE = "fabric_a"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A migrated fresh schema on the real PostgreSQL server, dropped afterwards."""
    with fresh_pg_schema_url(postgres_url) as url:
        engine = create_store_engine(url, create=True)
        upgrade_database(engine)
        engine.dispose()
        yield url


def station_yaml(folder: Path, url: str) -> Path:
    """A station with recipes per roll (no model.path) on a small synthetic web."""
    data: dict[str, Any] = {
        "station": {"name": "recipe-station"},
        "source": {
            "kind": "synthetic",
            "synthetic": {
                "fabric_preset": "grey_twill",
                "width_px": 128,
                "seed": 5,
                "defects_per_metre": 3.0,
                "mm_per_px": 0.5,
                "lines_per_block": 64,
            },
        },
        "model": {"backend": "torch", "device": "cpu", "batch_size": 8},
        "store": {
            "url": url,
            "image_root": str(folder / "images"),
            "journal_dir": str(folder / "journal"),
            "flush_interval_s": 0.01,
            "fsync_images": False,
        },
        "pipeline": {"when_behind": "wait", "status_interval_s": 0.2},
        "recipes": {"model_store": str(folder / "model_store"), "per_roll": True},
    }
    path = folder / "station.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def station_command(*args: str) -> str:
    """``station ARGS`` as a separate process; its stdout (the test fails on a non-zero exit)."""
    done = subprocess.run(
        [sys.executable, "-m", "station", *args],
        cwd=REPO_ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def publish_with_cli(config: Path, model: Path, factor: float) -> None:
    out = station_command(
        "recipe", "publish", str(model), "--config", str(config), "--name", "line-a",
        "--fabric", ARTICLE, "--threshold-factor", str(factor), "--by", "emil",
    )  # fmt: skip
    assert "published line-a version" in out, out


class StationChild:
    """The station process: send it a command, read its answer lines."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.recipe_station_child", "--config", str(config)],
            cwd=REPO_ROOT,
            env=ENV,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
        )
        assert self.read() == "READY"

    def read(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        assert line, f"the station process ended (exit {self.process.poll()}): {self.stderr()}"
        return line

    def stderr(self) -> str:
        """The station's log so far (for failure messages)."""
        self._log_file.flush()
        return self.log.read_text()[-4000:]

    def ask(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.read()

    def roll(self, lot: str) -> tuple[uuid.UUID, str, int, str]:
        """One roll of the article: (roll key, recipe name, version, model hash) it printed."""
        answer = self.ask(f"roll {lot} {ARTICLE}").split()
        assert answer[0] == "ROLL" and answer[1] == lot, " ".join(answer) + "\n" + self.stderr()
        return uuid.UUID(answer[2]), answer[3], int(answer[4]), answer[5]

    def recipes(self) -> list[tuple[str, int, str, str]]:
        lines = [self.ask("list")]
        while lines[-1] != "END":
            lines.append(self.read())
        rows = [line.split() for line in lines[:-1]]
        assert all(row[0] == "RECIPE" for row in rows), lines
        return [(name, int(version), articles, sha) for _, name, version, articles, sha in rows]

    def close(self) -> int:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            try:
                return self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        status = self.process.wait()
        self._log_file.close()
        return status


def listed(out: str) -> list[tuple[str, int, str, str]]:
    """`station recipe list` lines as (name, version, articles, model hash prefix)."""
    rows = []
    for line in out.splitlines():
        name, version, state, articles, _, sha12 = line.split()
        assert state == "live", line
        rows.append((name, int(version.removeprefix("v")), articles, sha12))
    return rows


@pytest.mark.slow  # a station process running two rolls, two `station recipe` processes
def test_a_recipe_published_while_a_station_runs_is_used_from_its_next_roll(
    pg_url: str, tmp_path: Path
) -> None:
    config = station_yaml(tmp_path, pg_url)
    first = make_model_dir(tmp_path / "model-1", classes=(ARTICLE,), seed=1)
    second = make_model_dir(tmp_path / "model-2", classes=(ARTICLE,), seed=2)
    hashes = [read_metadata(first).model_hash, read_metadata(second).model_hash]
    assert hashes[0] != hashes[1]

    book = RecipeBook.connect(pg_url)  # version 1, published before the station starts
    try:
        book.publish(
            first, ModelStore(tmp_path / "model_store"), name="line-a", fabrics=[ARTICLE],
            threshold_factor=1.1, published_by="emil",
        )  # fmt: skip
    finally:
        book.close()
    station = StationChild(config, tmp_path / "station.log")
    try:
        key_1, *printed_1 = station.roll("LOT-1")
        # Version 2, on another model, published by another process while the station runs.
        publish_with_cli(config, second, 0.9)
        key_2, *printed_2 = station.roll("LOT-2")
        child_list = station.recipes()
    finally:
        status = station.close()
    assert status == 0

    assert printed_1 == ["line-a", 1, hashes[0]]
    assert printed_2 == ["line-a", 2, hashes[1]]
    for key, version, model_hash, factor in (
        (key_1, 1, hashes[0], 1.1),
        (key_2, 2, hashes[1], 0.9),
    ):
        run = recorded_run(pg_url, key)
        assert (run["recipe_name"], run["recipe_version"]) == ("line-a", version)
        assert run["sha256"] == model_hash
        assert run["settings"]["recipe"]["model_sha256"] == model_hash
        assert run["settings"]["model"]["threshold_factor"] == factor

    # The station's store and `station recipe list` run as a second process read one list.
    expected = [("line-a", 1, ARTICLE, hashes[0]), ("line-a", 2, ARTICLE, hashes[1])]
    assert child_list == expected
    out = station_command("recipe", "list", "--config", str(config))
    assert listed(out) == [(name, version, arts, sha[:12]) for name, version, arts, sha in expected]
