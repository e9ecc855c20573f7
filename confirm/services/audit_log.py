"""The school admin's reading of the audit trail: filter by actor, student, action and date range, page by page,
and the same selection as a workbook (whose export is itself audited).

Only the school's own events are ever read (``school_id``). An event "concerns a student" when its target is the
student or one of the student's confirmations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from openpyxl import Workbook
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from confirm.exporting import _as_text, _header_cells, _save
from confirm.masking import mask_personal_numbers
from confirm.models import AuditEvent, Confirmation, ParentAccount, StaffUser, Student
from confirm.services.common import Actor, audit
from confirm.services.exports import AuditAction

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000  # events in one workbook: a year of a large school; narrow the dates for more


@dataclass(frozen=True)
class AuditFilter:
    """What the admin asked for; ``None`` means "any"."""

    actor_kind: str | None = None  # "staff" | "parent" | "system"
    actor_id: int | None = None  # with actor_kind "staff": one staff user
    student: str | None = None  # a student's name or ID number, as typed
    student_id: int | None = None  # one student (a link from the list)
    action: str | None = None  # an exact action, or a family such as "export."
    since: date | None = None  # from this day (UTC), inclusive
    until: date | None = None  # to this day (UTC), inclusive


@dataclass(frozen=True)
class AuditLine:
    """One event as the page and the workbook show it."""

    event: AuditEvent
    actor: str  # the staff user's name, the parent's platform number, or "system"
    student: Student | None


@dataclass(frozen=True)
class AuditPage:
    lines: list[AuditLine]
    page: int
    pages: int
    total: int


def _students_matching(session: Session, school_id: int, wanted: AuditFilter) -> list[int] | None:
    if wanted.student_id is not None:
        return [wanted.student_id]
    text = (wanted.student or "").strip()
    if not text:
        return None
    return list(session.scalars(select(Student.id).where(
        Student.school_id == school_id, or_(Student.name == text, Student.id_number == text.upper()))))


def _conditions(session: Session, school_id: int, wanted: AuditFilter) -> list:
    conditions = [AuditEvent.school_id == school_id]
    if wanted.actor_kind:
        conditions.append(AuditEvent.actor_kind == wanted.actor_kind)
        if wanted.actor_id is not None:
            conditions.append(AuditEvent.actor_id == wanted.actor_id)
    if wanted.action:
        if wanted.action.endswith("."):
            conditions.append(AuditEvent.action.startswith(wanted.action, autoescape=True))
        else:
            conditions.append(AuditEvent.action == wanted.action)
    if wanted.since:
        conditions.append(AuditEvent.at >= datetime.combine(wanted.since, time.min, tzinfo=UTC))
    if wanted.until:
        conditions.append(AuditEvent.at < datetime.combine(wanted.until + timedelta(days=1), time.min, tzinfo=UTC))
    students = _students_matching(session, school_id, wanted)
    if students is not None:
        confirmations = select(Confirmation.id).where(Confirmation.student_id.in_(students))
        conditions.append(or_(
            and_(AuditEvent.target_type == Student.__tablename__, AuditEvent.target_id.in_(students)),
            and_(AuditEvent.target_type == Confirmation.__tablename__, AuditEvent.target_id.in_(confirmations)),
        ))
    return conditions


def _lines(session: Session, events: list[AuditEvent]) -> list[AuditLine]:
    staff_ids = {e.actor_id for e in events if e.actor_kind == "staff" and e.actor_id}
    parent_ids = {e.actor_id for e in events if e.actor_kind == "parent" and e.actor_id}
    staff = dict(session.execute(select(StaffUser.id, StaffUser.display_name)
                                 .where(StaffUser.id.in_(staff_ids))).all()) if staff_ids else {}
    parents = dict(session.execute(select(ParentAccount.id, ParentAccount.platform_no)
                                   .where(ParentAccount.id.in_(parent_ids))).all()) if parent_ids else {}
    student_of: dict[tuple[str, int], int] = {}
    for e in events:
        if e.target_type == Student.__tablename__ and e.target_id:
            student_of[(e.target_type, e.target_id)] = e.target_id
    confirmation_ids = {e.target_id for e in events if e.target_type == Confirmation.__tablename__ and e.target_id}
    if confirmation_ids:
        for cid, sid in session.execute(select(Confirmation.id, Confirmation.student_id)
                                        .where(Confirmation.id.in_(confirmation_ids))):
            student_of[(Confirmation.__tablename__, cid)] = sid
    students = {s.id: s for s in session.scalars(select(Student).where(Student.id.in_(set(student_of.values()))))} \
        if student_of else {}
    lines = []
    for e in events:
        if e.actor_kind == "staff":
            who = staff.get(e.actor_id, f"#{e.actor_id}")
        elif e.actor_kind == "parent":
            who = parents.get(e.actor_id, f"#{e.actor_id}")
        else:
            who = e.actor_kind
        sid = student_of.get((e.target_type or "", e.target_id or 0))
        lines.append(AuditLine(e, who, students.get(sid) if sid else None))
    return lines


def audit_page(session: Session, school_id: int, wanted: AuditFilter, page: int = 1) -> AuditPage:
    """Page ``page`` (from 1; out of range is the nearest page) of the school's events that match, newest first."""
    conditions = _conditions(session, school_id, wanted)
    total = session.scalar(select(func.count(AuditEvent.id)).where(*conditions)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    events = list(session.scalars(select(AuditEvent).where(*conditions)
                                  .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                                  .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    return AuditPage(_lines(session, events), page, pages, total)


def actions_seen(session: Session, school_id: int) -> list[str]:
    """The actions the school's trail holds (for the filter's choices)."""
    return list(session.scalars(select(AuditEvent.action).where(AuditEvent.school_id == school_id)
                                .distinct().order_by(AuditEvent.action)))


def detail_text(detail: dict[str, Any] | None) -> str:
    """An event's detail as one short line (never a full phone or ID number)."""
    if not detail:
        return ""
    return mask_personal_numbers(json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str))


AUDIT_HEADERS = ("时间（UTC）", "操作人类别", "操作人", "操作", "学生", "对象", "详情", "IP")


def audit_workbook(session: Session, school_id: int, wanted: AuditFilter, *, actor: Actor) -> bytes:
    """The matching events (up to EXPORT_LIMIT, newest first) as a workbook; the export is audited with its count."""
    conditions = _conditions(session, school_id, wanted)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("操作记录")
    sheet.append(_header_cells(sheet, AUDIT_HEADERS))
    events = list(session.scalars(select(AuditEvent).where(*conditions)
                                  .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(EXPORT_LIMIT)))
    for start in range(0, len(events), 1000):  # names looked up a thousand events at a time
        for line in _lines(session, events[start:start + 1000]):
            e = line.event
            sheet.append(_as_text(sheet, [e.at.strftime("%Y-%m-%d %H:%M:%S"), e.actor_kind, line.actor, e.action,
                          line.student.name if line.student else "",
                          f"{e.target_type}#{e.target_id}" if e.target_type else "", detail_text(e.detail),
                          e.ip or ""]))
    students = _students_matching(session, school_id, wanted)
    asked = {k: (v.isoformat() if isinstance(v, date) else mask_personal_numbers(v) if isinstance(v, str) else v)
             for k, v in wanted.__dict__.items() if v is not None and v != ""}
    audit(session, actor, AuditAction.AUDIT_LOG_EXPORTED, school_id=school_id, target=None, detail={
        "events": len(events), "students": len(students) if students is not None else None, "filter": asked})
    session.flush()
    return _save(workbook)
