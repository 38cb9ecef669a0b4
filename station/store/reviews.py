"""QA review actions: confirm, reject as false alarm, relabel; each recorded with who and when."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine, select, update

from station.store.errors import NotFoundError, ReviewError
from station.store.models import Defect, ReviewAction
from station.store.records import ReviewStatus, utc_now
from station.store.views import DefectView, ReviewActionView

MAX_NAME_LENGTH = 128


class ReviewActionKind(StrEnum):
    CONFIRM = "confirm"  # a real defect (optionally with a type label)
    REJECT = "reject"  # a false alarm
    RELABEL = "relabel"  # a real defect of another type


_STATUS_AFTER = {
    ReviewActionKind.CONFIRM: ReviewStatus.CONFIRMED,
    ReviewActionKind.REJECT: ReviewStatus.FALSE_ALARM,
    ReviewActionKind.RELABEL: ReviewStatus.CONFIRMED,
}


def _check_name(what: str, value: str | None, *, required: bool) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_LENGTH:
        raise ReviewError(
            f"{what} must be a non-empty name of at most {MAX_NAME_LENGTH} characters, "
            f"got {value!r}",
            hint=f"give the {what}",
        )


class ReviewsMixin:
    """Review methods of :class:`~station.store.repository.DefectRepository`."""

    _engine: Engine
    get_defect: Callable[[uuid.UUID], DefectView]  # from QueriesMixin

    def review_defect(
        self,
        key: uuid.UUID,
        *,
        action: ReviewActionKind | str,
        reviewer: str,
        defect_type: str | None = None,
        comment: str | None = None,
        at: datetime | None = None,
    ) -> DefectView:
        """Apply one review action and record it in the defect's review history.

        Args:
            key: The defect.
            action: confirm, reject (false alarm) or relabel.
            reviewer: Who reviewed (a name or user id).
            defect_type: Type label; required for relabel, optional for confirm.
            comment: Free text kept with the action.
            at: When (default: now).

        Raises:
            ReviewError: empty reviewer, missing label for relabel, or a label on reject.
            NotFoundError: no defect has this key.
        """
        action = ReviewActionKind(action)
        _check_name("reviewer", reviewer, required=True)
        _check_name("defect type", defect_type, required=action is ReviewActionKind.RELABEL)
        if action is ReviewActionKind.REJECT and defect_type is not None:
            raise ReviewError(
                "a false alarm has no defect type", hint="reject without a label, or relabel"
            )
        at = at or utc_now()
        values = {
            "review_status": _STATUS_AFTER[action].value,
            "reviewer": reviewer,
            "reviewed_at": at,
            "review_comment": comment,
        }
        if defect_type is not None:
            values["defect_type"] = defect_type
        with self._engine.begin() as connection:
            defect_id = connection.execute(
                update(Defect).where(Defect.key == key).values(**values).returning(Defect.id)
            ).scalar_one_or_none()
            if defect_id is None:
                raise NotFoundError(
                    f"no defect with key {key}", hint="it may have been logged on another database"
                )
            connection.execute(
                ReviewAction.__table__.insert().values(
                    defect_id=defect_id,
                    action=action.value,
                    reviewer=reviewer,
                    acted_at=at,
                    defect_type=defect_type,
                    comment=comment,
                )
            )
        return self.get_defect(key)

    def confirm_defect(
        self,
        key: uuid.UUID,
        *,
        reviewer: str,
        defect_type: str | None = None,
        comment: str | None = None,
    ) -> DefectView:
        """Mark a defect as real, optionally setting its type label."""
        return self.review_defect(
            key,
            action=ReviewActionKind.CONFIRM,
            reviewer=reviewer,
            defect_type=defect_type,
            comment=comment,
        )

    def reject_defect(
        self, key: uuid.UUID, *, reviewer: str, comment: str | None = None
    ) -> DefectView:
        """Mark a defect as a false alarm (it no longer counts in the grade)."""
        return self.review_defect(
            key, action=ReviewActionKind.REJECT, reviewer=reviewer, comment=comment
        )

    def relabel_defect(
        self, key: uuid.UUID, *, reviewer: str, defect_type: str, comment: str | None = None
    ) -> DefectView:
        """Give a real defect another type label."""
        return self.review_defect(
            key,
            action=ReviewActionKind.RELABEL,
            reviewer=reviewer,
            defect_type=defect_type,
            comment=comment,
        )

    def review_history(self, key: uuid.UUID) -> list[ReviewActionView]:
        """Every review action on a defect, oldest first."""
        statement = (
            select(
                Defect.key.label("defect_key"),
                ReviewAction.action,
                ReviewAction.reviewer,
                ReviewAction.acted_at,
                ReviewAction.defect_type,
                ReviewAction.comment,
            )
            .join(Defect, ReviewAction.defect_id == Defect.id)
            .where(Defect.key == key)
            .order_by(ReviewAction.acted_at, ReviewAction.id)
        )
        with self._engine.connect() as connection:
            return [ReviewActionView(**row._asdict()) for row in connection.execute(statement)]
