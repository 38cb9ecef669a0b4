"""Initial schema: stations, cameras, fabric types, model versions, rolls, runs, defects,
review actions and events, with the indexes the QA queries use.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22

"""
from collections.abc import Sequence
from typing import Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('fabric_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('recipe', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fabric_types')),
    sa.UniqueConstraint('name', name=op.f('uq_fabric_types_name'))
    )
    op.create_table('model_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('classes', sa.JSON(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('sha256', name=op.f('uq_model_versions_sha256'))
    )
    op.create_table('stations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stations')),
    sa.UniqueConstraint('name', name=op.f('uq_stations_name'))
    )
    op.create_table('cameras',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=128), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_cameras_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cameras')),
    sa.UniqueConstraint('station_id', 'serial', name=op.f('uq_cameras_station_id_serial'))
    )
    op.create_table('rolls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.Uuid(), nullable=False),
    sa.Column('lot_number', sa.String(length=128), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('fabric_type_id', sa.Integer(), nullable=False),
    sa.Column('width_mm', sa.Float(), nullable=False),
    sa.Column('length_inspected_mm', sa.Float(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('width_mm > 0', name=op.f('ck_rolls_width_positive')),
    sa.ForeignKeyConstraint(['fabric_type_id'], ['fabric_types.id'], name=op.f('fk_rolls_fabric_type_id_fabric_types')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_rolls_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rolls')),
    sa.UniqueConstraint('key', name=op.f('uq_rolls_key'))
    )
    op.create_index(op.f('ix_rolls_lot_number'), 'rolls', ['lot_number'], unique=False)
    op.create_index(op.f('ix_rolls_started_at'), 'rolls', ['started_at'], unique=False)
    op.create_index(op.f('ix_rolls_station_id_started_at'), 'rolls', ['station_id', 'started_at'], unique=False)

    op.create_table('inspection_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.Uuid(), nullable=False),
    sa.Column('roll_id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=True),
    sa.Column('model_version_id', sa.Integer(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_inspection_runs_camera_id_cameras')),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], name=op.f('fk_inspection_runs_model_version_id_model_versions')),
    sa.ForeignKeyConstraint(['roll_id'], ['rolls.id'], name=op.f('fk_inspection_runs_roll_id_rolls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_runs')),
    sa.UniqueConstraint('key', name=op.f('uq_inspection_runs_key'))
    )
    op.create_index(op.f('ix_inspection_runs_roll_id'), 'inspection_runs', ['roll_id'], unique=False)

    op.create_table('defects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.Uuid(), nullable=False),
    sa.Column('roll_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('along_mm', sa.Float(), nullable=False),
    sa.Column('across_mm', sa.Float(), nullable=False),
    sa.Column('length_mm', sa.Float(), nullable=False),
    sa.Column('width_mm', sa.Float(), nullable=False),
    sa.Column('area_mm2', sa.Float(), nullable=False),
    sa.Column('peak_score', sa.Float(), nullable=False),
    sa.Column('fabric_class', sa.String(length=128), nullable=False),
    sa.Column('is_hole', sa.Boolean(), nullable=False),
    sa.Column('points', sa.SmallInteger(), nullable=False),
    sa.Column('defect_type', sa.String(length=128), nullable=True),
    sa.Column('crop_path', sa.String(length=512), nullable=True),
    sa.Column('crop_sha256', sa.String(length=64), nullable=True),
    sa.Column('heatmap_path', sa.String(length=512), nullable=True),
    sa.Column('heatmap_sha256', sa.String(length=64), nullable=True),
    sa.Column('image_bytes', sa.Integer(), nullable=False),
    sa.Column('images_deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_status', sa.String(length=16), nullable=False),
    sa.Column('reviewer', sa.String(length=128), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_comment', sa.Text(), nullable=True),
    sa.CheckConstraint("review_status IN ('unreviewed', 'confirmed', 'false_alarm')", name=op.f('ck_defects_review_status')),
    sa.CheckConstraint('points >= 0 AND points <= 4', name=op.f('ck_defects_points_range')),
    sa.ForeignKeyConstraint(['roll_id'], ['rolls.id'], name=op.f('fk_defects_roll_id_rolls')),
    sa.ForeignKeyConstraint(['run_id'], ['inspection_runs.id'], name=op.f('fk_defects_run_id_inspection_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_defects')),
    sa.UniqueConstraint('key', name=op.f('uq_defects_key'))
    )
    op.create_index(op.f('ix_defects_detected_at_id'), 'defects', ['detected_at', 'id'], unique=False)
    op.create_index(op.f('ix_defects_fabric_class_detected_at'), 'defects', ['fabric_class', 'detected_at'], unique=False)
    op.create_index(op.f('ix_defects_peak_score'), 'defects', ['peak_score'], unique=False)
    op.create_index(op.f('ix_defects_review_status_detected_at'), 'defects', ['review_status', 'detected_at'], unique=False)
    op.create_index(op.f('ix_defects_roll_id_along_mm_id'), 'defects', ['roll_id', 'along_mm', 'id'], unique=False)
    op.create_index(op.f('ix_defects_roll_id_detected_at_id'), 'defects', ['roll_id', 'detected_at', 'id'], unique=False)
    op.create_index(op.f('ix_defects_roll_id_peak_score_id'), 'defects', ['roll_id', 'peak_score', 'id'], unique=False)
    op.create_index(op.f('ix_defects_run_id'), 'defects', ['run_id'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('roll_id', sa.Integer(), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('from_mm', sa.Float(), nullable=True),
    sa.Column('to_mm', sa.Float(), nullable=True),
    sa.Column('count', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['roll_id'], ['rolls.id'], name=op.f('fk_events_roll_id_rolls')),
    sa.ForeignKeyConstraint(['run_id'], ['inspection_runs.id'], name=op.f('fk_events_run_id_inspection_runs')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_events_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('key', name=op.f('uq_events_key'))
    )
    op.create_index(op.f('ix_events_kind_occurred_at'), 'events', ['kind', 'occurred_at'], unique=False)
    op.create_index(op.f('ix_events_occurred_at'), 'events', ['occurred_at'], unique=False)
    op.create_index(op.f('ix_events_roll_id_occurred_at'), 'events', ['roll_id', 'occurred_at'], unique=False)

    op.create_table('review_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('defect_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('reviewer', sa.String(length=128), nullable=False),
    sa.Column('acted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('defect_type', sa.String(length=128), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.CheckConstraint("action IN ('confirm', 'reject', 'relabel')", name=op.f('ck_review_actions_action')),
    sa.ForeignKeyConstraint(['defect_id'], ['defects.id'], name=op.f('fk_review_actions_defect_id_defects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_actions'))
    )
    op.create_index(op.f('ix_review_actions_defect_id'), 'review_actions', ['defect_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_review_actions_defect_id'), table_name='review_actions')

    op.drop_table('review_actions')
    op.drop_index(op.f('ix_events_roll_id_occurred_at'), table_name='events')
    op.drop_index(op.f('ix_events_occurred_at'), table_name='events')
    op.drop_index(op.f('ix_events_kind_occurred_at'), table_name='events')

    op.drop_table('events')
    op.drop_index(op.f('ix_defects_run_id'), table_name='defects')
    op.drop_index(op.f('ix_defects_roll_id_peak_score_id'), table_name='defects')
    op.drop_index(op.f('ix_defects_roll_id_detected_at_id'), table_name='defects')
    op.drop_index(op.f('ix_defects_roll_id_along_mm_id'), table_name='defects')
    op.drop_index(op.f('ix_defects_review_status_detected_at'), table_name='defects')
    op.drop_index(op.f('ix_defects_peak_score'), table_name='defects')
    op.drop_index(op.f('ix_defects_fabric_class_detected_at'), table_name='defects')
    op.drop_index(op.f('ix_defects_detected_at_id'), table_name='defects')

    op.drop_table('defects')
    op.drop_index(op.f('ix_inspection_runs_roll_id'), table_name='inspection_runs')

    op.drop_table('inspection_runs')
    op.drop_index(op.f('ix_rolls_station_id_started_at'), table_name='rolls')
    op.drop_index(op.f('ix_rolls_started_at'), table_name='rolls')
    op.drop_index(op.f('ix_rolls_lot_number'), table_name='rolls')

    op.drop_table('rolls')
    op.drop_table('cameras')
    op.drop_table('stations')
    op.drop_table('model_versions')
    op.drop_table('fabric_types')
