"""Opening the station's store with the start-up rule for an unreachable database.

Without ``store.allow_offline_start`` an unreachable database stops the start
with one message (the URL, what failed, what to do). With it the station
starts, warns, and its records wait in the local journal until the database
answers.
"""

from __future__ import annotations

import logging

from station.store.config import StoreConfig
from station.store.engine import safe_url
from station.store.errors import DatabaseUnreachableError
from station.store.store import DefectStore

logger = logging.getLogger(__name__)


def open_station_store(config: StoreConfig) -> tuple[DefectStore, bool]:
    """Open the store with its writer for a running station.

    Returns:
        The store, and True when it started without its database (allowed offline start).

    Raises:
        DatabaseUnreachableError: the database cannot be reached and offline start is off.
        CrasStationError: the URL, schema or journal is unusable.
    """
    try:
        store = DefectStore.open(config, allow_offline=config.allow_offline_start)
    except DatabaseUnreachableError as error:
        raise DatabaseUnreachableError(
            f"not starting: {error.message} (store.url)",
            hint="start the database or correct store.url; to inspect anyway, with records "
            "kept in the local journal until the database answers, set "
            "store.allow_offline_start: true",
        ) from error
    offline = not store.writer.stats().database_online
    if offline:
        logger.warning(
            "STARTING WITHOUT THE DATABASE %s (store.allow_offline_start is true): records "
            "wait in %s until it answers",
            safe_url(config.url),
            config.journal_dir,
        )
    return store, offline
