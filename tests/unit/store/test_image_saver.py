"""A full image store gives one "full" and one "space again" event, with hysteresis."""

from __future__ import annotations

import uuid
from pathlib import Path

from station.store.image_saver import DefectImageSaver
from station.store.images import PNG_SIGNATURE, ImageStore
from station.store.records import DefectRecord, EventKind

IMAGE_BYTES = 1000
MARGIN_BYTES = 100_000
# Free space of a disk hovering around the size of one image, then freed by a person.
HOVERING_FREE = [5000, 3000, 1500, 900, 1200, 800, 1100, 950, 1300, 700, 1050, 1600, 900]
FREED = [250_000, 240_000]


class FakeDisk:
    """Free space the test sets before each defect."""

    def __init__(self) -> None:
        self.free = 0

    def __call__(self, _path: Path) -> int:
        return self.free


def _record(index: int) -> DefectRecord:
    return DefectRecord(
        roll_key=uuid.UUID(int=1),
        along_mm=10.0 * index,
        across_mm=100.0,
        length_mm=5.0,
        width_mm=5.0,
        area_mm2=20.0,
        peak_score=0.9,
        points=1,
        fabric_class="denim",
    )


def _save_through(saver: DefectImageSaver, disk: FakeDisk, free_sequence: list[int]) -> list[bool]:
    crop = PNG_SIGNATURE + b"x" * (IMAGE_BYTES - len(PNG_SIGNATURE))
    stored = []
    for index, free in enumerate(free_sequence):
        disk.free = free
        defect = saver.save(_record(index), crop_png=crop, heatmap_png=None)
        stored.append(defect.crop_path is not None)
    return stored


def _saver(tmp_path: Path, resume_free_bytes: int) -> tuple[DefectImageSaver, FakeDisk]:
    disk = FakeDisk()
    images = ImageStore(tmp_path / "images", fsync=False, disk_free=disk)
    return DefectImageSaver(images, resume_free_bytes=resume_free_bytes), disk


def test_a_disk_hovering_at_its_limit_gives_one_full_and_one_space_again_event(
    tmp_path: Path,
) -> None:
    saver, disk = _saver(tmp_path, MARGIN_BYTES)
    stored = _save_through(saver, disk, HOVERING_FREE + FREED)
    kinds = [event.kind for event in saver.take_events()]
    assert kinds == [EventKind.IMAGE_STORE_FULL, EventKind.IMAGE_STORE_RECOVERED]
    assert stored == [True] * 3 + [False] * (len(HOVERING_FREE) - 3) + [True] * len(FREED)
    assert saver.skipped == len(HOVERING_FREE) - 3


def test_the_space_again_event_counts_the_images_not_stored(tmp_path: Path) -> None:
    saver, disk = _saver(tmp_path, MARGIN_BYTES)
    _save_through(saver, disk, HOVERING_FREE + FREED)
    recovered = saver.take_events()[-1]
    assert recovered.count == len(HOVERING_FREE) - 3
    assert "space again" in recovered.message


def test_without_a_margin_the_same_disk_flaps(tmp_path: Path) -> None:
    """The control: the sequence above really does hover across the limit."""
    saver, disk = _saver(tmp_path, 0)
    _save_through(saver, disk, HOVERING_FREE + FREED)
    full = [e for e in saver.take_events() if e.kind == EventKind.IMAGE_STORE_FULL]
    assert len(full) >= 4


def test_the_margin_is_capped_at_a_tenth_of_the_size_limit(tmp_path: Path) -> None:
    """A small size limit (ten images) recovers once a tenth of it, plus an image, is free."""
    saver, disk = _saver(tmp_path, MARGIN_BYTES)
    saver.images.max_bytes = 10 * IMAGE_BYTES
    crop = PNG_SIGNATURE + b"x" * (IMAGE_BYTES - len(PNG_SIGNATURE))
    disk.free = 10**9
    paths = [saver.save(_record(i), crop_png=crop, heatmap_png=None).crop_path for i in range(11)]
    assert paths[-1] is None and None not in paths[:-1]  # the limit holds ten images
    saver.images.delete(paths[0])  # retention frees one image: 1,000 free < 1,000 + 1,000
    assert saver.save(_record(20), crop_png=crop, heatmap_png=None).crop_path is None
    saver.images.delete(paths[1])  # 2,000 free >= 1,000 + 1,000
    assert saver.save(_record(21), crop_png=crop, heatmap_png=None).crop_path is not None
    kinds = [event.kind for event in saver.take_events()]
    assert kinds == [EventKind.IMAGE_STORE_FULL, EventKind.IMAGE_STORE_RECOVERED]
