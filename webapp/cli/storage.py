"""``flask sweep-storage``: keep object storage and the database consistent."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


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
    from webapp.adapters import db
    from webapp.adapters.storage import store

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
