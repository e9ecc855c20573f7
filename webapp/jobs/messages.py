"""The one sender of the outbox: one attempt per message, never a wait.

``deliver`` is the job the RQ worker runs for committed message ids (or the app runs once, right after the
response, when there is no Redis). A temporary failure leaves the message queued with the time of its next try:
the worker's scheduler (``flask worker`` starts RQ's) or ``flask send-queued`` from cron tries again then.

A message is marked 'sending' and committed before the provider is asked, so an attempt cut short (a worker
killed mid-send) is visible; before such a message is tried again the provider is asked whether it went out, so
one row is never sent twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from confirm.i18n import N_, Message
from confirm.models import Notification, utcnow
from confirm.services import outbox
from confirm.services.outbox import SmsError
from confirm.states import MessageStatus
from webapp.adapters.sms import notifier

log = logging.getLogger(__name__)
LOOK_BACK = timedelta(minutes=2)  # when asking the provider about a cut-short attempt, from a little before it


def deliver(ids: list[int]) -> dict[str, int]:
    """The job: one attempt for each message; returns how many ended in each status."""
    counts: dict[str, int] = {}
    with current_app.extensions["db_sessionmaker"]() as session:
        for message_id in ids:
            status = _attempt(session, int(message_id))
            counts[status] = counts.get(status, 0) + 1
    return counts


def send_due(school_id: int | None = None) -> dict[str, int]:
    """Every message that is due now (queued, scheduled, waiting for a retry, or cut short); the cron path."""
    with current_app.extensions["db_sessionmaker"]() as session:
        ids = outbox.due_ids(session, school_id=school_id)
    return deliver(ids) if ids else {}


def _attempt(session, message_id: int) -> str:
    message = session.get(Notification, message_id)
    if message is None:
        return "missing"
    now = utcnow()
    if outbox.is_stale(message, now) and _went_out_before(session, message):
        return message.status
    claimed = outbox.claim(session, message, now=now)
    session.commit()  # 'sending' (or 'skipped') is saved before the provider is asked
    if not claimed:
        return message.status
    try:
        provider_id = notifier().send(message.phone, outbox.text_to_send(message))
    except SmsError as exc:
        retry_at = outbox.record_failure(session, message, exc, now=utcnow(), backoff=_backoff())
        session.commit()
        log.warning("%s failed (%s): %s", outbox.describe(message), "permanent" if exc.permanent else "temporary",
                    exc.message)
        if retry_at is not None:
            _schedule_retry(message.id, retry_at)
        return message.status
    except Exception as exc:  # an unknown error: the message may have gone out, so it is not retried
        log.error("%s: unexpected error %s", outbox.describe(message), type(exc).__name__)
        reason = Message(N_("发送时出现未知错误（%(error)s）"), {"error": type(exc).__name__})
        outbox.record_failure(session, message, SmsError(reason, permanent=True), now=utcnow())
        session.commit()
        return message.status
    outbox.record_sent(session, message, provider_id if isinstance(provider_id, str) else None, utcnow())
    session.commit()
    log.info("%s sent", outbox.describe(message))
    return MessageStatus.SENT.value


def _went_out_before(session, message: Notification) -> bool:
    """For an attempt cut short: True (and the message recorded as sent) when the provider has it; otherwise the
    message goes back to the queue and this attempt carries on."""
    try:
        found = notifier().find_sent(message.phone, outbox.text_to_send(message), message.sending_since - LOOK_BACK)
    except Exception as exc:  # cannot tell: leave it as it is, the next run asks again
        log.warning("%s: could not ask the provider (%s)", outbox.describe(message), type(exc).__name__)
        return True
    if found:
        outbox.record_sent(session, message, found, utcnow())
    else:
        outbox.record_unsure(session, message)
    session.commit()
    return bool(found)


def _backoff() -> float:
    return float(current_app.config.get("SMS_RETRY_BACKOFF_SECONDS", outbox.DEFAULT_BACKOFF))


def _schedule_retry(message_id: int, when) -> None:
    """With a worker, ask its scheduler to try again at ``when``; without one, ``send-queued`` finds the row."""
    queue = current_app.extensions.get("job_queue")
    if queue is None:
        return
    try:
        queue.enqueue_at(when, deliver, [message_id])
    except Exception as exc:  # the row stays queued with its time: send-queued still finds it
        log.warning("could not schedule the retry of notification %s (%s)", message_id, type(exc).__name__)
