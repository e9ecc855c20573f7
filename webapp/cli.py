"""Command-line tools: database migrations, demo data, schools and admins, the storage sweep."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


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


def _fail_on(exc) -> None:
    from confirm.errors import FieldErrors

    items = exc.errors if isinstance(exc, FieldErrors) else [("", exc.message)]
    raise click.ClickException("; ".join(f"{name}: {message}" if name else str(message) for name, message in items))


@click.command("create-school")
@with_appcontext
@click.option("--code", required=True, help="学校标识码 (10 digits)")
@click.option("--name", required=True, help="学校名称")
def create_school_command(code: str, name: str):
    """Register a school (the first step of a production install)."""
    from confirm.errors import DomainError
    from confirm.services.common import SYSTEM
    from confirm.services.school import create_school
    from webapp import db

    session = db.session()
    try:
        school = create_school(session, code=code, name=name, actor=SYSTEM)
    except DomainError as exc:
        _fail_on(exc)
    session.commit()
    click.echo(f"created school {school.code} {school.name}")


@click.command("create-admin")
@with_appcontext
@click.option("--school", "school_code", required=True, help="学校标识码")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True, help="姓名")
@click.option("--phone", default=None, help="the admin's mobile (for SMS verification)")
@click.password_option(help="asked for when not given")
def create_admin_command(school_code: str, username: str, display_name: str, phone: str | None, password: str):
    """Create a school admin (学籍管理员) account."""
    from sqlalchemy import select

    from confirm.errors import DomainError
    from confirm.models import School
    from confirm.services.accounts import create_staff
    from confirm.services.common import SYSTEM
    from webapp import db

    session = db.session()
    school = session.scalar(select(School).where(School.code == school_code))
    if school is None:
        raise click.ClickException(f"no school with code {school_code}; run create-school first")
    try:
        create_staff(session, school, username=username, display_name=display_name, role="school_admin",
                     password=password, phone=phone, actor=SYSTEM)
    except DomainError as exc:
        _fail_on(exc)
    session.commit()
    click.echo(f"created school admin {username} for {school.name}")


@click.command("sweep-storage")
@click.option("--dry-run", is_flag=True, help="Only report what would be removed; remove nothing.")
@with_appcontext
def sweep_storage_command(dry_run: bool):
    """Remove stored objects without a database row (older than an hour); report rows whose object is missing.

    Only keys shaped like the ones this app makes are ever removed. Exit status 1 when a row's object is
    missing or a removal failed.
    """
    from confirm.services.storage_sweep import MIN_AGE, sweep_storage
    from uploads.storage import is_generated_key
    from webapp import db
    from webapp.backends import store

    backend = store()
    report = sweep_storage(db.session(), backend, dry_run=dry_run, owned=is_generated_key)
    hours = MIN_AGE.total_seconds() / 3600
    click.echo(f"storage: {backend!r}")
    click.echo(f"listed {report.objects} objects; database rows refer to {report.referenced} keys")
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {len(report.removed)} objects without a row, older than {hours:g} h")
    for key in report.removed:
        click.echo(f"  {key}")
    if report.recent:
        click.echo(f"kept {len(report.recent)} objects without a row that are younger than {hours:g} h")
    if report.foreign:
        click.echo(f"left alone {len(report.foreign)} objects whose keys this app does not make")
    for key, error in report.failed:
        click.echo(f"could not remove {key}: {error}", err=True)
    if report.missing:
        click.echo(f"{len(report.missing)} rows refer to a missing object:", err=True)
        for item in report.missing:
            click.echo(f"  {item.table} id={item.row_id} key={item.key}", err=True)
    else:
        click.echo("no row refers to a missing object")
    if report.missing or report.failed:
        raise SystemExit(1)


def register_cli(app: Flask) -> None:
    """Attach the commands to ``flask --app webapp``."""
    from webapp.cli_outreach import send_daily_reminders_command, send_queued_command
    from webapp.cli_photos import check_photo
    from webapp.cli_print import print_sheets_command
    from webapp.cli_students import COMMANDS

    app.cli.add_command(db_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(create_school_command)
    app.cli.add_command(create_admin_command)
    app.cli.add_command(sweep_storage_command)
    app.cli.add_command(check_photo)
    app.cli.add_command(send_daily_reminders_command)
    app.cli.add_command(send_queued_command)
    app.cli.add_command(print_sheets_command)
    for command_ in COMMANDS:
        app.cli.add_command(command_)
