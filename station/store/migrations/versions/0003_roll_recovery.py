"""Roll recovery: durable coverage checkpoints per run, and rolls continued under the same lot.

``inspection_runs`` gains where the run starts on the roll and its latest
coverage checkpoint (how far inspection got, inspected and uninspected
totals); ``roll_continuations`` maps the key of a later start of the same lot
to the roll it continues, with where that run starts on the roll.

Revision ID: 0003_roll_recovery
Revises: 0002
Create Date: 2026-12-03

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003_roll_recovery"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHECKPOINT_COLUMNS = (
    ("start_mm", sa.Float()),
    ("inspected_until_line", sa.Integer()),
    ("inspected_until_mm", sa.Float()),
    ("acquired_until_mm", sa.Float()),
    ("inspected_mm", sa.Float()),
    ("uninspected_mm", sa.Float()),
    ("checkpoint_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "roll_continuations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Uuid(), nullable=False),
        sa.Column("roll_id", sa.Integer(), nullable=False),
        sa.Column("start_mm", sa.Float(), nullable=False),
        sa.Column("base_inspected_mm", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["roll_id"], ["rolls.id"], name=op.f("fk_roll_continuations_roll_id_rolls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roll_continuations")),
        sa.UniqueConstraint("key", name=op.f("uq_roll_continuations_key")),
    )
    op.create_index(
        op.f("ix_roll_continuations_roll_id"), "roll_continuations", ["roll_id"], unique=False
    )
    with op.batch_alter_table("inspection_runs") as batch_op:
        for name, column_type in _CHECKPOINT_COLUMNS:
            batch_op.add_column(sa.Column(name, column_type, nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("inspection_runs") as batch_op:
        for name, _ in reversed(_CHECKPOINT_COLUMNS):
            batch_op.drop_column(name)
    op.drop_index(op.f("ix_roll_continuations_roll_id"), table_name="roll_continuations")
    op.drop_table("roll_continuations")
