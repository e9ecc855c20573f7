"""Command-line tools for SMS outreach: the daily automatic reminder and sending whatever is still queued."""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select


def _parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. 2026-09-20T09:00+08:00", param_hint="--now")
    return moment


@click.command("send-queued")
@with_appcontext
def send_queued_command():
    """Send every SMS that is due: queued while Redis was down, scheduled after quiet hours, or waiting for a retry.

    Run it from cron every few minutes (and at 08:00, when the night's messages fall due).
    """
    from webapp.jobs.messages import send_due

    counts = send_due()
    click.echo(_summary(counts) if counts else "nothing to send")


@click.command("send-daily-reminders")
@click.option("--days", default=3, show_default=True, help="start reminding this many days before the deadline")
@click.option("--now", "now_text", default=None, help="the time to act as (ISO 8601 with zone; for tests)")
@with_appcontext
def send_daily_reminders_command(days: int, now_text: str | None):
    """Remind the parents of every student still lagging, from DAYS days before the campaign's deadline.

    One SMS per phone per 24 hours still applies, so running it more than once a day sends nothing new. Exit
    status 1 when a school's reminders were refused (over the daily budget).
    """
    from confirm.clock import local_today
    from confirm.errors import DomainError
    from confirm.models import Campaign, School, SchoolClass
    from confirm.services import outreach
    from confirm.services.common import SYSTEM
    from confirm.states import MessageKind, MessageStatus
    from webapp.adapters import db
    from webapp.adapters.keys import code_key
    from webapp.shared.links import command_base_url, message_link

    now = _parse_now(now_text) or outreach.utcnow()
    today = local_today(now)
    budget = int(current_app.config.get("SMS_DAILY_BUDGET_PER_SCHOOL", outreach.DEFAULT_DAILY_BUDGET))
    session = db.session()
    refused = False
    campaigns = session.scalars(select(Campaign).where(Campaign.is_active).order_by(Campaign.school_id))
    for campaign in campaigns:
        days_left = (campaign.deadline - today).days
        school = session.get(School, campaign.school_id)
        if not 0 <= days_left <= days:
            click.echo(f"{school.code}: {days_left} days before the deadline, no automatic reminder")
            continue
        if campaign.id != outreach.active_campaign_id(session, school.id):
            continue  # an older campaign still marked active
        class_ids = session.scalars(select(SchoolClass.id).where(SchoolClass.school_id == school.id))
        students = [item for cid in class_ids for item in outreach.lagging_students(session, cid, campaign.id)]
        try:
            # the links in the messages are built as on the web, on the public address (not the fake request's)
            with current_app.test_request_context(base_url=command_base_url()):
                plan, created = outreach.queue_messages(
                    session, school, students, MessageKind.REMINDER, budget=budget, actor=SYSTEM, now=now,
                    key=code_key(), compose=outreach.composer(school, campaign, message_link(campaign)))
        except DomainError as exc:
            session.rollback()
            click.echo(f"{school.code}: refused: {exc.message}", err=True)
            refused = True
            continue
        session.commit()  # hands the queued messages to the sender
        scheduled = sum(1 for n in created if n.status == MessageStatus.SCHEDULED)
        click.echo(f"{school.code}: {len(students)} students lagging, {len(created)} SMS "
                   f"({scheduled} scheduled for 08:00), {len(plan.no_phone)} without a phone, "
                   f"{len(plan.invalid)} invalid numbers, {plan.recent_count} phones already reminded in 24 h")
    if refused:
        raise SystemExit(1)


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
