"""Configuration of the defect store (database, image store, journal, writer, retention)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field

from station.grading import FIRST_QUALITY_LIMIT_POINTS_PER_100YD2
from training.public import StrictModel, load_yaml_config, validate_config

DEFAULT_DATA_DIR = Path("station_data")


class RetentionConfig(StrictModel):
    """When images of reviewed defects may be deleted. Unreviewed defects keep theirs.

    Attributes:
        max_age_days: Delete images of reviewed defects detected longer ago than this
            (None: no age limit).
        max_store_bytes: Delete images of the oldest reviewed defects until the store
            is below this size (None: no size limit).
    """

    max_age_days: float | None = Field(default=None, gt=0)
    max_store_bytes: int | None = Field(default=None, gt=0)


class StoreConfig(StrictModel):
    """Where and how defects, events and their images are stored.

    Attributes:
        url: SQLAlchemy URL: ``sqlite:///path/file.sqlite3`` for one station (default)
            or ``postgresql+psycopg://user@host:5432/db`` for a plant's central database.
        image_root: Folder holding defect crops and heatmaps.
        image_store_max_bytes: Size limit of the image store; past it defects are logged
            without images (None: only the disk's size limits it).
        image_store_resume_free_bytes: After the image store was full, images are stored
            again only once this much is free (at most a tenth of ``image_store_max_bytes``
            counts), so a disk at its limit does not flap between full and not full.
        fsync_images: Flush every image to disk before its defect row is committed.
        journal_dir: Folder of the local append-only journal that holds records
            while the database is unreachable.
        queue_size: Records the writer queue holds before it drops the oldest defect.
        batch_size: Records committed per transaction at most.
        flush_interval_s: Longest time a record waits for its batch to fill.
        retry_initial_s: First wait before retrying an unreachable database.
        retry_max_s: Longest wait between retries.
        connect_timeout_s: Connection timeout for a database server.
        grade_limit_points_per_100yd2: Pass/fail limit of the 4-point grade.
        retention: Image retention policy.
        allow_offline_start: Let the station start inspecting while the database is
            unreachable (records wait in the journal). False: the pipeline refuses to start.
        offline_warn_every_s: While the database is unreachable, warn this often.
        offline_alarm_after_s: Raise an alarm once the journal's oldest waiting record is
            this old.
    """

    url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'defects.sqlite3'}"
    image_root: Path = DEFAULT_DATA_DIR / "images"
    image_store_max_bytes: int | None = Field(default=None, gt=0)
    image_store_resume_free_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    fsync_images: bool = True
    journal_dir: Path = DEFAULT_DATA_DIR / "store-journal"
    queue_size: int = Field(default=4096, ge=1)
    batch_size: int = Field(default=256, ge=1, le=10_000)
    flush_interval_s: float = Field(default=0.05, gt=0, le=10)
    retry_initial_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    grade_limit_points_per_100yd2: float = Field(
        default=FIRST_QUALITY_LIMIT_POINTS_PER_100YD2, ge=0
    )
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    allow_offline_start: bool = False
    offline_warn_every_s: float = Field(default=60.0, gt=0)
    offline_alarm_after_s: float = Field(default=600.0, gt=0)


def load_store_config(
    config_path: str | Path | None = None,
    *,
    url: str | None = None,
    image_root: str | Path | None = None,
    journal_dir: str | Path | None = None,
) -> StoreConfig:
    """The store configuration for a command: defaults, then a YAML file, then overrides.

    Args:
        config_path: YAML file holding either the store fields at its top level or a
            station configuration with a ``store:`` section.
        url, image_root, journal_dir: Values given on the command line win.

    Raises:
        ConfigError: the file is missing or invalid.
    """
    config = StoreConfig()
    if config_path is not None:
        path = Path(config_path)
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
        if isinstance(data, dict) and isinstance(data.get("store"), dict):
            config = validate_config(StoreConfig, data["store"], source=f"{path} (store section)")
        else:
            config = load_yaml_config(StoreConfig, path)
    overrides = {"url": url, "image_root": image_root, "journal_dir": journal_dir}
    for name, value in overrides.items():
        if value is not None:
            setattr(config, name, value)
    return config
