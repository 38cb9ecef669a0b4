"""Image retention: delete images of reviewed defects by age and by store size.

Unreviewed defects keep their images whatever the limits say: QA has not seen
them yet. Defect rows are never deleted; a row whose images were deleted keeps
their paths and hashes and gets ``images_deleted_at``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from station.store.config import RetentionConfig
from station.store.images import ImageStore
from station.store.models import Defect
from station.store.records import ReviewStatus, utc_now
from station.store.repository import DefectRepository

log = logging.getLogger(__name__)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What a retention pass did.

    Attributes:
        defects_cleared: Reviewed defects whose images were deleted.
        bytes_freed: Bytes of image files deleted.
        store_bytes: Size of the image store afterwards.
        over_limit_bytes: How far the store is still above ``max_store_bytes``
            (images of unreviewed defects, which are never deleted).
    """

    defects_cleared: int
    bytes_freed: int
    store_bytes: int
    over_limit_bytes: int


def apply_retention(
    repository: DefectRepository,
    images: ImageStore,
    policy: RetentionConfig,
    *,
    now: datetime | None = None,
) -> RetentionReport:
    """Delete images of reviewed defects older than the age limit, then the oldest
    ones until the store is below the size limit."""
    now = now or utc_now()
    cutoff = now - timedelta(days=policy.max_age_days) if policy.max_age_days is not None else None
    cleared = freed = 0
    candidates = (
        select(Defect.id, Defect.detected_at, Defect.crop_path, Defect.heatmap_path)
        .where(
            Defect.review_status != ReviewStatus.UNREVIEWED.value,
            Defect.images_deleted_at.is_(None),
            or_(Defect.crop_path.is_not(None), Defect.heatmap_path.is_not(None)),
        )
        .order_by(Defect.detected_at, Defect.id)
    )
    last: tuple[datetime, int] | None = None
    while True:
        statement = candidates.limit(_CHUNK)
        if last is not None:
            statement = statement.where(
                or_(
                    Defect.detected_at > last[0],
                    (Defect.detected_at == last[0]) & (Defect.id > last[1]),
                )
            )
        with repository.engine.connect() as connection:
            rows = connection.execute(statement).all()
        if not rows:
            break
        chosen = []
        planned_bytes = images.usage_bytes()
        for row in rows:
            too_old = cutoff is not None and row.detected_at < cutoff
            over_size = (
                policy.max_store_bytes is not None and planned_bytes > policy.max_store_bytes
            )
            if not (too_old or over_size):
                break
            chosen.append(row)
            planned_bytes -= sum(images.size_of(p) for p in (row.crop_path, row.heatmap_path) if p)
        if chosen:
            # Mark the rows first: a crash before the files go leaves orphan files, never
            # rows that point at deleted images without saying so.
            with repository.engine.begin() as connection:
                connection.execute(
                    update(Defect)
                    .where(Defect.id.in_([r.id for r in chosen]))
                    .values(images_deleted_at=now, image_bytes=0)
                )
            for row in chosen:
                for path in (row.crop_path, row.heatmap_path):
                    if path is not None:
                        freed += images.delete(path)
            cleared += len(chosen)
        done_ids = chosen
        if len(done_ids) < len(rows):
            break  # the rest is younger than the cutoff and the store is small enough
        last = (rows[-1].detected_at, rows[-1].id)
    store_bytes = images.usage_bytes()
    over = max(0, store_bytes - policy.max_store_bytes) if policy.max_store_bytes is not None else 0
    if over:
        log.warning(
            "image store is %d bytes over its limit with only unreviewed defects' images "
            "left; review them so retention may delete theirs",
            over,
        )
    return RetentionReport(
        defects_cleared=cleared, bytes_freed=freed, store_bytes=store_bytes, over_limit_bytes=over
    )
