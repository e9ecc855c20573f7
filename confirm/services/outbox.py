"""The outbox: every SMS the platform sends, from a one-time code to a reminder, is a row written here in the
transaction of the change that causes it, and leaves only after that transaction commits.

``queue_sms`` renders the text from ``templates/sms/<template>.txt`` (one ``given_name`` filter for children's
names), refuses a number that is not a mobile before anything is sent (the row is kept as failed, with the reason)
and announces the row to the session's sender (see ``confirm.unit_of_work``). The sender — the RQ worker, or a
single attempt right after the response — calls the delivery steps below: ``claim`` (saved before the provider is
asked), then ``record_sent`` or ``record_failure``. A temporary failure leaves the row queued with the time of its
next attempt; nothing here ever waits.

A one-time code or temporary password never sits in ``body``: the row keeps it in ``secret`` until it is sent (or
has failed for good) and then blanks it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from confirm.errors import DomainError
from confirm.i18n import N_, Message
from confirm.models import Notification, Student, utcnow
from confirm.presentation import given_name
from confirm.services.common import mask_phone
from confirm.services.stats import students_with_stage
from confirm.states import MESSAGE_MOVES, REMINDER_STAGES, MessageKind, MessageStatus, Stage, move
from confirm.unit_of_work import announce
from confirm.validation import mobile_number

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "sms"
SECRET_MARK = "{secret}"  # where the secret goes in ``body``
MASKED_SECRET = "******"
PUBLIC_BASE_URL = "public_base_url"  # session.info key: the address links in messages start with
MAX_ATTEMPTS = 3
STALE_SENDING = timedelta(minutes=15)  # an attempt older than this was cut short (a worker died mid-send)
CODE_USEFUL_FOR = timedelta(minutes=10)  # a one-time code is not worth sending once it has expired
DEFAULT_BACKOFF = 30.0  # seconds before the first retry of a temporary failure; doubled per attempt



class SmsError(DomainError):
    """The SMS provider refused or failed a message; ``permanent`` says whether trying again could help."""

    def __init__(self, message: Message | str, *, permanent: bool, retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


@cache
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, undefined=StrictUndefined)
    env.filters["given_name"] = given_name
    return env


def render_sms(template: str, **params: Any) -> str:
    """The text of ``templates/sms/<template>.txt`` with ``params``, on one line."""
    return " ".join(_environment().get_template(f"{template}.txt").render(**params).split())


def public_url(session: Session, path: str) -> str:
    """``path`` on the platform's public address (as configured for the session's app), for links in messages."""
    return str(session.info.get(PUBLIC_BASE_URL, "")).rstrip("/") + path


def queue_sms(
    session: Session,
    *,
    phone: str,
    template: str,
    kind: MessageKind,
    params: dict[str, Any] | None = None,
    secret: str | None = None,
    school_id: int | None = None,
    student_id: int | None = None,
    parent_id: int | None = None,
    stage: str | None = None,
    created_by_id: int | None = None,
    scheduled_for: datetime | None = None,
    now: datetime | None = None,
    unsent_because: Message | None = None,
) -> Notification:
    """Write one message to the outbox; it is sent once the transaction commits (or at ``scheduled_for``).

    With ``unsent_because`` the row is written the same way but kept as skipped with that reason and never sent
    (a code asked for a phone without an account: the answer, and the work behind it, stay the same).
    """
    now = now or utcnow()
    mobile = mobile_number(phone)
    body = render_sms(template, secret=SECRET_MARK, **(params or {}))
    status = MessageStatus.SCHEDULED if scheduled_for else MessageStatus.QUEUED
    reason = None
    if unsent_because is not None:
        status, secret, reason = MessageStatus.SKIPPED, None, str(unsent_because)
    elif mobile is None:
        status, secret = MessageStatus.FAILED, None
        reason = str(Message(N_("不是手机号码，无法发送短信")))
    message = Notification(
        school_id=school_id, student_id=student_id, parent_id=parent_id, phone=mobile or phone[:20], kind=kind.value,
        template=template, stage=stage, body=body, secret=secret, status=status.value, reason=reason,
        scheduled_for=scheduled_for, created_by_id=created_by_id, created_at=now,
    )
    session.add(message)
    session.flush()
    if status == MessageStatus.QUEUED:
        announce(session, message.id)
    return message


def text_to_send(message: Notification) -> str:
    """The text the provider gets: the body with the secret in its place."""
    return message.body.replace(SECRET_MARK, message.secret or MASKED_SECRET)


def shown_body(message: Notification) -> str:
    """The text as staff may read it in a message history: any code or password masked."""
    return message.body.replace(SECRET_MARK, MASKED_SECRET)


def describe(message: Notification) -> str:
    """A log line for a message that shows no phone number in full."""
    return f"notification {message.id} ({message.kind}) to {mask_phone(message.phone)}"


# --- delivery: the sender's steps --------------------------------------------------------------------------------


def due_ids(session: Session, now: datetime | None = None, school_id: int | None = None) -> list[int]:
    """Messages waiting to go out now: queued or scheduled and due, or stuck 'sending' after a crash."""
    now = now or utcnow()
    due = (Notification.scheduled_for.is_(None)) | (Notification.scheduled_for <= now)
    query = select(Notification.id).where(
        (Notification.status.in_((MessageStatus.QUEUED.value, MessageStatus.SCHEDULED.value)) & due)
        | ((Notification.status == MessageStatus.SENDING.value)
           & (Notification.sending_since < now - STALE_SENDING))
    )
    if school_id is not None:
        query = query.where(Notification.school_id == school_id)
    return list(session.scalars(query.order_by(Notification.id)))


def _still_wanted(session: Session, message: Notification, now: datetime) -> Message | None:
    """Why the message is no longer worth sending, or None when it still is."""
    if message.kind == MessageKind.CODE and message.created_at < now - CODE_USEFUL_FOR:
        return Message(N_("验证码已过期，未再发送"))
    if message.kind not in (MessageKind.REMINDER, MessageKind.INVITATION) or message.student_id is None:
        return None
    from confirm.services.records import active_campaign

    student = session.get(Student, message.student_id)
    campaign = active_campaign(session, student.school_id) if student else None
    rows = students_with_stage(session, student.class_id, campaign.id if campaign else None) if student else []
    stage = next((st for s, st in rows if s.id == message.student_id), None)
    wanted = stage == Stage.UNREGISTERED if message.kind == MessageKind.INVITATION else stage in REMINDER_STAGES
    return None if wanted else Message(N_("学生已进入下一步，不再需要这条短信"))


def claim(session: Session, message: Notification, *, now: datetime | None = None) -> bool:
    """Take the message for one attempt (counted, and saved before the provider is asked); False when it is not
    due, taken by another sender, or no longer wanted (then it is marked skipped)."""
    now = now or utcnow()
    status = MessageStatus(message.status)
    if MessageStatus.SENDING not in MESSAGE_MOVES[status]:
        return False  # being sent by another sender (a stale attempt is recovered first), or finished
    if message.scheduled_for is not None and message.scheduled_for > now:
        return False
    unwanted = _still_wanted(session, message, now)
    if unwanted is not None:
        message.status = move(status, MessageStatus.SKIPPED, MESSAGE_MOVES).value
        message.reason = str(unwanted)
        message.secret = None
        session.flush()
        return False
    claimed = session.execute(  # a conditional update: two senders never both claim one message
        update(Notification)
        .where(Notification.id == message.id, Notification.status == message.status,
               Notification.attempts == message.attempts)
        .values(status=MessageStatus.SENDING.value, attempts=Notification.attempts + 1, sending_since=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(message)
    return claimed == 1


def record_sent(session: Session, message: Notification, provider_id: str | None,
                now: datetime | None = None) -> None:
    """The provider accepted the message; its secret is no longer kept."""
    message.status = move(message.status, MessageStatus.SENT, MESSAGE_MOVES).value
    message.sent_at = now or utcnow()
    message.provider_id = (provider_id or "")[:64] or None
    message.reason = None
    message.secret = None
    session.flush()


def record_failure(session: Session, message: Notification, error: SmsError, *, backoff: float = DEFAULT_BACKOFF,
                   now: datetime | None = None) -> datetime | None:
    """Record a failed attempt; returns when to try again, or None when the message has failed for good.

    The wait doubles per attempt from ``backoff`` seconds, unless the provider said how long to wait.
    """
    now = now or utcnow()
    reason = str(error.message)
    if error.permanent or message.attempts >= MAX_ATTEMPTS:
        message.status = move(message.status, MessageStatus.FAILED, MESSAGE_MOVES).value
        message.reason = reason if error.permanent else str(Message(
            N_("已尝试 %(n)s 次仍未成功：%(reason)s"), {"n": message.attempts, "reason": reason}))
        message.secret = None
        session.flush()
        return None
    seconds = error.retry_after if error.retry_after is not None else backoff * 2 ** (message.attempts - 1)
    message.status = move(message.status, MessageStatus.QUEUED, MESSAGE_MOVES).value
    message.reason = str(Message(N_("暂时失败，将自动重试：%(reason)s"), {"reason": reason}))
    message.scheduled_for = now + timedelta(seconds=seconds)
    message.sending_since = None
    session.flush()
    return message.scheduled_for


def is_stale(message: Notification, now: datetime | None = None) -> bool:
    """True for an attempt cut short: 'sending' for longer than any attempt takes (its sender died mid-send)."""
    return (message.status == MessageStatus.SENDING and message.sending_since is not None
            and message.sending_since < (now or utcnow()) - STALE_SENDING)


def record_unsure(session: Session, message: Notification) -> None:
    """An attempt was cut short and the provider has no trace of it: the message goes back in the queue, due now."""
    message.status = move(message.status, MessageStatus.QUEUED, MESSAGE_MOVES).value
    message.reason = str(Message(N_("上次发送被中断，服务商没有收到，将重新发送")))
    message.scheduled_for = None
    message.sending_since = None
    session.flush()
