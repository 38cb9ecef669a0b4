"""The one repository class through which everything reaches the defect database."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from station.store.engine import create_store_engine
from station.store.migrate import check_schema
from station.store.models import Defect, Event, Roll
from station.store.queries import QueriesMixin
from station.store.recovery_writes import RecoveryWritesMixin
from station.store.reviews import ReviewsMixin
from station.store.summaries import SummariesMixin
from station.store.writes import WritesMixin


class DefectRepository(
    WritesMixin, RecoveryWritesMixin, QueriesMixin, SummariesMixin, ReviewsMixin
):
    """Stations, rolls, runs, defects, events and reviews in one SQL database.

    Thread-safe: the writer thread and a UI thread may share one repository.

    Args:
        engine: From :func:`~station.store.engine.create_store_engine`.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._init_write_caches()

    @classmethod
    def connect(
        cls, url: str, *, check: bool = True, connect_timeout_s: float = 5.0
    ) -> DefectRepository:
        """A repository on ``url``; with ``check``, verify the schema is migrated.

        Raises:
            StoreUrlError, DatabaseUnreachableError, SchemaError.
        """
        engine = create_store_engine(url, connect_timeout_s=connect_timeout_s)
        if check:
            try:
                check_schema(engine)
            except Exception:
                engine.dispose()
                raise
        return cls(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    def table_counts(self) -> dict[str, int]:
        """Rows in the main tables (for ``station db status``)."""
        with self._engine.connect() as connection:
            return {
                "rolls": connection.execute(select(func.count()).select_from(Roll)).scalar_one(),
                "defects": connection.execute(
                    select(func.count()).select_from(Defect)
                ).scalar_one(),
                "unreviewed defects": connection.execute(
                    select(func.count())
                    .select_from(Defect)
                    .where(Defect.review_status == "unreviewed")
                ).scalar_one(),
                "events": connection.execute(select(func.count()).select_from(Event)).scalar_one(),
            }

    def close(self) -> None:
        """Close the connection pool."""
        self._engine.dispose()
