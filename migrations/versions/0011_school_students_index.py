"""the school's students by name: an index for paging the admin's list

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-01 15:15:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_students_school_id_name', 'students', ['school_id', 'name'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_students_school_id_name', table_name='students')
