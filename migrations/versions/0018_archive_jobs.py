"""archive jobs: electronic archives (电子档案) of a class or a school, built in the background

Revision ID: 0018
Revises: 0008
Create Date: 2026-12-01 15:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import confirm.models  # noqa: F401  (column types)

revision: str = '0018'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status in ('queued', 'building')"


def upgrade() -> None:
    op.create_table('archive_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=True),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('scope_key', sa.String(length=40), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('total', sa.Integer(), server_default='0', nullable=False),
    sa.Column('object_key', sa.String(length=200), nullable=True),
    sa.Column('size_bytes', sa.Integer(), nullable=True),
    sa.Column('missing_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', confirm.models.UTCDateTime(), nullable=False),
    sa.Column('started_at', confirm.models.UTCDateTime(), nullable=True),
    sa.Column('progress_at', confirm.models.UTCDateTime(), nullable=True),
    sa.Column('finished_at', confirm.models.UTCDateTime(), nullable=True),
    sa.Column('expires_at', confirm.models.UTCDateTime(), nullable=True),
    sa.CheckConstraint("status in ('queued', 'building', 'ready', 'failed', 'expired')", name=op.f('ck_archive_jobs_status_known')),
    sa.CheckConstraint("scope in ('class', 'school')", name=op.f('ck_archive_jobs_scope_known')),
    sa.CheckConstraint("scope = 'school' or class_id is not null", name=op.f('ck_archive_jobs_class_scope_has_class')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_archive_jobs_school_id_schools')),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_archive_jobs_class_id_classes')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['staff_users.id'], name=op.f('fk_archive_jobs_requested_by_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_archive_jobs'))
    )
    op.create_index(op.f('ix_archive_jobs_school_id'), 'archive_jobs', ['school_id'], unique=False)
    op.create_index(op.f('ix_archive_jobs_class_id'), 'archive_jobs', ['class_id'], unique=False)
    op.create_index('uq_archive_jobs_open_scope', 'archive_jobs', ['scope_key'], unique=True,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    op.create_index('ix_audit_events_target', 'audit_events', ['target_type', 'target_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_events_target', table_name='audit_events')
    op.drop_index('uq_archive_jobs_open_scope', table_name='archive_jobs')
    op.drop_index(op.f('ix_archive_jobs_class_id'), table_name='archive_jobs')
    op.drop_index(op.f('ix_archive_jobs_school_id'), table_name='archive_jobs')
    op.drop_table('archive_jobs')
