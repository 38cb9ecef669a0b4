"""Saving a defect's images for the writer: a full image store becomes events, not errors."""

from __future__ import annotations

import logging

from station.store.errors import ImageStoreError, ImageStoreFullError, InvalidRecordError
from station.store.images import ImageStore
from station.store.records import DefectRecord, EventKind, EventRecord, Severity, StoredDefect

log = logging.getLogger(__name__)


class DefectImageSaver:
    """Puts crops and heatmaps into the image store on the writer's thread.

    When the store is full the defect is kept without its images, one
    ``image_store_full`` event is raised per episode, and an
    ``image_store_recovered`` event (with the count of images not stored) when
    images are stored again. With hysteresis: once full, no image is tried until
    the store has ``resume_free_bytes`` free (capped at a tenth of the store's
    size limit, when it has one), so a disk hovering at its limit gives one
    "full" and one "space again", not a flapping pair per image.

    Args:
        images: The image store.
        resume_free_bytes: Free space needed before images are stored again.

    Attributes:
        skipped: Images not stored since start-up.
        events: Events raised since the caller last took them.
    """

    def __init__(self, images: ImageStore, *, resume_free_bytes: int = 0) -> None:
        self.images = images
        self.resume_free_bytes = resume_free_bytes
        self.skipped = 0
        self.events: list[EventRecord] = []
        self._full = False
        self._skipped_while_full = 0

    def save(
        self, record: DefectRecord, *, crop_png: bytes | None, heatmap_png: bytes | None
    ) -> StoredDefect:
        """Store the images that fit; the returned defect names those that were stored."""
        stored: dict[str, str] = {}
        total = 0
        for kind, data in (("crop", crop_png), ("heatmap", heatmap_png)):
            if data is None:
                continue
            if self._full and not self._room_to_resume(len(data)):
                self.skipped += 1
                self._skipped_while_full += 1
                continue
            try:
                image = self.images.put(
                    roll_key=record.roll_key, defect_key=record.key, kind=kind, data=data
                )
            except ImageStoreFullError as error:
                self._on_full(record, error)
                continue
            except (ImageStoreError, InvalidRecordError) as error:
                log.error("defect %s: %s image not stored: %s", record.key, kind, error)
                self.skipped += 1
                continue
            stored[f"{kind}_path"], stored[f"{kind}_sha256"] = image.path, image.sha256
            total += image.size_bytes
            self._on_stored(record)
        return StoredDefect(record=record, image_bytes=total, **stored)

    def sync(self) -> None:
        """Flush the folders of the images saved since the last call (before their rows commit)."""
        try:
            self.images.sync()
        except OSError:
            log.exception("could not flush image folders to disk")

    def take_events(self) -> list[EventRecord]:
        """The events raised since the last call (the writer stores them)."""
        events, self.events = self.events, []
        return events

    def _room_to_resume(self, size: int) -> bool:
        margin = self.resume_free_bytes
        if self.images.max_bytes is not None:
            margin = min(margin, self.images.max_bytes // 10)
        try:
            return self.images.free_bytes() >= size + margin
        except OSError:
            log.exception("could not measure the image store's free space")
            return False

    def _on_full(self, record: DefectRecord, error: ImageStoreFullError) -> None:
        self.skipped += 1
        self._skipped_while_full += 1
        if self._full:
            return
        self._full = True
        log.error("%s; logging defects without images", error.message)
        self.events.append(
            EventRecord(
                kind=EventKind.IMAGE_STORE_FULL,
                severity=Severity.ERROR,
                roll_key=record.roll_key,
                message=f"{error.message}; defects are logged without images until space is free",
            )
        )

    def _on_stored(self, record: DefectRecord) -> None:
        if not self._full:
            return
        self._full = False
        skipped, self._skipped_while_full = self._skipped_while_full, 0
        log.warning("image store has space again; %d image(s) were not stored", skipped)
        self.events.append(
            EventRecord(
                kind=EventKind.IMAGE_STORE_RECOVERED,
                severity=Severity.WARNING,
                roll_key=record.roll_key,
                count=skipped,
                message=f"the image store has space again; {skipped} image(s) were not stored",
            )
        )
