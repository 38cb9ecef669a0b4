"""Recipes (fabric article -> model and settings, versioned) and the recipe a run used.

Revision ID: 0004_recipes
Revises: 0003_roll_recovery
Create Date: 2026-12-03

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004_recipes"
down_revision: str | Sequence[str] | None = "0003_roll_recovery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "recipes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("threshold_factor", sa.Float(), nullable=False),
        sa.Column("sensitivity_min", sa.Float(), nullable=False),
        sa.Column("sensitivity_max", sa.Float(), nullable=False),
        sa.Column("grade_limit_points_per_100yd2", sa.Float(), nullable=False),
        sa.Column("published_by", sa.String(length=128), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("version >= 1", name=op.f("ck_recipes_version_positive")),
        sa.CheckConstraint(
            "threshold_factor > 0", name=op.f("ck_recipes_threshold_factor_positive")
        ),
        sa.CheckConstraint(
            "sensitivity_min > 0 AND sensitivity_min <= sensitivity_max",
            name=op.f("ck_recipes_sensitivity_range"),
        ),
        sa.CheckConstraint(
            "grade_limit_points_per_100yd2 >= 0", name=op.f("ck_recipes_grade_limit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipes")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_recipes_name_version")),
    )
    op.create_table(
        "recipe_articles",
        sa.Column("recipe_id", sa.Integer(), nullable=False),
        sa.Column("article", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["recipe_id"],
            ["recipes.id"],
            name=op.f("fk_recipe_articles_recipe_id_recipes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("recipe_id", "article", name=op.f("pk_recipe_articles")),
    )
    op.create_index(
        op.f("ix_recipe_articles_article"), "recipe_articles", ["article"], unique=False
    )
    with op.batch_alter_table("inspection_runs") as batch_op:
        batch_op.add_column(sa.Column("recipe_name", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("recipe_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("inspection_runs") as batch_op:
        batch_op.drop_column("recipe_version")
        batch_op.drop_column("recipe_name")
    op.drop_index(op.f("ix_recipe_articles_article"), table_name="recipe_articles")
    op.drop_table("recipe_articles")
    op.drop_table("recipes")
