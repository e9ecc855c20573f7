"""re-import merges: the conflicts of an import with the running campaign, and the admin's choices

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import confirm.models  # noqa: F401  (column types)

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHOICES = "'platform', 'file'"
STATUSES = "'draft', 'submitted', 'applied', 'pending_admin', 'rejected'"


def upgrade() -> None:
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conflict_choice', sa.String(length=10), server_default='platform',
                                      nullable=False))
        batch_op.create_check_constraint(op.f('ck_import_runs_conflict_choice_known'),
                                         f"conflict_choice in ({CHOICES})")

    op.create_table(
        'import_conflicts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=False),
        sa.Column('correction_id', sa.Integer(), nullable=True),
        sa.Column('row', sa.Integer(), nullable=False),
        sa.Column('slot', sa.Integer(), nullable=False),
        sa.Column('field_key', sa.String(length=40), nullable=False),
        sa.Column('start_value', sa.Text(), nullable=False),
        sa.Column('file_value', sa.Text(), nullable=False),
        sa.Column('platform_value', sa.Text(), nullable=False),
        sa.Column('corrected_value', sa.Text(), nullable=False),
        sa.Column('correction_status', sa.String(length=20), nullable=False),
        sa.Column('choice', sa.String(length=10), nullable=True),
        sa.CheckConstraint(f"choice in ({CHOICES})", name=op.f('ck_import_conflicts_choice_known')),
        sa.CheckConstraint(f"correction_status in ({STATUSES})",
                           name=op.f('ck_import_conflicts_correction_status_known')),
        sa.ForeignKeyConstraint(['correction_id'], ['field_corrections.id'],
                                name=op.f('fk_import_conflicts_correction_id_field_corrections'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['run_id'], ['import_runs.id'], name=op.f('fk_import_conflicts_run_id_import_runs'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_import_conflicts_student_id_students'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_conflicts')),
        sa.UniqueConstraint('run_id', 'student_id', 'slot', 'field_key',
                            name=op.f('uq_import_conflicts_run_id_student_id_slot_field_key')),
    )
    with op.batch_alter_table('import_conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_conflicts_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_conflicts_student_id'), ['student_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_conflicts_correction_id'), ['correction_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('import_conflicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_conflicts_correction_id'))
        batch_op.drop_index(batch_op.f('ix_import_conflicts_student_id'))
        batch_op.drop_index(batch_op.f('ix_import_conflicts_run_id'))
    op.drop_table('import_conflicts')
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_import_runs_conflict_choice_known'), type_='check')
        batch_op.drop_column('conflict_choice')
