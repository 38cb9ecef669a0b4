"""A local append-only journal that keeps records while the database is unreachable.

File format of ``pending.journal``: a sequence of frames

    b"CJ" | payload length (uint32, big-endian) | CRC-32 of payload (uint32) | payload

where the payload is one record as UTF-8 JSON. Every :meth:`Journal.append`
ends with ``fsync``, so an appended record survives a crash or power cut. A
crash in the middle of an append leaves a torn last frame, which is cut off
when the journal is next opened (that append was never acknowledged). A frame
whose checksum fails in the middle of the file (disk damage) stops the read;
the rest of the file is kept in ``corrupt-<time>.journal`` for a person to look at.

Only one process may write to a journal folder: a lock file (``flock``) says so.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import struct
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from station.store.errors import JournalError, JournalLockedError

log = logging.getLogger(__name__)

_MAGIC = b"CJ"
_HEADER = struct.Struct(">2sII")
PENDING_NAME = "pending.journal"
REJECTED_NAME = "rejected.journal"
LOCK_NAME = "writer.lock"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode_frame(payload: dict[str, Any]) -> bytes:
    """One journal frame holding ``payload`` as JSON."""
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return _HEADER.pack(_MAGIC, len(body), zlib.crc32(body)) + body


def read_frames(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], int, bool]:
    """Read every intact frame of a journal file.

    Returns:
        (frames, valid_end, damaged): frames as (end offset, payload); the offset just
        after the last intact frame; True when a bad frame was followed by more bytes
        (damage rather than a torn last append).
    """
    data = path.read_bytes() if path.exists() else b""
    frames: list[tuple[int, dict[str, Any]]] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        magic, length, crc = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        if magic != _MAGIC or end > len(data) or zlib.crc32(data[start:end]) != crc:
            return frames, offset, end < len(data)
        try:
            payload = json.loads(data[start:end].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return frames, offset, end < len(data)
        frames.append((end, payload))
        offset = end
    return frames, offset, False


class Journal:
    """The journal folder of one writer process.

    Args:
        directory: Folder for the journal files (created if missing).

    Raises:
        JournalLockedError: another process holds the folder's lock.
        JournalError: the folder cannot be created or written.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise JournalError(
                f"cannot use the journal folder {self.directory}: {error}",
                hint="set store.journal_dir to a writable local folder",
            ) from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise JournalLockedError(
                f"another process is writing to the journal folder {self.directory}",
                hint="stop the other station process, or give each station its own "
                "store.journal_dir",
            ) from None
        self.pending_path = self.directory / PENDING_NAME
        self.rejected_path = self.directory / REJECTED_NAME
        self._pending_count = self._recover()
        self._fd = os.open(self.pending_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _recover(self) -> int:
        """Cut a torn tail, move damaged bytes aside; return the number of intact frames."""
        if not self.pending_path.exists():
            return 0
        frames, valid_end, damaged = read_frames(self.pending_path)
        size = self.pending_path.stat().st_size
        if valid_end < size:
            if damaged:
                aside = self.directory / f"corrupt-{time.strftime('%Y%m%dT%H%M%S')}.journal"
                with open(self.pending_path, "rb") as source:
                    source.seek(valid_end)
                    aside.write_bytes(source.read())
                log.error(
                    "journal %s is damaged at byte %d; kept the %d bytes after it in %s",
                    self.pending_path,
                    valid_end,
                    size - valid_end,
                    aside,
                )
            else:
                log.warning(
                    "journal %s: cutting a torn last record (%d bytes)",
                    self.pending_path,
                    size - valid_end,
                )
            with open(self.pending_path, "r+b") as file:
                file.truncate(valid_end)
                os.fsync(file.fileno())
        return len(frames)

    @property
    def pending_count(self) -> int:
        """Records in the journal that are not yet in the database."""
        return self._pending_count

    def append(self, payloads: Sequence[dict[str, Any]]) -> None:
        """Append records and fsync; when this returns they survive a crash.

        Raises:
            JournalError: the disk refused the write (e.g. full).
        """
        if not payloads:
            return
        data = memoryview(b"".join(encode_frame(p) for p in payloads))
        size_before = os.fstat(self._fd).st_size
        try:
            while data:
                written = os.write(self._fd, data)
                data = data[written:]
            os.fsync(self._fd)
            if size_before == 0:
                _fsync_dir(self.directory)
        except OSError as error:
            # Leave no half frame behind: later appends must follow an intact record.
            try:
                os.ftruncate(self._fd, size_before)
            except OSError:
                log.exception("could not cut a failed append off %s", self.pending_path)
            raise JournalError(
                f"cannot append to the journal {self.pending_path}: {error}",
                hint="free disk space on the journal's disk; records not yet written are kept "
                "in memory for as long as the writer queue holds them",
            ) from None
        self._pending_count += len(payloads)

    def iter_pending(self, *, chunk_size: int) -> Iterator[list[dict[str, Any]]]:
        """Yield the journal's records in order, ``chunk_size`` at a time.

        Records appended while iterating are yielded too, after the older ones.
        """
        offset = 0
        while True:
            with open(self.pending_path, "rb") as file:
                file.seek(offset)
                data = file.read()
            if not data:
                return
            chunk: list[dict[str, Any]] = []
            position = 0
            while position + _HEADER.size <= len(data):
                _, length, _ = _HEADER.unpack_from(data, position)
                start = position + _HEADER.size
                chunk.append(json.loads(data[start : start + length].decode("utf-8")))
                position = start + length
                if len(chunk) == chunk_size:
                    yield chunk
                    chunk = []
            offset += position
            if chunk:
                yield chunk
            if position == 0:
                return

    def clear(self) -> None:
        """Empty the journal after every record in it reached the database."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self._pending_count = 0

    def reject(self, payload: dict[str, Any], *, reason: str) -> None:
        """Keep a record the database refused (e.g. it names an unknown roll) for a person."""
        frame = encode_frame({"reason": reason, "record": payload})
        with open(self.rejected_path, "ab") as file:
            file.write(frame)
            file.flush()
            os.fsync(file.fileno())

    def rejected_count(self) -> int:
        """Records kept in ``rejected.journal``."""
        return len(read_frames(self.rejected_path)[0])

    def close(self) -> None:
        """Close the files and release the lock."""
        os.close(self._fd)
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)


def count_pending(directory: str | Path) -> int:
    """Records waiting in a journal folder (read-only; no lock taken)."""
    return len(read_frames(Path(directory) / PENDING_NAME)[0])
