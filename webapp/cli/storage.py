"""``flask sweep-storage``: keep object storage and the database consistent."""

from __future__ import annotations

import re
from datetime import timedelta

import click
from flask.cli import with_appcontext

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|min|h)?")


class Duration(click.ParamType):
    """``0``, ``90s``, ``30m``, ``2h``; a bare number is minutes."""

    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, timedelta):
            return value
        match = _DURATION.fullmatch(str(value).strip().lower())
        if not match:
            self.fail(f"{value!r} is not a duration such as 0, 90s, 30m or 2h", param, ctx)
        number, unit = float(match.group(1)), match.group(2) or "m"
        return timedelta(seconds=number * {"s": 1, "m": 60, "min": 60, "h": 3600}[unit])


def describe(age: timedelta) -> str:
    """``1 h``, ``30 min``, ``45 s``."""
    seconds = age.total_seconds()
    if seconds and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


@click.command("sweep-storage")
@click.option("--dry-run", is_flag=True, help="Only report what would be removed; remove nothing.")
@click.option("--min-age", type=Duration(), default="1h", show_default=True,
              help="Remove an object without a row only once it is older than this (0, 90s, 30m, 2h; a bare number "
                   "is minutes). Objects of failed uploads go at once; objects a row refers to — stored files, "
                   "thumbnails, batch photos still to be filed, kept import files — never.")
@with_appcontext
def sweep_storage_command(dry_run: bool, min_age: timedelta):
    """Remove stored objects without a database row; report rows whose object is missing (both directions).

    Only keys shaped like the ones this app makes are ever removed. Exit status 1 when a row's object is
    missing or a removal failed.
    """
    from confirm.services.storage_sweep import sweep_storage
    from uploads.storage import is_generated_key
    from webapp.adapters import db
    from webapp.adapters.storage import store

    backend = store()
    session = db.session()
    report = sweep_storage(session, backend, dry_run=dry_run, min_age=min_age, owned=is_generated_key)
    session.commit()  # the pending records the sweep is done with
    age = describe(min_age)
    click.echo(f"storage: {backend!r}")
    click.echo(f"listed {report.objects} objects; database rows refer to {report.referenced} keys")
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {len(report.removed)} objects without a row, older than {age}")
    for key in report.removed:
        click.echo(f"  {key}")
    if report.abandoned:
        click.echo(f"{verb} {len(report.abandoned)} objects of uploads that failed (whatever their age)")
        for key in report.abandoned:
            click.echo(f"  {key}")
    if report.recent:
        click.echo(f"kept {len(report.recent)} objects without a row that are younger than {age}"
                   + (f" ({len(report.in_flight)} of them uploads in progress)" if report.in_flight else ""))
    if report.foreign:
        click.echo(f"left alone {len(report.foreign)} objects whose keys this app does not make")
    if report.cleared and not dry_run:
        click.echo(f"cleared {report.cleared} pending-upload records")
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
