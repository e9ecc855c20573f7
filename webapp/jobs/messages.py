"""Background jobs and their web-side helpers: composing reminder and invitation texts, sending queued SMS.

Jobs run in the app context (the RQ worker, or synchronously when there is no Redis). Each opens a session of its
own, commits after every step, and leaves a message it could not finish in the table ('queued' or 'sending'), where
``flask --app webapp send-queued`` finds it again: nothing is silently dropped.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import current_app, render_template

from confirm.i18n import N_, Message
from confirm.invitations import Invitation, make_invitation_token
from confirm.models import Campaign, Notification, School, Student, utcnow
from confirm.services import notifications as outreach
from confirm.services.notifications import MAX_ATTEMPTS, Kind, SmsError
from confirm.services.records import active_campaign
from confirm.states import Stage
from webapp.adapters.keys import invite_key
from webapp.adapters.queue import enqueue
from webapp.adapters.sms import notifier

log = logging.getLogger(__name__)
MAX_INLINE_WAIT = timedelta(seconds=30)  # a longer wait leaves the message queued for send-queued


def invitation_link(student: Student, campaign: Campaign) -> str:
    """The personal registration link for ``student`` in ``campaign``."""
    token = make_invitation_token(invite_key(), Invitation(student.id, campaign.id))
    return f"{_base_url()}/register?invite={token}"


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def composer(school: School, campaign: Campaign | None) -> outreach.Compose:
    """A function writing the SMS for one student from templates/sms/: school, given name, link — no ID numbers."""

    def compose(student: Student, stage: Stage, kind: Kind) -> str:
        if stage == Stage.UNREGISTERED:
            link = invitation_link(student, campaign) if campaign else f"{_base_url()}/register"
        else:
            link = f"{_base_url()}/login"
        template = "sms/invitation.txt" if kind == Kind.INVITATION else f"sms/reminder_{stage.value}.txt"
        text = render_template(template, school=school.name, name=outreach.given_name(student.name), link=link,
                               deadline=f"{campaign.deadline.month}月{campaign.deadline.day}日" if campaign else "")
        return " ".join(text.split())

    return compose


def dispatch(ids: list[int]) -> str:
    """Hand committed messages to the worker (or send them now); "queued", "ran" or "" for nothing to do."""
    if not ids:
        return ""
    return enqueue(send_notifications, list(ids))


def send_notifications(ids: list[int]) -> dict[str, int]:
    """The job: send each message, retrying temporary failures with backoff; returns counts by final status."""
    counts: dict[str, int] = {}
    with current_app.extensions["db_sessionmaker"]() as session:
        for notification_id in ids:
            status = _send_one(session, notification_id)
            counts[status] = counts.get(status, 0) + 1
    return counts


def send_due(school_id: int | None = None) -> dict[str, int]:
    """Send every message that is due (queued, scheduled for now or earlier, or stuck); the cron / CLI path."""
    with current_app.extensions["db_sessionmaker"]() as session:
        ids = outreach.due_ids(session, school_id=school_id)
    return send_notifications(ids) if ids else {}


def _send_one(session, notification_id: int) -> str:
    backoff = float(current_app.config.get("SMS_RETRY_BACKOFF_SECONDS", 2))
    for _ in range(MAX_ATTEMPTS):
        notification = session.get(Notification, notification_id)
        if notification is None:
            return "missing"
        campaign = active_campaign(session, notification.school_id)
        if not outreach.begin_delivery(session, notification, campaign=campaign, now=utcnow()):
            session.commit()
            return notification.status
        session.commit()  # 'sending' is saved before the provider is asked: a crash leaves a visible trace
        try:
            provider_id = notifier().send(notification.phone, notification.body)
        except SmsError as exc:
            wait = outreach.record_failure(session, notification, exc, backoff=backoff, now=utcnow())
            session.commit()
            log.warning("%s failed (%s): %s", outreach.describe(notification),
                        "permanent" if exc.permanent else "temporary", exc.message)
            if wait is None or wait > MAX_INLINE_WAIT:
                return notification.status
            time.sleep(wait.total_seconds())
            continue
        except Exception as exc:  # an unknown error: the message may have gone out, so it is not retried
            log.exception("%s: unexpected error", outreach.describe(notification))
            reason = Message(N_("发送时出现未知错误（%(error)s）"), {"error": type(exc).__name__})
            error = SmsError(reason, permanent=True)
            outreach.record_failure(session, notification, error, now=utcnow())
            session.commit()
            return notification.status
        outreach.record_sent(session, notification, provider_id if isinstance(provider_id, str) else None, utcnow())
        session.commit()
        log.info("%s sent", outreach.describe(notification))
        return "sent"
    return "queued"

