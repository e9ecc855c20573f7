"""repeat-safe requests and atomic limits

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 14:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import confirm.models  # noqa: F401  (column types)

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rate_counters',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('started_at', confirm.models.UTCDateTime(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_counters'))
    )
    op.create_table('repeat_guards',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('answer', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', confirm.models.UTCDateTime(), nullable=False),
    sa.Column('expires_at', confirm.models.UTCDateTime(), nullable=False),
    sa.CheckConstraint("state in ('running', 'committed', 'answered')", name=op.f('ck_repeat_guards_state_known')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_repeat_guards'))
    )
    with op.batch_alter_table('repeat_guards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repeat_guards_expires_at'), ['expires_at'], unique=False)
    with op.batch_alter_table('parent_accounts', schema=None) as batch_op:
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('locked_until')
    with op.batch_alter_table('registration_codes', schema=None) as batch_op:
        batch_op.drop_column('failed_attempts')
        batch_op.drop_column('locked_until')
        batch_op.create_index('uq_registration_codes_active_student', ['student_id'], unique=True,
                              sqlite_where=sa.text('revoked_at IS NULL'),
                              postgresql_where=sa.text('revoked_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('registration_codes', schema=None) as batch_op:
        batch_op.drop_index('uq_registration_codes_active_student')
        batch_op.add_column(sa.Column('locked_until', confirm.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('parent_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_until', confirm.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('repeat_guards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repeat_guards_expires_at'))
    op.drop_table('repeat_guards')
    op.drop_table('rate_counters')
