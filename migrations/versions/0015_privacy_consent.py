"""privacy consent: when a guardian agreed to the privacy notice, and to which version

Revision ID: 0015
Revises: 0008
Create Date: 2026-12-01 15:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import confirm.models  # noqa: F401  (column types)

revision: str = '0015'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('parent_accounts') as batch:
        batch.add_column(sa.Column('privacy_consented_at', confirm.models.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('privacy_notice_version', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('parent_accounts') as batch:
        batch.drop_column('privacy_notice_version')
        batch.drop_column('privacy_consented_at')
