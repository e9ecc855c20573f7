"""pending objects: keys recorded before their object is written

Revision ID: 0008
Revises: 0014
Create Date: 2026-12-01 13:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import confirm.models  # noqa: F401  (column types)

revision: str = '0008'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pending_objects',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('created_at', confirm.models.UTCDateTime(), nullable=False),
    sa.CheckConstraint("state in ('writing', 'abandoned')", name=op.f('ck_pending_objects_state_known')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_pending_objects'))
    )


def downgrade() -> None:
    op.drop_table('pending_objects')
