"""Districts and supervisors from the command line: ``create-district``, ``add-school-to-district``,
``create-supervisor``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from confirm.clock import local_today
from confirm.districts import DistrictKind
from webapp.cli.bootstrap import _fail_on


def _district_or_fail(session, code: str):
    from confirm.services.districts import district_by_code

    district = district_by_code(session, code)
    if district is None:
        raise click.ClickException(f"no district with code {code}; run create-district first")
    return district


@click.command("create-district")
@with_appcontext
@click.option("--code", required=True, help="机构代码, e.g. the county's division code 520325")
@click.option("--name", required=True, help="机构名称, e.g. 道真县教育局")
@click.option("--kind", type=click.Choice([k.value for k in DistrictKind]), default=DistrictKind.COUNTY_BUREAU.value,
              show_default=True, help="county_bureau = 县教育局, central_school = 中心校")
@click.option("--parent", "parent_code", default=None, help="the code of the district it belongs to")
def create_district_command(code: str, name: str, kind: str, parent_code: str | None):
    """Register a district (county bureau or central school)."""
    from confirm.errors import DomainError
    from confirm.services.common import SYSTEM
    from confirm.services.districts import create_district
    from webapp.adapters import db

    session = db.session()
    parent = _district_or_fail(session, parent_code) if parent_code else None
    try:
        district = create_district(session, code=code, name=name, kind=kind, parent=parent, actor=SYSTEM)
    except DomainError as exc:
        _fail_on(exc)
    session.commit()
    click.echo(f"created district {district.code} {district.name}")


@click.command("add-school-to-district")
@with_appcontext
@click.option("--school", "school_code", required=True, help="学校标识码")
@click.option("--district", "district_code", required=True, help="机构代码")
@click.option("--from", "from_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="first day in the district (default: today); a school in another district moves on that day")
def add_school_command(school_code: str, district_code: str, from_date):
    """Put a school in a district, or move it there from its current one (the history is kept)."""
    from sqlalchemy import select

    from confirm.errors import DomainError
    from confirm.models import School
    from confirm.services.common import SYSTEM
    from confirm.services.districts import add_school_to_district
    from webapp.adapters import db

    session = db.session()
    school = session.scalar(select(School).where(School.code == school_code))
    if school is None:
        raise click.ClickException(f"no school with code {school_code}; run create-school first")
    district = _district_or_fail(session, district_code)
    on = from_date.date() if from_date else local_today()
    try:
        membership = add_school_to_district(session, school, district, on=on, actor=SYSTEM)
    except DomainError as exc:
        _fail_on(exc)
    session.commit()
    click.echo(f"school {school.code} {school.name} is in {district.name} from {membership.from_date.isoformat()}")


@click.command("create-supervisor")
@with_appcontext
@click.option("--district", "district_code", required=True, help="机构代码")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True, help="姓名")
@click.option("--phone", default=None, help="the supervisor's mobile (for SMS verification)")
@click.password_option(help="asked for when not given")
def create_supervisor_command(district_code: str, username: str, display_name: str, phone: str | None,
                              password: str):
    """Create a supervisor account (主管部门用户) of a district; it chooses its own password at the first sign-in."""
    from confirm.errors import DomainError
    from confirm.services.common import SYSTEM
    from confirm.services.districts import create_supervisor
    from webapp.adapters import db

    session = db.session()
    district = _district_or_fail(session, district_code)
    try:
        create_supervisor(session, district, username=username, display_name=display_name, password=password,
                          phone=phone, actor=SYSTEM)
    except DomainError as exc:
        _fail_on(exc)
    session.commit()
    click.echo(f"created supervisor {username} for {district.name}")


@click.command("refresh-district-stats")
@with_appcontext
@click.option("--all", "everything", is_flag=True, help="count every school, also those counted a moment ago")
def refresh_district_stats_command(everything: bool):
    """Count the schools of every district again for the district pages (cron, e.g. every 5 minutes)."""
    from webapp.jobs.district import refresh_all

    click.echo(f"counted {refresh_all(only_stale=not everything)} schools")


COMMANDS = (create_district_command, add_school_command, create_supervisor_command, refresh_district_stats_command)
