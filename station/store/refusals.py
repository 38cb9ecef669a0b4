"""Writing a batch when the database may refuse single records (kept aside, never dropped)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from station.store.journal import Journal
from station.store.records import StoreItem, item_key, item_to_payload
from station.store.repository import DefectRepository
from station.store.writes import BatchResult

log = logging.getLogger(__name__)


def write_isolating_refusals(
    repository: DefectRepository, items: Sequence[StoreItem]
) -> BatchResult:
    """Write ``items`` in one transaction; if the database refuses one, write them one by one.

    Records the database refuses (constraint violations) end up in ``rejected``;
    connection errors propagate, with nothing of the failed transaction written.
    """
    try:
        return repository.write_batch(items)
    except IntegrityError:
        pass
    result = BatchResult()
    for item in items:
        try:
            single = repository.write_batch([item])
        except IntegrityError as error:
            result.rejected.append((item, str(error.orig or error).splitlines()[0]))
            continue
        result.written.extend(single.written)
        result.rejected.extend(single.rejected)
    return result


def keep_rejected(journal: Journal, result: BatchResult) -> int:
    """Log refused records and keep them in the journal's ``rejected.journal``; return how many."""
    for item, reason in result.rejected:
        log.error(
            "the database refused %s %s: %s (kept in %s)",
            type(item).__name__,
            item_key(item),
            reason,
            journal.rejected_path,
        )
        try:
            journal.reject(item_to_payload(item), reason=reason)
        except OSError:
            log.exception("could not keep a rejected record")
    return len(result.rejected)
