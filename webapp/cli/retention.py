"""``flask retention``: delete proof photos of finished campaigns and expired rows (confirm.services.retention)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("retention")
@click.option("--dry-run", is_flag=True, help="Only count what is due; delete nothing.")
@with_appcontext
def retention_command(dry_run: bool):
    """Delete the proof photos of campaigns closed and exported RETENTION_PROOF_DAYS ago (default 30), and SMS
    codes, used or revoked registration codes, sessions, rate counters and repeat guards expired
    RETENTION_EXPIRED_DAYS ago (default 7). Safe to run again (daily from cron); reports what it deleted."""
    from confirm.services.retention import run_retention
    from webapp.adapters import db
    from webapp.adapters.storage import store

    proof_days = current_app.config["RETENTION_PROOF_DAYS"]
    expired_days = current_app.config["RETENTION_EXPIRED_DAYS"]
    session = db.session()
    report = run_retention(session, store(), proof_days=proof_days, expired_days=expired_days, dry_run=dry_run)
    if not dry_run:
        session.commit()  # rows first; their objects are deleted once this commits
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {report.proofs} proof documents ({report.objects} stored objects) of "
               f"{len(report.campaigns)} campaigns closed and exported at least {proof_days} days ago")
    if report.waiting_for_export:
        click.echo(f"kept the proofs of {len(report.waiting_for_export)} closed campaigns whose export was not taken "
                   f"(campaign ids {', '.join(map(str, report.waiting_for_export))})")
    for table, count in report.rows.items():
        click.echo(f"{verb} {count} {table} rows expired at least {expired_days} days ago")
