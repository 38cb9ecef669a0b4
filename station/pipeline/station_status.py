"""What a running station reports about itself: the pipeline's figures and the store's state.

One :class:`StationStatus` is made every ``pipeline.status_interval_s``; the
same object goes to the event bus (``FiguresUpdated.status``), the
``station run`` status line and the ``/metrics`` endpoint, so they agree.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from station.pipeline.figures import PipelineFigures
from station.store.records import utc_now
from station.store.writer import WriterStats


@dataclass(frozen=True)
class StoreFigures:
    """The store as the running station sees it.

    Attributes:
        url: The database URL without its password.
        database_online: False while records go to the journal instead (None: store not open).
        last_error: Why the database failed last, for people.
        queued: Records waiting in the writer's queue.
        dropped: Records dropped (queue full, or database and journal both failing).
        journal_records: Records waiting in the local journal for the database.
        journal_oldest_age_s: Age of the oldest of them (None when the journal is empty).
        offline_for_s: How long the database has been unreachable (None while it answers).
        image_disk_free_bytes: Free space on the image store's disk (None when unknown).
    """

    url: str
    database_online: bool | None
    last_error: str | None = None
    queued: int = 0
    dropped: int = 0
    journal_records: int = 0
    journal_oldest_age_s: float | None = None
    offline_for_s: float | None = None
    image_disk_free_bytes: int | None = None


@dataclass(frozen=True)
class StationStatus:
    """One report of a running station.

    Attributes:
        station: The station's name.
        state: The pipeline's state (``running``, ``stopping``, ...).
        figures: The pipeline's figures.
        store: The store's state.
        offline_start: True when the station started without its database
            (``store.allow_offline_start``).
        timestamp_s: When it was made (Unix time).
    """

    station: str
    state: str
    figures: PipelineFigures
    store: StoreFigures
    offline_start: bool = False
    timestamp_s: float = field(default_factory=time.time)


def disk_free_bytes(path: Path) -> int | None:
    """Free bytes on the disk holding ``path`` (or its nearest existing parent)."""
    folder = Path(path).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _age_s(when: datetime | None, now: datetime) -> float | None:
    return None if when is None else max(0.0, (now - when).total_seconds())


def store_figures(
    stats: WriterStats | None, *, url: str, image_root: Path, now: datetime | None = None
) -> StoreFigures:
    """The store's figures from the writer's counters (``stats`` None: the store is not open)."""
    free = disk_free_bytes(image_root)
    if stats is None:
        return StoreFigures(url=url, database_online=None, image_disk_free_bytes=free)
    now = now or utc_now()
    return StoreFigures(
        url=url,
        database_online=stats.database_online,
        last_error=stats.last_error,
        queued=stats.queued,
        dropped=stats.dropped,
        journal_records=stats.journal_pending,
        journal_oldest_age_s=_age_s(stats.journal_oldest_at, now),
        offline_for_s=_age_s(stats.offline_since, now),
        image_disk_free_bytes=free,
    )
