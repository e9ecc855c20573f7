"""Command-line tools: database migrations and demo data."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import with_appcontext

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for this app's database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", (url or current_app.config["DATABASE_URL"]).replace("%", "%%"))
    return cfg


@click.group("db")
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


@click.command("demo")
@with_appcontext
def demo_command():
    """Load the demo school (idempotent); refused in production."""
    from confirm.demo import load_demo
    from webapp import db

    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("demo data is refused when APP_ENV=production")
    from webapp.backends import code_key

    session = db.session()
    summary = load_demo(session, key=code_key())
    session.commit()
    click.echo(summary)


def register_cli(app: Flask) -> None:
    """Attach the commands to ``flask --app webapp``."""
    from webapp.cli_students import COMMANDS

    app.cli.add_command(db_group)
    app.cli.add_command(demo_command)
    for command_ in COMMANDS:
        app.cli.add_command(command_)
