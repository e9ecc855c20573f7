"""submission provenance: how each sheet came (parent, 班主任代传, batch photo) and which photo it was

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-01 15:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIA = "'parent', 'on_behalf', 'batch', 'batch_manual'"


def upgrade() -> None:
    with op.batch_alter_table('confirmation_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('via', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('sheet_file_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_confirmation_events_sheet_file_id_stored_files'), 'stored_files',
                                    ['sheet_file_id'], ['id'])
        batch_op.create_check_constraint(op.f('ck_confirmation_events_via_known'), f"via is null or via in ({VIA})")
    # Earlier submissions: a parent's is the parent's; a staff one was handed in by the head teacher (whether from
    # a batch is not known for them).
    op.execute("UPDATE confirmation_events SET via = CASE WHEN actor_kind = 'parent' THEN 'parent' ELSE 'on_behalf' "
               "END WHERE to_state = 'submitted'")


def downgrade() -> None:
    with op.batch_alter_table('confirmation_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_confirmation_events_via_known'), type_='check')
        batch_op.drop_constraint(op.f('fk_confirmation_events_sheet_file_id_stored_files'), type_='foreignkey')
        batch_op.drop_column('sheet_file_id')
        batch_op.drop_column('via')
