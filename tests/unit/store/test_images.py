"""The image store: atomic writes, content hashes, paths that cannot escape, size limit."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from station.store.errors import (
    ImageCorruptError,
    ImageMissingError,
    ImageStoreFullError,
    InvalidRecordError,
    UnsafeImagePathError,
)
from station.store.images import PNG_SIGNATURE, ImageStore


def _png(size: int, seed: int = 0) -> bytes:
    return (
        PNG_SIGNATURE + os.urandom(size - len(PNG_SIGNATURE))
        if seed
        else PNG_SIGNATURE + b"x" * (size - 8)
    )


def test_put_writes_the_bytes_atomically_with_their_hash(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "img")
    roll, key = uuid.uuid4(), uuid.uuid4()
    data = _png(500, seed=1)
    stored = store.put(roll_key=roll, defect_key=key, kind="crop", data=data)
    store.sync()
    assert stored.path == f"{roll}/{key}-crop.png"
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size_bytes == 500
    assert store.read(stored.path, expected_sha256=stored.sha256) == data
    assert list((tmp_path / "img" / ".tmp").iterdir()) == []  # no temp files left behind
    assert store.usage_bytes() == 500


def test_paths_cannot_escape_the_root(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "img")
    outside = tmp_path / "secret.png"
    outside.write_bytes(_png(20))
    for bad in ("../secret.png", "/etc/passwd", "a/../../secret.png", "", "a\\..\\b.png"):
        with pytest.raises(UnsafeImagePathError):
            store.read(bad)
    (tmp_path / "img" / "link").symlink_to(tmp_path)  # a link that points out of the store
    with pytest.raises(UnsafeImagePathError):
        store.read("link/secret.png")
    with pytest.raises(UnsafeImagePathError):
        store.delete("../secret.png")
    assert outside.exists()


def test_size_limit_raises_full_and_deleting_frees_space(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "img", max_bytes=1000)
    roll = uuid.uuid4()
    first = store.put(roll_key=roll, defect_key=uuid.uuid4(), kind="crop", data=_png(600))
    with pytest.raises(ImageStoreFullError) as raised:
        store.put(roll_key=roll, defect_key=uuid.uuid4(), kind="heatmap", data=_png(600))
    assert raised.value.hint
    assert store.delete(first.path) == 600 and store.usage_bytes() == 0
    store.put(roll_key=roll, defect_key=uuid.uuid4(), kind="crop", data=_png(600))


def test_usage_is_scanned_from_disk_on_open(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "img")
    for _ in range(3):
        store.put(roll_key=uuid.uuid4(), defect_key=uuid.uuid4(), kind="crop", data=_png(100))
    assert ImageStore(tmp_path / "img").usage_bytes() == 300


def test_missing_corrupt_and_non_png_images_raise(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "img")
    stored = store.put(roll_key=uuid.uuid4(), defect_key=uuid.uuid4(), kind="crop", data=_png(64))
    (tmp_path / "img" / stored.path).write_bytes(_png(64, seed=2))
    with pytest.raises(ImageCorruptError):
        store.read(stored.path, expected_sha256=stored.sha256)
    (tmp_path / "img" / stored.path).unlink()
    with pytest.raises(ImageMissingError):
        store.read(stored.path)
    with pytest.raises(InvalidRecordError):
        store.put(roll_key=uuid.uuid4(), defect_key=uuid.uuid4(), kind="crop", data=b"GIF89a....")
    with pytest.raises(InvalidRecordError):
        store.put(roll_key=uuid.uuid4(), defect_key=uuid.uuid4(), kind="thumb", data=_png(64))  # type: ignore[arg-type]
