"""When journaled records happened: the age of a journal's backlog.

Shared by ``station db status`` (which reads a journal folder without its lock)
and the defect writer (which knows the oldest record it journaled).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from station.store.errors import InvalidRecordError
from station.store.records import StoredDefect, StoreItem, payload_to_item

_TIME_FIELDS = ("detected_at", "occurred_at", "started_at", "ended_at")


def item_time(item: StoreItem) -> datetime | None:
    """When a record happened (its detection, event, start or end time), if it says."""
    if isinstance(item, StoredDefect):
        item = item.record
    for name in _TIME_FIELDS:
        value = getattr(item, name, None)
        if isinstance(value, datetime):
            return value
    return None


def payload_time(payload: dict[str, Any]) -> datetime | None:
    """When a journaled record (as its JSON payload) happened; None when unreadable."""
    try:
        return item_time(payload_to_item(payload))
    except InvalidRecordError:
        return None


def oldest_time(items: Iterable[StoreItem]) -> datetime | None:
    """The earliest time among ``items`` (None when none says when it happened)."""
    return min((when for item in items if (when := item_time(item)) is not None), default=None)
