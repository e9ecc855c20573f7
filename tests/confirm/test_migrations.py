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
