"""server-side sessions; staff choose their own password

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-01 15:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import confirm.models  # noqa: F401  (column types)

revision: str = '0014'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('account_kind', sa.String(length=10), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('account_nonce', sa.String(length=32), nullable=True),
    sa.Column('device', sa.String(length=120), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('created_at', confirm.models.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', confirm.models.UTCDateTime(), nullable=False),
    sa.Column('expires_at', confirm.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index('ix_web_sessions_account', ['account_kind', 'account_id'], unique=False)
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_web_sessions_account')
        batch_op.drop_index(batch_op.f('ix_web_sessions_expires_at'))
    op.drop_table('web_sessions')
