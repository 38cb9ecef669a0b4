"""QA reviews as training data: the crops ``station train`` learns from and validates on.

``station train --normals-from-store URL --fabric A`` trains on the crops of
defects QA marked **false alarm** as extra good fabric; ``--validation-from-store
URL --fabric A`` scores the crops of **QA-confirmed** defects at every
validation. This module reads the store and writes what training reads: the
verified crops as PNG files in a folder with a ``manifest.json`` (format in
``training/qa_feedback.py``). Training never imports the store.

**Which defects.** A defect belongs to article A when its *roll's* fabric type
is A (what the operator or the recipe declared for the roll), not when the
model matched it to class A (``fabric_class``, the model's guess, which a
false alarm may have got wrong). The article must be a class of the training
data; the crop is trained on (or scored) as fabric of that class.

**Which crops.** Each crop is read from the image store and checked against
its recorded SHA-256. Defects without a crop, with images deleted by
retention, or whose file is missing, changed or outside the store are skipped
and counted; one warning line gives the counts.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from station.store.config import load_store_config
from station.store.engine import safe_url
from station.store.errors import (
    ImageCorruptError,
    ImageMissingError,
    ImageStoreError,
    StoreError,
    UnsafeImagePathError,
)
from station.store.images import ImageStore
from station.store.models import Defect, FabricType, Roll
from station.store.records import ReviewStatus, utc_now
from station.store.repository import DefectRepository
from training.public import ConfigError

log = logging.getLogger(__name__)

FEEDBACK_DIR = "qa_feedback"
MANIFEST = "manifest.json"
DEFAULT_MIN_CONFIRMED = 5
_SKIP_REASONS = {
    ImageMissingError: "missing",
    ImageCorruptError: "corrupt",
    UnsafeImagePathError: "outside the image store",
}


class TooFewReviewedDefectsError(StoreError):
    """The store holds too few reviewed defects with usable crops for the articles asked."""


@dataclass(frozen=True)
class ReviewedCrop:
    """One reviewed defect's crop as the store records it."""

    key: uuid.UUID
    article: str
    crop_path: str | None
    crop_sha256: str | None
    images_deleted_at: datetime | None
    reviewed_at: datetime | None


@dataclass
class CropExport:
    """What :func:`export_reviewed_crops` wrote.

    Attributes:
        manifest: The manifest file (its folder holds the crops).
        exported: Crops written.
        skipped: Defects left out, by reason.
        newest_review_at: When the newest review among the exported crops was made.
    """

    manifest: Path
    exported: int
    skipped: dict[str, int] = field(default_factory=dict)
    newest_review_at: datetime | None = None

    def skipped_text(self) -> str:
        """``"1 missing, 2 corrupt"``."""
        return ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items()))


def reviewed_crops(
    repository: DefectRepository, *, articles: list[str], status: ReviewStatus
) -> list[ReviewedCrop]:
    """The defects of rolls of these fabric types with this review status, oldest first."""
    statement = (
        select(
            Defect.key,
            FabricType.name.label("article"),
            Defect.crop_path,
            Defect.crop_sha256,
            Defect.images_deleted_at,
            Defect.reviewed_at,
        )
        .join(Roll, Defect.roll_id == Roll.id)
        .join(FabricType, Roll.fabric_type_id == FabricType.id)
        .where(Defect.review_status == status.value, FabricType.name.in_(articles))
        .order_by(Defect.id)
    )
    with repository.engine.connect() as connection:
        return [ReviewedCrop(**row._asdict()) for row in connection.execute(statement)]


def export_reviewed_crops(
    repository: DefectRepository,
    images: ImageStore,
    out_dir: Path,
    *,
    articles: list[str],
    status: ReviewStatus,
    store_url: str,
) -> CropExport:
    """Write the verified crops of these reviewed defects and their manifest into ``out_dir``.

    ``out_dir`` is emptied first (it is the command's own folder). Crops go to
    ``out_dir/<number>_<defect key>.png``.
    """
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    skipped: Counter[str] = Counter()
    crops, newest = [], None
    for crop in reviewed_crops(repository, articles=articles, status=status):
        if crop.crop_path is None or crop.images_deleted_at is not None:
            skipped["no crop stored" if crop.crop_path is None else "deleted by retention"] += 1
            continue
        try:
            data = images.read(crop.crop_path, expected_sha256=crop.crop_sha256)
        except ImageStoreError as error:
            skipped[_SKIP_REASONS.get(type(error), "unreadable")] += 1
            continue
        relative = f"{len(crops):05d}_{crop.key}.png"
        (out_dir / relative).write_bytes(data)
        crops.append({"path": relative, "fabric": crop.article, "defect_key": str(crop.key)})
        if crop.reviewed_at is not None and (newest is None or crop.reviewed_at > newest):
            newest = crop.reviewed_at
    result = CropExport(
        manifest=out_dir / MANIFEST,
        exported=len(crops),
        skipped=dict(skipped),
        newest_review_at=newest,
    )
    source = {
        "store_url": safe_url(store_url),
        "articles": articles,
        "review_status": status.value,
        "exported": result.exported,
        "skipped": result.skipped,
        "newest_review_at": newest.isoformat() if newest else None,
        "exported_at": utc_now().isoformat(),
    }
    result.manifest.write_text(
        json.dumps({"source": source, "crops": crops}, indent=2) + "\n", encoding="utf-8"
    )
    if skipped:
        log.warning(
            "%d %s crop(s) of %s skipped (%s); see %s",
            sum(skipped.values()),
            status.value.replace("_", " "),
            ", ".join(articles),
            result.skipped_text(),
            result.manifest,
        )
    return result


@dataclass
class TrainingFeedback:
    """What ``station train`` passes on to training.

    Attributes:
        fields: TrainConfig values (``extra_normals``, ``confirmed_defects``: manifest paths).
        messages: Lines to print (what was exported, from where).
    """

    fields: dict[str, Path] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)


def prepare_training_feedback(
    model_dir: Path,
    *,
    normals_url: str | None,
    validation_url: str | None,
    articles: list[str] | None,
    image_root: Path | None = None,
    store_config: Path | None = None,
    min_confirmed: int = DEFAULT_MIN_CONFIRMED,
    resume: bool = False,
) -> TrainingFeedback:
    """Export the QA feedback asked for into ``model_dir/qa_feedback/``.

    Args:
        model_dir: The model folder training writes.
        normals_url: Store whose false alarms become extra good fabric (None: not used).
        validation_url: Store whose confirmed defects join validation (None: not used).
        articles: Fabric articles (roll fabric types) whose defects are used.
        image_root: The store's image folder (beats ``store_config``'s).
        store_config: A station.yaml (its ``store`` section) naming the image folder.
        min_confirmed: Fewest confirmed defects with usable crops that validation accepts.
        resume: Reuse the manifests exported when the run started, so it trains on
            the same crops (the store is not read again).

    Raises:
        ConfigError: no articles, no image folder, or feedback options without a store.
        TooFewReviewedDefectsError: no usable false alarm, or fewer than ``min_confirmed``
            confirmed defects.
        StoreUrlError, DatabaseUnreachableError, SchemaError: the store cannot be read.
    """
    feedback = TrainingFeedback()
    wanted = [
        (name, url, status)
        for name, url, status in (
            ("extra_normals", normals_url, ReviewStatus.FALSE_ALARM),
            ("confirmed_defects", validation_url, ReviewStatus.CONFIRMED),
        )
        if url is not None
    ]
    if not wanted:
        if articles or image_root is not None or store_config is not None:
            raise ConfigError(
                "--fabric, --image-root and --store-config are used only with QA feedback",
                hint="add --normals-from-store URL and/or --validation-from-store URL",
            )
        return feedback
    articles = [a.strip() for a in articles or [] if a.strip()]
    if not articles:
        raise ConfigError(
            "--normals-from-store and --validation-from-store need the fabric articles",
            hint="pass --fabric A[,B] (the fabric types of the rolls whose reviews to use)",
        )
    images = _image_store(image_root, store_config)
    for name, url, status in wanted:
        folder = Path(model_dir) / FEEDBACK_DIR / status.value
        if resume and (folder / MANIFEST).is_file():
            feedback.fields[name] = folder / MANIFEST
            feedback.messages.append(f"QA feedback: reusing {folder / MANIFEST} (--resume)")
            continue
        repository = DefectRepository.connect(url)
        try:
            export = export_reviewed_crops(
                repository, images, folder, articles=articles, status=status, store_url=url
            )
        finally:
            repository.close()
        needed = min_confirmed if status is ReviewStatus.CONFIRMED else 1
        if export.exported < needed:
            raise _too_few(export, articles, status, needed)
        feedback.fields[name] = export.manifest
        newest = export.newest_review_at.isoformat() if export.newest_review_at else "unknown"
        feedback.messages.append(
            f"QA feedback: {export.exported} {status.value.replace('_', ' ')} crop(s) of "
            f"{', '.join(articles)} from {safe_url(url)} (newest review {newest})"
            + (f"; skipped {export.skipped_text()}" if export.skipped else "")
        )
    return feedback


def _image_store(image_root: Path | None, store_config: Path | None) -> ImageStore:
    if store_config is not None and not Path(store_config).is_file():
        raise ConfigError(f"--store-config {store_config} does not exist", hint="check the path")
    root = load_store_config(store_config, image_root=image_root).image_root
    if not Path(root).is_dir():
        raise ConfigError(
            f"the image store folder {root} does not exist",
            hint="pass --image-root (the store's image_root) or --store-config station.yaml",
        )
    return ImageStore(root)


def _too_few(
    export: CropExport, articles: list[str], status: ReviewStatus, needed: int
) -> TooFewReviewedDefectsError:
    what = "QA-confirmed defect" if status is ReviewStatus.CONFIRMED else "false alarm"
    option = (
        "--validation-from-store" if status is ReviewStatus.CONFIRMED else "--normals-from-store"
    )
    skipped = f"; {export.skipped_text()} skipped" if export.skipped else ""
    hint = "review more defects of these articles in station-review, or add articles to --fabric"
    if status is ReviewStatus.CONFIRMED:
        hint += ", or lower --min-confirmed-defects"
    return TooFewReviewedDefectsError(
        f"the store holds {export.exported} {what}(s) with a usable crop for fabric "
        f"{', '.join(articles)}; {option} needs at least {needed}{skipped}",
        hint=hint,
    )
