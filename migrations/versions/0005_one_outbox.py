"""one outbox: every SMS is a notification row

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import confirm.models  # noqa: F401  (column types)

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "'reminder', 'invitation', 'notice', 'code', 'password'"


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('school_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('template', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sending_since', confirm.models.UTCDateTime(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_notifications_kind_known'), f"kind in ({KINDS})")


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE school_id IS NULL OR kind NOT IN ('reminder', 'invitation', 'notice')")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_kind_known'), type_='check')
        batch_op.drop_column('sending_since')
        batch_op.drop_column('secret')
        batch_op.drop_column('template')
        batch_op.alter_column('school_id', existing_type=sa.Integer(), nullable=False)
