"""Printing the 学籍信息确认表: which students, their sheet QR payloads and, for invitations, fresh registration codes.

The PDF itself is presentation and is drawn in ``webapp.adapters.pdf``; this module decides what goes on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from confirm.errors import DomainError, FieldErrors
from confirm.i18n import N_, Message
from confirm.models import Campaign, Guardianship, School, SchoolClass, Student, utcnow
from confirm.services.common import Actor, audit
from confirm.services.records import active_campaign
from confirm.services.registration import issue_code
from confirm.services.school import find_class
from confirm.sheets import SheetRef, make_sheet_payload

# One PDF holds at most this many sheets: a class is far below it; a whole school is printed class by class.
MAX_SHEETS = 500


@dataclass(frozen=True)
class PrintedSheet:
    """One page of the PDF: the student, the QR payload, and the registration code of an invitation sheet."""

    student: Student
    payload: str
    code: str | None = None  # only on invitation sheets of students without a registered parent
    is_registered: bool = False


def _students(session: Session, query) -> list[Student]:
    query = query.options(selectinload(Student.members), selectinload(Student.school_class))
    return list(session.scalars(query.order_by(Student.class_id, Student.name, Student.id)))


def class_students(session: Session, school_class: SchoolClass, student_ids: list[int] | None = None) -> list[Student]:
    """The class's students in print order; with ``student_ids`` only those, each of which must be in the class."""
    query = select(Student).where(Student.class_id == school_class.id)
    if student_ids is not None:
        if not student_ids:
            raise FieldErrors([("students", Message(N_("请至少选择一名学生")))])
        query = query.where(Student.id.in_(set(student_ids)))
    students = _students(session, query)
    if student_ids is not None and len(students) != len(set(student_ids)):
        raise FieldErrors([("students", Message(N_("所选学生不在这个班级里")))])
    return students


def school_students(session: Session, school: School, class_name: str | None = None) -> list[Student]:
    """The school's students in print order, or one class's (``class_name`` as ``find_class`` reads it)."""
    query = select(Student).where(Student.school_id == school.id)
    if class_name:
        query = query.where(Student.class_id == find_class(session, school.id, class_name).id)
    return _students(session, query)


def prepare_sheets(
    session: Session,
    school_id: int,
    students: list[Student],
    *,
    sheet_key: bytes,
    invitation: bool = False,
    code_key: bytes | None = None,
    actor: Actor,
    now: datetime | None = None,
) -> tuple[Campaign, list[PrintedSheet]]:
    """The pages to print for ``students`` in the school's running campaign.

    With ``invitation``, students without a registered parent get a fresh registration code (earlier codes stop
    working); the code is returned once, only for the PDF. Refuses more than MAX_SHEETS students and schools
    without a running campaign (the QR code names the campaign).
    """
    now = now or utcnow()
    if not students:
        raise DomainError(Message(N_("没有可打印的学生")))
    if len(students) > MAX_SHEETS:
        raise DomainError(Message(N_("一次最多打印 %(max)s 份确认表（这次选了 %(n)s 名学生），请按班级分开打印"),
                                  {"max": MAX_SHEETS, "n": len(students)}))
    campaign = active_campaign(session, school_id)
    if campaign is None:
        raise DomainError(Message(N_("还没有开始信息核查，不能打印确认表。请学籍管理员先开始一次核查")))
    ids = [s.id for s in students]
    registered = set(session.scalars(select(Guardianship.student_id).where(Guardianship.student_id.in_(ids))))
    sheets = []
    for student in students:
        code = None
        if invitation and student.id not in registered:
            if code_key is None:
                raise ValueError("invitation sheets need the code key")
            code = issue_code(session, student, key=code_key, actor=actor, now=now)
        payload = make_sheet_payload(sheet_key, SheetRef(student.id, campaign.id, student.record_version or 1))
        sheets.append(PrintedSheet(student, payload, code, student.id in registered))
    audit(session, actor, "sheets.printed", school_id=school_id, target=campaign, at=now,
          detail={"count": len(sheets), "invitation": invitation, "codes": sum(1 for p in sheets if p.code),
                  "classes": sorted({s.class_id for s in students})})
    session.flush()
    return campaign, sheets


def set_sheet_qr_required(session: Session, campaign: Campaign, required: bool, *, actor: Actor) -> None:
    """Whether uploaded sheet photos of ``campaign`` must show the QR code of a sheet printed by the platform."""
    campaign.require_sheet_qr = required
    audit(session, actor, "campaign.sheet_qr_required" if required else "campaign.sheet_qr_optional",
          school_id=campaign.school_id, target=campaign)
    session.flush()
