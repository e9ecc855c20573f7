"""The Alembic migrations build exactly the schema the models describe, and can be undone."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from confirm.models import Base
from webapp.cli.database import alembic_config


def test_migrated_schema_matches_the_models(db_url):
    engine = create_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree — write a migration: {diff}"


def test_downgrade_to_base_and_upgrade_again(db_url):
    command.downgrade(alembic_config(db_url), "base")
    engine = create_engine(db_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    command.upgrade(alembic_config(db_url), "head")
    engine = create_engine(db_url)
    assert {"students", "audit_events", "import_runs"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_the_districts_migration_goes_back_after_a_supervisor_has_written(db_url):
    """Undoing 0013 deletes the supervisors; what they wrote stays, without its author."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from confirm.models import Notification
    from confirm.states import MessageKind, MessageStatus
    from tests.factories import make_district, make_school, make_supervisor

    engine = create_engine(db_url)
    with Session(engine) as session:
        school = make_school(session)
        supervisor = make_supervisor(session, make_district(session, school))
        session.add(Notification(school_id=school.id, phone="13900000009", kind=MessageKind.REMINDER.value,
                                 body="请督促", status=MessageStatus.SENT.value, created_by_id=supervisor.id))
        session.commit()
    engine.dispose()

    command.downgrade(alembic_config(db_url), "0012")
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(Notification.__table__.c.created_by_id)).scalars().all() == [None]
    engine.dispose()
    command.upgrade(alembic_config(db_url), "head")
