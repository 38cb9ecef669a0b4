"""Reading back what a pipeline run left in the store."""

from __future__ import annotations

import uuid

from station.store.config import StoreConfig
from station.store.store import DefectStore
from station.store.views import DefectQuery, DefectView, EventView, RollView, RunView


def read_roll(
    config: StoreConfig, roll_key: uuid.UUID
) -> tuple[RollView, list[DefectView], list[EventView], list[RunView]]:
    """The roll, all its defects (roll-map order), its events and runs."""
    with DefectStore.open(config, with_writer=False) as store:
        repository = store.repository
        roll = repository.get_roll(roll_key=roll_key)
        defects: list[DefectView] = []
        cursor = None
        while True:
            page = repository.find_defects(
                DefectQuery(roll_key=roll_key, limit=1000, cursor=cursor)
            )
            defects += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
        events = repository.list_events(roll_key=roll_key, limit=10_000)
        runs = repository.list_runs(roll_key)
    return roll, defects, events, runs
