"""Errors the defect store raises for problems a user or an operator can fix.

Each is a :class:`~training.errors.CrasStationError`: the message says what
happened, the ``hint`` says what to do. The CLI prints both without a traceback.
"""

from __future__ import annotations

from station.grading import GradingError
from training.public import ConfigError, CrasStationError

__all__ = ["GradingError"]  # re-exported: grading errors are store errors to callers too


class StoreError(CrasStationError):
    """Base for defect-store errors."""


class StoreUrlError(StoreError, ConfigError):
    """The database URL cannot be parsed or names an unsupported database."""


class DatabaseUnreachableError(StoreError):
    """The database server cannot be reached or refused the connection."""


class SchemaError(StoreError):
    """The database schema is not the one this code was written for."""


class SchemaNotInitialisedError(SchemaError):
    """The database has no tables yet: migrations were never applied."""


class SchemaOutOfDateError(SchemaError):
    """The database is at an older migration than this code needs."""


class SchemaTooNewError(SchemaError):
    """The database was migrated by a newer version of the station software."""


class JournalLockedError(StoreError):
    """Another process already writes to this journal folder."""


class JournalError(StoreError):
    """The local journal cannot be written or read."""


class ImageStoreError(StoreError):
    """An image cannot be stored or read."""


class ImageStoreFullError(ImageStoreError):
    """The image store has reached its size limit or its disk is full."""


class UnsafeImagePathError(ImageStoreError):
    """An image path would lead outside the image store's root folder."""


class ImageMissingError(ImageStoreError):
    """An image named in the database is not (or no longer) on disk."""


class ImageCorruptError(ImageStoreError):
    """An image on disk does not match the content hash recorded in the database."""


class NotFoundError(StoreError):
    """A roll, defect or run asked for does not exist."""


class AmbiguousRollError(StoreError):
    """A lot number matches more than one roll."""


class InvalidQueryError(StoreError):
    """A query parameter (filter, cursor, page size) is invalid."""


class ReviewError(StoreError):
    """A review action is not allowed (e.g. empty reviewer name)."""


class InvalidRecordError(StoreError, ValueError):
    """A record handed to the store has an invalid value (a bug in the caller)."""


class WriterClosedError(StoreError):
    """A record was submitted after the writer was closed."""


class ExportError(StoreError):
    """A report or training set cannot be written where asked."""
