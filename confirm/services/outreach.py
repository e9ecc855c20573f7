"""Reminders and invitations by SMS: who gets one, and the limits.

Each message is a row of the outbox (``confirm.services.outbox``): queued, or scheduled for the morning during
quiet hours, and sent after the commit by the one sender. Limits: one reminder or invitation per phone per 24 h,
none between 21:00 and 08:00 Shanghai time, and a daily budget per school.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from confirm.clock import LOCAL_TZ, local_today
from confirm.errors import DomainError
from confirm.i18n import N_, Message
from confirm.models import (
    Campaign,
    FamilyMember,
    Guardianship,
    Notification,
    ParentAccount,
    School,
    Student,
    utcnow,
)
from confirm.services.common import Actor, audit
from confirm.services.limits import OUTREACH_PER_PHONE, SCHOOL_DAY, peek, spend, used
from confirm.services.outbox import queue_sms
from confirm.services.stats import stage_expression, stage_query, students_with_stage
from confirm.states import REMINDER_STAGES, STAGE_LABELS, MessageKind, MessageStatus, Stage
from confirm.validation import mobile_number

QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)
DEFAULT_DAILY_BUDGET = 500


STATUS_LABELS = {
    MessageStatus.QUEUED: N_("排队中"), MessageStatus.SCHEDULED: N_("已安排"), MessageStatus.SENDING: N_("发送中"),
    MessageStatus.SENT: N_("已发送"), MessageStatus.FAILED: N_("发送失败"), MessageStatus.SKIPPED: N_("未发送"),
}
KIND_LABELS = {
    MessageKind.REMINDER: N_("提醒"), MessageKind.INVITATION: N_("注册邀请"), MessageKind.NOTICE: N_("通知"),
    MessageKind.CODE: N_("验证码"), MessageKind.PASSWORD: N_("临时密码"),
}


class OverBudget(DomainError):
    """The burst would pass the school's daily SMS budget; nothing was queued."""


# --- who gets a message --------------------------------------------------------------------------------------


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
        mobile = mobile_number(raw)
        if mobile is None:
            if raw not in found.invalid:
                found.invalid.append(raw)
        elif mobile not in [p for p, _ in found.phones]:
            found.phones.append((mobile, None))
    return found


def _has_mobile(raws: Iterable[str | None]) -> bool:
    """True when one of the raw phone fields is a mobile (the rule of ``recipients_for`` for an unregistered
    student), for counting without loading the records."""
    return any(raw and mobile_number(raw) is not None for raw in raws)


def invitation_counts(session: Session, class_id: int, unregistered: Iterable[int]) -> dict[str, int]:
    """The class's invitations at a glance: students whose latest invitation was delivered (``sent``), failed or is
    ``pending``, how many were ever ``invited``, and of the ``unregistered`` students (ids) those with no mobile on
    record (``no_mobile``: they cannot be invited, as ``recipients_for`` finds). Two statements however many
    students; only the phone fields of the records are read."""
    rows = session.execute(
        select(Notification.student_id, Notification.status)
        .join(Student, Student.id == Notification.student_id)
        .where(Student.class_id == class_id, Notification.kind == MessageKind.INVITATION.value)
        .order_by(Notification.id)
    ).all()
    per_student: dict[int, set[str]] = {}
    for student_id, status in rows:
        per_student.setdefault(student_id, set()).add(status)
    counts: dict[str, int] = {}
    for statuses in per_student.values():
        if MessageStatus.SENT in statuses:
            outcome = "sent"
        elif statuses & {MessageStatus.QUEUED, MessageStatus.SCHEDULED, MessageStatus.SENDING}:
            outcome = "pending"
        elif MessageStatus.FAILED in statuses:
            outcome = "failed"
        else:
            continue
        counts[outcome] = counts.get(outcome, 0) + 1
    phones: dict[int, list[str | None]] = {}
    ids = list(unregistered)
    if ids:
        for student_id, own, member in session.execute(
            select(Student.id, Student.record["phone"].as_string(), FamilyMember.record["phone"].as_string())
            .outerjoin(FamilyMember, FamilyMember.student_id == Student.id)
            .where(Student.id.in_(ids))
        ):
            phones.setdefault(student_id, [own]).append(member)
    counts["no_mobile"] = sum(not _has_mobile(raws) for raws in phones.values())
    counts["invited"] = len(per_student)
    return counts


def unregistered_students(session: Session, class_id: int, campaign_id: int | None) -> list[int]:
    """The ids of the class's students no parent has registered for (one statement)."""
    return list(session.scalars(stage_query(campaign_id, Student.id).where(
        Student.class_id == class_id, stage_expression(campaign_id) == Stage.UNREGISTERED.value)))


# --- the clock, quiet hours and the budget ----------------------------------------------------------------------


def send_time(now: datetime) -> datetime | None:
    """None when a message may go out now; during quiet hours, the next 08:00 Shanghai time."""
    local = now.astimezone(LOCAL_TZ)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return None
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, LOCAL_TZ)


def used_today(session: Session, school_id: int, now: datetime, *, key: bytes) -> int:
    """Reminders and invitations the school has queued today (Shanghai's day): what counts against its budget."""
    return peek(session, SCHOOL_DAY, school_id, local_today(now), key=key, now=now)


def budget_left(session: Session, school_id: int, budget: int, now: datetime | None = None, *, key: bytes) -> int:
    """How many more messages the school may queue today."""
    return max(0, budget - used_today(session, school_id, now or utcnow(), key=key))


def recently_messaged(session: Session, phones: Iterable[str], now: datetime, *, key: bytes) -> set[str]:
    """The phones that got (or are about to get) a reminder or invitation in the last 24 hours."""
    return used(session, OUTREACH_PER_PHONE, list(phones), key=key, now=now)


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

    kind: MessageKind
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
    session: Session, students: list[tuple[Student, Stage]], kind: MessageKind, *, budget: int, key: bytes,
    now: datetime | None = None,
) -> Plan:
    """Work out who would get a message (checking numbers and the 24-hour limit) without queueing anything."""
    now = now or utcnow()
    preload_members(session, [s for s, _ in students])
    planned = [PlannedStudent(student, stage, recipients_for(session, student, stage)) for student, stage in students]
    recent = recently_messaged(session, {p for item in planned for p, _ in item.recipients.phones}, now, key=key)
    seen: set[str] = set()
    for item in planned:  # brothers and sisters share a phone: one message per phone per burst, too
        for phone, _ in item.recipients.phones:
            if phone in recent or phone in seen:
                item.recent.append(phone)
            seen.add(phone)
    school_id = students[0][0].school_id if students else 0
    return Plan(kind, planned, budget_left(session, school_id, budget, now, key=key), send_time(now))


# What a message to one student says: a template of templates/sms/ and its parameters.
Compose = Callable[[Student, Stage, MessageKind], tuple[str, dict[str, Any]]]


def composer(school: School, campaign: Campaign | None, link: Callable[[Student, Stage], str]) -> Compose:
    """The reminder or invitation for one student: school, the child's given name, ``link(student, stage)`` and
    the deadline — never an ID number."""
    deadline = f"{campaign.deadline.month}月{campaign.deadline.day}日" if campaign else ""

    def compose(student: Student, stage: Stage, kind: MessageKind) -> tuple[str, dict[str, Any]]:
        template = "invitation" if kind == MessageKind.INVITATION else f"reminder_{stage.value}"
        return template, {"school": school.name, "student_name": student.name, "link": link(student, stage),
                          "deadline": deadline}

    return compose


def queue_messages(
    session: Session,
    school: School,
    students: list[tuple[Student, Stage]],
    kind: MessageKind,
    *,
    compose: Compose,
    budget: int,
    actor: Actor,
    key: bytes,
    now: datetime | None = None,
) -> tuple[Plan, list[Notification]]:
    """Queue one message per sendable phone (scheduled for 08:00 in quiet hours); refuse a burst over budget.

    Both limits are counted atomically (``confirm.services.limits``): two bursts sent at once for one class take
    turns on each phone's counter, so no phone gets two, and on the school's day, so the budget holds.
    """
    now = now or utcnow()
    plan = plan_messages(session, students, kind, budget=budget, key=key, now=now)
    day = spend(session, SCHOOL_DAY, school.id, local_today(now), key=key, now=now, amount=plan.message_count)
    if day.count > budget:
        left = max(0, budget - (day.count - plan.message_count))
        raise OverBudget(Message(
            N_("超出本校今天的短信额度：这次需要发送 %(needed)s 条，今天还可以发送 %(left)s 条。"
               "请减少学生或明天再发。"),
            {"needed": plan.message_count, "left": left},
        ))
    created: list[Notification] = []
    for item in plan.students:
        sendable = []
        for phone, parent_id in item.sendable:
            if spend(session, OUTREACH_PER_PHONE, phone, key=key, now=now).is_within:
                sendable.append((phone, parent_id))
            else:
                item.recent.append(phone)  # another burst got there first
        if not sendable:
            continue
        template, params = compose(item.student, item.stage, kind)
        for phone, parent_id in sendable:
            created.append(queue_sms(
                session, phone=phone, template=template, params=params, kind=kind, school_id=school.id,
                student_id=item.student.id, parent_id=parent_id, stage=item.stage.value,
                scheduled_for=plan.send_at, created_by_id=actor.id if actor.kind == "staff" else None, now=now,
            ))
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


def stage_label(value: str | None) -> str:
    """The Chinese label of a stored stage value."""
    try:
        return STAGE_LABELS[Stage(value)]
    except ValueError:
        return value or ""
