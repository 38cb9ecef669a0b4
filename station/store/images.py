"""The image store: defect crops and heatmaps as PNG files under one root folder.

Writes are atomic for readers (temp file in the store, then rename), and
:meth:`ImageStore.sync` makes them durable: it fsyncs every file written since
its last call, in parallel so the file system can commit them together, and
then their folders. The writer calls it before it commits the defect rows, so
a row never names an image that a power cut could take back.

Paths stored in the database are relative to the root and are checked on every
use so they cannot lead outside it. A size limit (or a full disk) raises
:class:`ImageStoreFullError`; the writer then logs the defect without images
and records an event.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from station.store.errors import (
    ImageCorruptError,
    ImageMissingError,
    ImageStoreError,
    ImageStoreFullError,
    InvalidRecordError,
    UnsafeImagePathError,
)

ImageKind = Literal["crop", "heatmap"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEMP_DIR = ".tmp"
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_SYNC_THREADS = 8


@dataclass(frozen=True, slots=True)
class StoredImage:
    """An image in the store.

    Attributes:
        path: Path relative to the store root, with forward slashes.
        sha256: Hex SHA-256 of the file's bytes.
        size_bytes: File size.
    """

    path: str
    sha256: str
    size_bytes: int


def disk_free_bytes(path: Path) -> int:
    """Bytes an unprivileged process may still write on the file system holding ``path``."""
    return shutil.disk_usage(path).free


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ImageStore:
    """Crops and heatmaps on disk.

    Args:
        root: Folder of the store (created if missing).
        max_bytes: Size limit of the store (None: only the disk limits it).
        fsync: Let :meth:`sync` flush files and folders to disk (off only for tests/benchmarks).
        disk_free: How free space on the store's disk is measured (replaced in tests).

    Raises:
        ImageStoreError: the root folder cannot be created.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        max_bytes: int | None = None,
        fsync: bool = True,
        disk_free: Callable[[Path], int] = disk_free_bytes,
    ) -> None:
        self.root = Path(root).expanduser().resolve()
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._disk_free = disk_free
        try:
            (self.root / _TEMP_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ImageStoreError(
                f"cannot create the image store folder {self.root}: {error}",
                hint="set store.image_root to a writable folder",
            ) from None
        self._lock = threading.Lock()
        self._usage_bytes: int | None = None
        self._files_to_sync: list[Path] = []
        self._dirs_to_sync: set[Path] = set()
        self._sync_pool: ThreadPoolExecutor | None = None

    # -- paths -----------------------------------------------------------------
    def resolve(self, relative_path: str) -> Path:
        """The absolute path of a stored image.

        Raises:
            UnsafeImagePathError: the path is absolute, contains ``..`` or leads
                (also through a symbolic link) outside the store root.
        """
        pure = PurePosixPath(relative_path)
        if not relative_path or "\\" in relative_path or pure.is_absolute() or ".." in pure.parts:
            raise UnsafeImagePathError(
                f"image path {relative_path!r} is not a plain path inside the image store",
                hint="image paths in the database must be relative to store.image_root; "
                "the row may have been edited by hand",
            )
        full = (self.root / pure).resolve()
        if not full.is_relative_to(self.root):
            raise UnsafeImagePathError(
                f"image path {relative_path!r} leads outside the image store {self.root}",
                hint="remove the symbolic link that points out of the store",
            )
        return full

    @staticmethod
    def relative_path_for(*, roll_key: uuid.UUID, defect_key: uuid.UUID, kind: ImageKind) -> str:
        """Where a defect's image goes: ``<roll key>/<defect key>-<kind>.png``."""
        if kind not in ("crop", "heatmap"):
            raise InvalidRecordError(f"image kind must be 'crop' or 'heatmap', got {kind!r}")
        return f"{uuid.UUID(str(roll_key))}/{uuid.UUID(str(defect_key))}-{kind}.png"

    # -- size ------------------------------------------------------------------
    def usage_bytes(self) -> int:
        """Bytes the stored images take (scanned once, then tracked)."""
        with self._lock:
            if self._usage_bytes is None:
                self._usage_bytes = sum(
                    entry.stat().st_size
                    for entry in self.root.rglob("*.png")
                    if entry.is_file() and _TEMP_DIR not in entry.parts
                )
            return self._usage_bytes

    def free_bytes(self) -> int:
        """Bytes that may still be stored: the disk's free space, and the room under the limit."""
        free = self._disk_free(self.root)
        if self.max_bytes is not None:
            free = min(free, self.max_bytes - self.usage_bytes())
        return max(0, free)

    def _reserve(self, size: int) -> None:
        used = self.usage_bytes()
        if self.max_bytes is not None and used + size > self.max_bytes:
            raise ImageStoreFullError(
                f"the image store {self.root} is full ({used} of {self.max_bytes} bytes used)",
                hint="review defects so retention may delete their images, raise "
                "store.image_store_max_bytes, or free disk space",
            )
        free = self._disk_free(self.root)
        if free < size:
            raise ImageStoreFullError(
                f"the disk under the image store {self.root} is full ({free} bytes free)",
                hint="free disk space, or let retention delete images of reviewed defects",
            )

    # -- writing ---------------------------------------------------------------
    def put(
        self, *, roll_key: uuid.UUID, defect_key: uuid.UUID, kind: ImageKind, data: bytes
    ) -> StoredImage:
        """Store one PNG atomically; call :meth:`sync` before relying on it after a crash.

        Raises:
            InvalidRecordError: ``data`` is not a PNG.
            ImageStoreFullError: the size limit would be passed, or the disk is full.
            ImageStoreError: another write error.
        """
        if not isinstance(data, bytes | bytearray | memoryview) or bytes(data[:8]) != PNG_SIGNATURE:
            raise InvalidRecordError(f"the {kind} image must be PNG bytes")
        relative = self.relative_path_for(roll_key=roll_key, defect_key=defect_key, kind=kind)
        final = self.resolve(relative)
        self._reserve(len(data))
        temp = self.root / _TEMP_DIR / f"{uuid.uuid4()}.tmp"
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            old_size = final.stat().st_size if final.exists() else 0
            with open(temp, "wb") as file:
                file.write(data)
            os.replace(temp, final)
        except OSError as error:
            temp.unlink(missing_ok=True)
            if error.errno in _FULL_ERRNOS:
                raise ImageStoreFullError(
                    f"the disk under the image store {self.root} is full: {error}",
                    hint="free disk space, or let retention delete images of reviewed defects",
                ) from None
            raise ImageStoreError(
                f"cannot write image {final}: {error}", hint="check the folder's rights"
            ) from None
        with self._lock:
            if self._usage_bytes is not None:
                self._usage_bytes += len(data) - old_size
            self._files_to_sync.append(final)
            self._dirs_to_sync.add(final.parent)
        return StoredImage(
            path=relative, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data)
        )

    def sync(self) -> None:
        """Flush the images put since the last call, then their folders, to disk.

        Raises:
            OSError: the disk failed to flush (the images may be lost in a power cut).
        """
        with self._lock:
            files, self._files_to_sync = self._files_to_sync, []
            directories, self._dirs_to_sync = self._dirs_to_sync, set()
        if not self.fsync or not files:
            return
        if self._sync_pool is None:
            self._sync_pool = ThreadPoolExecutor(
                max_workers=_SYNC_THREADS, thread_name_prefix="img-sync"
            )
        # Concurrent fsyncs share the file system's journal commits: far faster than in turn.
        list(self._sync_pool.map(_fsync_path, files))
        list(self._sync_pool.map(_fsync_path, directories))

    def close(self) -> None:
        """Stop the flush threads (the store stays usable; they start again when needed)."""
        if self._sync_pool is not None:
            self._sync_pool.shutdown(wait=True)
            self._sync_pool = None

    # -- reading and deleting --------------------------------------------------
    def read(self, relative_path: str, *, expected_sha256: str | None = None) -> bytes:
        """The bytes of a stored image, checked against its hash when one is given.

        Raises:
            UnsafeImagePathError, ImageMissingError, ImageCorruptError.
        """
        path = self.resolve(relative_path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ImageMissingError(
                f"image {relative_path} is not in the image store {self.root}",
                hint="it was deleted by retention or by hand; the defect row is still valid",
            ) from None
        if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
            raise ImageCorruptError(
                f"image {relative_path} does not match its recorded hash",
                hint="the file was changed or damaged on disk; do not use it for training",
            )
        return data

    def size_of(self, relative_path: str) -> int:
        """Size of a stored image in bytes (0 if it is not there)."""
        try:
            return self.resolve(relative_path).stat().st_size
        except FileNotFoundError:
            return 0

    def delete(self, relative_path: str) -> int:
        """Delete a stored image; returns the bytes freed (0 if it was already gone)."""
        path = self.resolve(relative_path)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        with self._lock:
            if self._usage_bytes is not None:
                self._usage_bytes -= size
        return size
