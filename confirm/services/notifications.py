"""Reminders and invitations by SMS: who gets one, the limits, and the life of each message.

A message is a Notification row first (queued, or scheduled for the morning during quiet hours) and is
sent afterwards by ``deliver`` — from a worker, or synchronously — so nothing is ever silently dropped.
Limits: one message per phone per 24 h, none between 21:00 and 08:00 Shanghai time, a daily budget per school.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from confirm.errors import DomainError
from confirm.i18n import N_, Message
from confirm.models import Campaign, Guardianship, Notification, ParentAccount, School, Student, utcnow
from confirm.services.common import Actor, audit, mask_phone
from confirm.services.stats import students_with_stage
from confirm.states import STAGE_LABELS, Stage

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)
PER_PHONE_INTERVAL = timedelta(hours=24)
MAX_ATTEMPTS = 3
STALE_SENDING = timedelta(minutes=15)
DEFAULT_DAILY_BUDGET = 500

REMINDER_STAGES = (Stage.UNREGISTERED, Stage.REGISTERED, Stage.RETURNED)
ACTIVE = ("queued", "scheduled", "sending", "sent")  # statuses that count against the per-phone and daily limits

STATUS_LABELS = {
    "queued": N_("排队中"), "scheduled": N_("已安排"), "sending": N_("发送中"),
    "sent": N_("已发送"), "failed": N_("发送失败"), "skipped": N_("未发送"),
}
KIND_LABELS = {"reminder": N_("提醒"), "invitation": N_("注册邀请"), "notice": N_("通知")}

_MOBILE = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
                      "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "万俟", "闻人", "澹台", "呼延")


class Kind(StrEnum):
    REMINDER = "reminder"
    INVITATION = "invitation"


class SmsError(DomainError):
    """The SMS provider refused or failed a message; ``permanent`` says whether trying again could help."""

    def __init__(self, message: Message | str, *, permanent: bool, retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class OverBudget(DomainError):
    """The burst would pass the school's daily SMS budget; nothing was queued."""


# --- who gets a message --------------------------------------------------------------------------------------


def mobile_or_none(raw: str | None) -> str | None:
    """The 11-digit mainland mobile number in ``raw``, or None when it is not one (a landline, a typo)."""
    match = _MOBILE.match(re.sub(r"[ \-()]", "", raw or ""))
    return match.group(1) if match else None


def given_name(name: str) -> str:
    """The child's given name (张小明 → 小明): enough for the parent to know which child, no more."""
    surname = 2 if name.startswith(_COMPOUND_SURNAMES) and len(name) > 2 else 1
    return name[surname:] if len(name) > surname else name


@dataclass
class Recipients:
    """The phones one student's message goes to, and the numbers on record that cannot take an SMS."""

    phones: list[tuple[str, int | None]] = field(default_factory=list)  # (mobile, parent account id)
    invalid: list[str] = field(default_factory=list)


def preload_members(session: Session, students: Iterable[Student]) -> None:
    """Load the family members of many students in one query (the pages must not query per student)."""
    ids = [s.id for s in students]
    if ids:
        list(session.scalars(select(Student).where(Student.id.in_(ids)).options(selectinload(Student.members))))


def students_without_mobile(session: Session, students: list[Student]) -> list[Student]:
    """The unregistered students with no mobile anywhere on their record (they cannot be invited by SMS)."""
    preload_members(session, students)
    return [s for s in students if not recipients_for(session, s, Stage.UNREGISTERED).phones]


def recipients_for(session: Session, student: Student, stage: Stage) -> Recipients:
    """Registered: the linked parents' phones. Unregistered: the mobiles on the family members and the student."""
    found = Recipients()
    if stage != Stage.UNREGISTERED:
        rows = session.execute(
            select(ParentAccount.phone, ParentAccount.id)
            .join(Guardianship, Guardianship.parent_id == ParentAccount.id)
            .where(Guardianship.student_id == student.id)
            .order_by(Guardianship.id)
        ).all()
        found.phones = [(phone, parent_id) for phone, parent_id in rows]
        if found.phones:
            return found
    for raw in [m.value("phone") for m in student.members] + [student.value("phone")]:
        if not raw:
            continue
        mobile = mobile_or_none(raw)
        if mobile is None:
            if raw not in found.invalid:
                found.invalid.append(raw)
        elif mobile not in [p for p, _ in found.phones]:
            found.phones.append((mobile, None))
    return found


# --- the clock, quiet hours and the budget ----------------------------------------------------------------------


def local_day_start(now: datetime) -> datetime:
    """Midnight (Shanghai) of ``now``'s local day, as an aware datetime."""
    local = now.astimezone(LOCAL_TZ)
    return datetime.combine(local.date(), time(0), LOCAL_TZ)


def local_today(now: datetime | None = None) -> date:
    """Today's date in Shanghai."""
    return (now or utcnow()).astimezone(LOCAL_TZ).date()


def send_time(now: datetime) -> datetime | None:
    """None when a message may go out now; during quiet hours, the next 08:00 Shanghai time."""
    local = now.astimezone(LOCAL_TZ)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return None
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, LOCAL_TZ)


def used_today(session: Session, school_id: int, now: datetime) -> int:
    """Messages of the school that count against today's budget (queued, scheduled or sent today)."""
    return session.scalar(
        select(func.count()).select_from(Notification).where(
            Notification.school_id == school_id,
            Notification.created_at >= local_day_start(now),
            Notification.status.in_(ACTIVE + ("failed",)),
        )
    ) or 0


def budget_left(session: Session, school_id: int, budget: int, now: datetime | None = None) -> int:
    """How many more messages the school may queue today."""
    return max(0, budget - used_today(session, school_id, now or utcnow()))


def recently_messaged(session: Session, phones: Iterable[str], now: datetime) -> set[str]:
    """The phones that got (or are about to get) a reminder or invitation in the last 24 hours."""
    phones = list(phones)
    if not phones:
        return set()
    return set(session.scalars(
        select(Notification.phone).where(
            Notification.phone.in_(phones),
            Notification.kind.in_([k.value for k in Kind]),
            Notification.status.in_(ACTIVE),
            Notification.created_at > now - PER_PHONE_INTERVAL,
        )
    ))


# --- planning and queueing a burst ------------------------------------------------------------------------------


@dataclass
class PlannedStudent:
    student: Student
    stage: Stage
    recipients: Recipients
    recent: list[str] = field(default_factory=list)  # phones skipped: messaged in the last 24 h

    @property
    def sendable(self) -> list[tuple[str, int | None]]:
        """The phones that will get a message now."""
        return [(p, pid) for p, pid in self.recipients.phones if p not in self.recent]

    @property
    def has_no_phone(self) -> bool:
        return not self.recipients.phones


@dataclass
class Plan:
    """What a burst would send: per student the phones, the numbers flagged, the limits that apply."""

    kind: Kind
    students: list[PlannedStudent]
    budget_left: int
    send_at: datetime | None  # None: now; else the morning after quiet hours

    @property
    def message_count(self) -> int:
        return sum(len(p.sendable) for p in self.students)

    @property
    def no_phone(self) -> list[Student]:
        return [p.student for p in self.students if p.has_no_phone]

    @property
    def invalid(self) -> list[tuple[Student, str]]:
        return [(p.student, raw) for p in self.students for raw in p.recipients.invalid]

    @property
    def recent_count(self) -> int:
        return sum(len(p.recent) for p in self.students)


def plan_messages(
    session: Session, students: list[tuple[Student, Stage]], kind: Kind, *, budget: int, now: datetime | None = None
) -> Plan:
    """Work out who would get a message (checking numbers and the 24-hour limit) without queueing anything."""
    now = now or utcnow()
    preload_members(session, [s for s, _ in students])
    planned = [PlannedStudent(student, stage, recipients_for(session, student, stage)) for student, stage in students]
    recent = recently_messaged(session, {p for item in planned for p, _ in item.recipients.phones}, now)
    seen: set[str] = set()
    for item in planned:  # brothers and sisters share a phone: one message per phone per burst, too
        for phone, _ in item.recipients.phones:
            if phone in recent or phone in seen:
                item.recent.append(phone)
            seen.add(phone)
    school_id = students[0][0].school_id if students else 0
    return Plan(kind, planned, budget_left(session, school_id, budget, now), send_time(now))


Compose = Callable[[Student, Stage, Kind], str]


def queue_messages(
    session: Session,
    school: School,
    students: list[tuple[Student, Stage]],
    kind: Kind,
    *,
    compose: Compose,
    budget: int,
    actor: Actor,
    now: datetime | None = None,
) -> tuple[Plan, list[Notification]]:
    """Queue one message per sendable phone (scheduled for 08:00 in quiet hours); refuse a burst over budget."""
    now = now or utcnow()
    plan = plan_messages(session, students, kind, budget=budget, now=now)
    if plan.message_count > plan.budget_left:
        raise OverBudget(Message(
            N_("超出本校今天的短信额度：这次需要发送 %(needed)s 条，今天还可以发送 %(left)s 条。"
               "请减少学生或明天再发。"),
            {"needed": plan.message_count, "left": plan.budget_left},
        ))
    created: list[Notification] = []
    for item in plan.students:
        sendable = item.sendable
        if not sendable:
            continue
        body = compose(item.student, item.stage, kind)
        for phone, parent_id in sendable:
            created.append(Notification(
                school_id=school.id, student_id=item.student.id, parent_id=parent_id, phone=phone, kind=kind.value,
                stage=item.stage.value, body=body, status="scheduled" if plan.send_at else "queued",
                scheduled_for=plan.send_at, created_by_id=actor.id if actor.kind == "staff" else None,
                created_at=now,
            ))
    session.add_all(created)
    session.flush()
    audit(session, actor, f"{kind.value}.queue", school_id=school.id, at=now, detail={
        "students": len(plan.students), "messages": len(created), "no_phone": len(plan.no_phone),
        "invalid_numbers": len(plan.invalid), "skipped_recent": plan.recent_count,
        "scheduled_for": plan.send_at.isoformat() if plan.send_at else None,
    })
    return plan, created


def active_campaign_id(session: Session, school_id: int) -> int | None:
    """The id of the school's running campaign (the newest active one)."""
    return session.scalar(
        select(Campaign.id).where(Campaign.school_id == school_id, Campaign.is_active)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc()).limit(1)
    )


def lagging_students(session: Session, class_id: int, campaign_id: int | None,
                     stages: Iterable[Stage] = REMINDER_STAGES) -> list[tuple[Student, Stage]]:
    """The class's students in ``stages`` (by default everyone who still has something to do)."""
    wanted = set(stages)
    return [(s, st) for s, st in students_with_stage(session, class_id, campaign_id) if st in wanted]


# --- sending ---------------------------------------------------------------------------------------------------


def due_ids(session: Session, now: datetime | None = None, school_id: int | None = None) -> list[int]:
    """Messages waiting to go out now: queued, scheduled and due, or stuck 'sending' for a long time."""
    now = now or utcnow()
    query = select(Notification.id).where(
        ((Notification.status.in_(("queued", "scheduled")))
         & ((Notification.scheduled_for.is_(None)) | (Notification.scheduled_for <= now)))
        | ((Notification.status == "sending") & (Notification.created_at < now - STALE_SENDING)
           & ((Notification.scheduled_for.is_(None)) | (Notification.scheduled_for < now - STALE_SENDING)))
    )
    if school_id is not None:
        query = query.where(Notification.school_id == school_id)
    return list(session.scalars(query.order_by(Notification.id)))


def _still_wanted(session: Session, notification: Notification, campaign: Campaign | None) -> bool:
    """A reminder for a stage the student has left (registered, submitted) is not sent."""
    if notification.student_id is None or notification.stage is None:
        return True
    rows = students_with_stage(session, session.get(Student, notification.student_id).class_id,
                               campaign.id if campaign else None)
    stage = next((st for s, st in rows if s.id == notification.student_id), None)
    if notification.kind == Kind.INVITATION:
        return stage == Stage.UNREGISTERED
    return stage in REMINDER_STAGES


def _is_stale(notification: Notification, now: datetime) -> bool:
    started = max(notification.created_at, notification.scheduled_for or notification.created_at)
    return started < now - STALE_SENDING


def begin_delivery(session: Session, notification: Notification, *, campaign: Campaign | None,
                   now: datetime | None = None) -> bool:
    """Mark the message as being sent (count the attempt); False when it is not due or no longer wanted."""
    now = now or utcnow()
    if notification.status == "sending" and not _is_stale(notification, now):
        return False  # another worker is on it
    if notification.status not in ("queued", "scheduled", "sending"):
        return False
    if notification.scheduled_for is not None and notification.scheduled_for > now:
        return False
    if not _still_wanted(session, notification, campaign):
        notification.status = "skipped"
        notification.reason = str(Message(N_("学生已进入下一步，不再需要这条短信")))
        session.flush()
        return False
    claimed = session.execute(  # a conditional update: two workers never both claim one message
        update(Notification)
        .where(Notification.id == notification.id, Notification.status == notification.status)
        .values(status="sending", attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(notification)
    return claimed == 1


def record_sent(session: Session, notification: Notification, provider_id: str | None,
                now: datetime | None = None) -> None:
    """The provider accepted the message."""
    notification.status = "sent"
    notification.sent_at = now or utcnow()
    notification.provider_id = (provider_id or "")[:64] or None
    notification.reason = None
    session.flush()


def record_failure(session: Session, notification: Notification, error: SmsError, *, backoff: float = 2.0,
                   now: datetime | None = None) -> timedelta | None:
    """Record a failed attempt; returns the wait before the next try, or None when the message has failed for good.

    The wait doubles per attempt from ``backoff`` seconds (2 s, 4 s with the default), unless the provider said.
    """
    now = now or utcnow()
    reason = str(error.message)
    if error.permanent or notification.attempts >= MAX_ATTEMPTS:
        notification.status = "failed"
        notification.reason = reason if error.permanent else str(Message(
            N_("已尝试 %(n)s 次仍未成功：%(reason)s"), {"n": notification.attempts, "reason": reason}))
        session.flush()
        return None
    seconds = error.retry_after if error.retry_after is not None else backoff * 2 ** (notification.attempts - 1)
    wait = timedelta(seconds=seconds)
    notification.status = "queued"
    notification.reason = str(Message(N_("暂时失败，将自动重试：%(reason)s"), {"reason": reason}))
    notification.scheduled_for = now + wait
    session.flush()
    return wait


def describe(notification: Notification) -> str:
    """A log line for a message that shows no phone number in full."""
    return f"notification {notification.id} ({notification.kind}) to {mask_phone(notification.phone)}"


def stage_label(value: str | None) -> str:
    """The Chinese label of a stored stage value."""
    try:
        return STAGE_LABELS[Stage(value)]
    except ValueError:
        return value or ""
