"""``flask db …``: create and update the database schema with Alembic."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import current_app
from flask.cli import AppGroup

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for this app's database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", (url or current_app.config["DATABASE_URL"]).replace("%", "%%"))
    return cfg


@click.group("db", cls=AppGroup)
def db_group():
    """Create and update the database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str):
    """Bring the schema up to REVISION (default: the newest)."""
    command.upgrade(alembic_config(), revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
def downgrade(revision: str):
    """Take the schema back to REVISION."""
    command.downgrade(alembic_config(), revision)


@db_group.command("current")
def current():
    """Show the schema revision of the database."""
    command.current(alembic_config(), verbose=False)


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate/--empty", default=True)
def revision(message: str, autogenerate: bool):
    """Write a new migration comparing the models with the database."""
    command.revision(alembic_config(), message=message, autogenerate=autogenerate)
