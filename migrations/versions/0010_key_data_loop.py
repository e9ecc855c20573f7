"""the key-data loop closes: a turned-down correction can be withdrawn

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-01 16:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "'draft', 'submitted', 'applied', 'pending_admin', 'rejected'"
NEW = OLD + ", 'withdrawn'"


def upgrade() -> None:
    with op.batch_alter_table('field_corrections', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_field_corrections_status_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_field_corrections_status_known'), f"status in ({NEW})")


def downgrade() -> None:
    op.execute("UPDATE field_corrections SET status = 'rejected' WHERE status = 'withdrawn'")
    with op.batch_alter_table('field_corrections', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_field_corrections_status_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_field_corrections_status_known'), f"status in ({OLD})")
