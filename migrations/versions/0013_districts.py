"""districts and supervisors: schools in districts with history, supervisor accounts, district key-data approval
(核办), messages to schools, and the indexes the district page's grouped counts use

Revision ID: 0013
Revises: 0008
Create Date: 2026-12-01 15:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import confirm.models  # noqa: F401  (column types)

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "'draft', 'submitted', 'applied', 'pending_admin', 'rejected', 'withdrawn'"
NEW_STATUSES = "'draft', 'submitted', 'applied', 'pending_admin', 'pending_district', 'rejected', 'withdrawn'"
OLD_ROLES = "'head_teacher', 'school_admin'"
NEW_ROLES = "'head_teacher', 'school_admin', 'supervisor'"
SCHOOL_OR_DISTRICT = ("(role = 'supervisor' and school_id is null and district_id is not null) or "
                      "(role <> 'supervisor' and school_id is not null and district_id is null)")


def upgrade() -> None:
    op.create_table('districts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', confirm.models.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind in ('county_bureau', 'central_school')", name=op.f('ck_districts_kind_known')),
    sa.CheckConstraint('parent_id is null or parent_id <> id', name=op.f('ck_districts_not_own_parent')),
    sa.ForeignKeyConstraint(['parent_id'], ['districts.id'], name=op.f('fk_districts_parent_id_districts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_districts')),
    sa.UniqueConstraint('code', name=op.f('uq_districts_code'))
    )
    op.create_index(op.f('ix_districts_parent_id'), 'districts', ['parent_id'], unique=False)

    with op.batch_alter_table('schools', schema=None) as batch_op:
        batch_op.add_column(sa.Column('district_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_schools_district_id'), ['district_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_schools_district_id_districts'), 'districts', ['district_id'],
                                    ['id'])

    op.create_table('school_district_memberships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('from_date', sa.Date(), nullable=False),
    sa.Column('to_date', sa.Date(), nullable=True),
    sa.Column('created_by_kind', sa.String(length=10), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', confirm.models.UTCDateTime(), nullable=False),
    sa.CheckConstraint('to_date is null or to_date >= from_date',
                       name=op.f('ck_school_district_memberships_dates_ordered')),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'],
                            name=op.f('fk_school_district_memberships_district_id_districts')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'],
                            name=op.f('fk_school_district_memberships_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_district_memberships'))
    )
    op.create_index('ix_school_district_memberships_district', 'school_district_memberships',
                    ['district_id', 'to_date'], unique=False)
    op.create_index(op.f('ix_school_district_memberships_school_id'), 'school_district_memberships', ['school_id'],
                    unique=False)
    op.create_index('uq_school_district_memberships_open', 'school_district_memberships', ['school_id'],
                    unique=True, sqlite_where=sa.text('to_date IS NULL'), postgresql_where=sa.text('to_date IS NULL'))

    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('district_id', sa.Integer(), nullable=True))
        batch_op.alter_column('school_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f('ix_staff_users_district_id'), ['district_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_staff_users_district_id_districts'), 'districts',
                                    ['district_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_staff_users_role_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_staff_users_role_known'), f"role in ({NEW_ROLES})")
        batch_op.create_check_constraint(op.f('ck_staff_users_school_or_district'), SCHOOL_OR_DISTRICT)

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_data_needs_district', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))

    with op.batch_alter_table('field_corrections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('school_opinion', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('school_passed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('school_passed_at', confirm.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('district_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('district_decided_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('district_decided_at', confirm.models.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_field_corrections_school_passed_by_id_staff_users'),
                                    'staff_users', ['school_passed_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_field_corrections_district_id_districts'), 'districts',
                                    ['district_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_field_corrections_district_decided_by_id_staff_users'),
                                    'staff_users', ['district_decided_by_id'], ['id'])
        batch_op.create_index('ix_field_corrections_status', ['status', 'district_id'], unique=False)
        batch_op.drop_constraint(op.f('ck_field_corrections_status_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_field_corrections_status_known'), f"status in ({NEW_STATUSES})")

    with op.batch_alter_table('import_conflicts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_import_conflicts_correction_status_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_import_conflicts_correction_status_known'),
                                         f"correction_status in ({NEW_STATUSES})")

    op.create_table('district_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', confirm.models.UTCDateTime(), nullable=False),
    sa.Column('read_at', confirm.models.UTCDateTime(), nullable=True),
    sa.Column('read_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_district_messages_district_id_districts')),
    sa.ForeignKeyConstraint(['read_by_id'], ['staff_users.id'], name=op.f('fk_district_messages_read_by_id_staff_users')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_district_messages_school_id_schools')),
    sa.ForeignKeyConstraint(['sender_id'], ['staff_users.id'], name=op.f('fk_district_messages_sender_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_district_messages'))
    )
    op.create_index(op.f('ix_district_messages_district_id'), 'district_messages', ['district_id'], unique=False)
    op.create_index('ix_district_messages_school', 'district_messages', ['school_id', 'created_at'], unique=False)

    op.create_table('school_progress',
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
              nullable=False),
    sa.Column('key_data_waiting', sa.Integer(), nullable=False),
    sa.Column('counted_at', confirm.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_school_progress_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_school_progress_school_id_schools')),
    sa.PrimaryKeyConstraint('school_id', name=op.f('pk_school_progress'))
    )
    op.create_index(op.f('ix_school_progress_counted_at'), 'school_progress', ['counted_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_school_progress_counted_at'), table_name='school_progress')
    op.drop_table('school_progress')
    op.drop_index('ix_district_messages_school', table_name='district_messages')
    op.drop_index(op.f('ix_district_messages_district_id'), table_name='district_messages')
    op.drop_table('district_messages')
    # a change waiting for the district goes back to the school admin's queue; supervisors cannot exist without it
    op.execute("UPDATE field_corrections SET status = 'pending_admin' WHERE status = 'pending_district'")
    # a district's decision is kept as the school admin's who passed it on (supervisors are deleted below)
    op.execute("UPDATE field_corrections SET decided_by_id = school_passed_by_id WHERE decided_by_id IN "
               "(SELECT id FROM staff_users WHERE role = 'supervisor')")
    op.execute("UPDATE import_conflicts SET correction_status = 'pending_admin' "
               "WHERE correction_status = 'pending_district'")
    with op.batch_alter_table('import_conflicts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_import_conflicts_correction_status_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_import_conflicts_correction_status_known'),
                                         f"correction_status in ({OLD_STATUSES})")
    with op.batch_alter_table('field_corrections', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_field_corrections_status_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_field_corrections_status_known'), f"status in ({OLD_STATUSES})")
        batch_op.drop_index('ix_field_corrections_status')
        batch_op.drop_constraint(batch_op.f('fk_field_corrections_district_decided_by_id_staff_users'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_field_corrections_district_id_districts'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_field_corrections_school_passed_by_id_staff_users'),
                                 type_='foreignkey')
        for column in ('district_decided_at', 'district_decided_by_id', 'district_id', 'school_passed_at',
                       'school_passed_by_id', 'school_opinion'):
            batch_op.drop_column(column)
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('key_data_needs_district')
    op.execute("DELETE FROM web_sessions WHERE account_kind = 'staff' AND account_id IN "
               "(SELECT id FROM staff_users WHERE role = 'supervisor')")
    for table, column in (("field_corrections", "decided_by_id"), ("confirmations", "decided_by_id"),
                          ("notifications", "created_by_id"), ("misuse_flags", "resolved_by_id"),
                          ("import_runs", "created_by_id"), ("registration_codes", "issued_by_id"),
                          ("classes", "head_teacher_id")):  # every nullable reference a supervisor may hold
        op.execute(f"UPDATE {table} SET {column} = NULL WHERE {column} IN "
                   "(SELECT id FROM staff_users WHERE role = 'supervisor')")
    op.execute("DELETE FROM staff_users WHERE role = 'supervisor'")
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_staff_users_school_or_district'), type_='check')
        batch_op.drop_constraint(op.f('ck_staff_users_role_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_staff_users_role_known'), f"role in ({OLD_ROLES})")
        batch_op.drop_constraint(batch_op.f('fk_staff_users_district_id_districts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_staff_users_district_id'))
        batch_op.alter_column('school_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('district_id')
    op.drop_index('uq_school_district_memberships_open', table_name='school_district_memberships',
                  sqlite_where=sa.text('to_date IS NULL'), postgresql_where=sa.text('to_date IS NULL'))
    op.drop_index(op.f('ix_school_district_memberships_school_id'), table_name='school_district_memberships')
    op.drop_index('ix_school_district_memberships_district', table_name='school_district_memberships')
    op.drop_table('school_district_memberships')
    with op.batch_alter_table('schools', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_schools_district_id_districts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_schools_district_id'))
        batch_op.drop_column('district_id')
    op.drop_index(op.f('ix_districts_parent_id'), table_name='districts')
    op.drop_table('districts')
