"""First start: demo data, a school and its registry admin."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("demo")
@with_appcontext
def demo_command():
    """Load the demo school (idempotent); refused in production."""
    from confirm.demo import load_demo
    from webapp.adapters import db

    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("demo data is refused when APP_ENV=production")
    from webapp.adapters.keys import code_key

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
    from webapp.adapters import db

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
    from confirm.roles import Role
    from confirm.services.common import SYSTEM
    from confirm.services.staff import create_staff
    from webapp.adapters import db

    session = db.session()
    school = session.scalar(select(School).where(School.code == school_code))
    if school is None:
        raise click.ClickException(f"no school with code {school_code}; run create-school first")
    try:
        create_staff(session, school, username=username, display_name=display_name, role=Role.SCHOOL_ADMIN,
                     password=password, phone=phone, actor=SYSTEM)
    except DomainError as exc:
        _fail_on(exc)
    session.commit()
    click.echo(f"created school admin {username} for {school.name}")
