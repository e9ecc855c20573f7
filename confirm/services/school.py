"""The school admin's set-up: classes, campaigns, students and registration-code slips."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.class_names import matching
from confirm.clock import local_today
from confirm.errors import DomainError, FieldErrors
from confirm.folding import fold_digits
from confirm.i18n import N_, Message
from confirm.models import (
    Campaign,
    FamilyMember,
    Guardianship,
    School,
    SchoolClass,
    StaffUser,
    Student,
    utcnow,
)
from confirm.roles import Role
from confirm.services.common import Actor, audit, unique_number
from confirm.services.registration import issue_code


def create_school(session: Session, *, code: str, name: str, actor: Actor) -> School:
    """Register a school by its 10-digit 学校标识码."""
    code, name = fold_digits(code), name.strip()
    errors = []
    if not (len(code) == 10 and code.isascii() and code.isdigit()):
        errors.append(("code", Message(N_("学校标识码应为 10 位数字"))))
    elif session.scalar(select(School.id).where(School.code == code)):
        errors.append(("code", Message(N_("这个学校标识码已经存在"))))
    if not name:
        errors.append(("name", Message(N_("请填写学校名称"))))
    if errors:
        raise FieldErrors(errors)
    school = School(code=code, name=name)
    session.add(school)
    session.flush()
    audit(session, actor, "school.created", school_id=school.id, target=school)
    return school


def create_class(
    session: Session, school: School, *, grade: str, name: str, head_teacher_id: int | None, actor: Actor
) -> SchoolClass:
    """Add a class to the school, optionally with its head teacher."""
    grade, name = grade.strip(), name.strip()
    errors = []
    if not grade:
        errors.append(("grade", Message(N_("请填写年级"))))
    if not name:
        errors.append(("name", Message(N_("请填写班级名称"))))
    if grade and name and session.scalar(
        select(SchoolClass.id).where(
            SchoolClass.school_id == school.id, SchoolClass.grade == grade, SchoolClass.name == name
        )
    ):
        errors.append(("name", Message(N_("本校已有这个班级"))))
    if head_teacher_id is not None:
        teacher = session.get(StaffUser, head_teacher_id)
        if teacher is None or teacher.school_id != school.id:
            errors.append(("head_teacher_id", Message(N_("请选择本校的班主任"))))
    if errors:
        raise FieldErrors(errors)
    school_class = SchoolClass(school_id=school.id, grade=grade, name=name, head_teacher_id=head_teacher_id)
    session.add(school_class)
    session.flush()
    audit(session, actor, "class.created", school_id=school.id, target=school_class)
    return school_class


@dataclass(frozen=True)
class TeacherChoice:
    """A head teacher as the choices of a form list them: id and name only."""

    id: int
    display_name: str


def head_teachers(session: Session, school_id: int) -> list[TeacherChoice]:
    """The school's head teachers by name, to choose a class's head teacher from (two columns, no ORM objects)."""
    rows = session.execute(
        select(StaffUser.id, StaffUser.display_name)
        .where(StaffUser.school_id == school_id, StaffUser.role == Role.HEAD_TEACHER)
        .order_by(StaffUser.display_name)
    )
    return [TeacherChoice(teacher_id, name) for teacher_id, name in rows]


def assign_head_teacher(session: Session, school_class: SchoolClass, teacher_id: int | None, *, actor: Actor) -> None:
    """Give the class a (new) head teacher, or none."""
    if teacher_id is not None:
        teacher = session.get(StaffUser, teacher_id)
        if teacher is None or teacher.school_id != school_class.school_id or teacher.role != Role.HEAD_TEACHER:
            raise FieldErrors([("head_teacher_id", Message(N_("请选择本校的班主任")))])
    school_class.head_teacher_id = teacher_id
    audit(session, actor, "class.head_teacher_assigned", school_id=school_class.school_id, target=school_class,
          detail={"head_teacher_id": teacher_id})
    session.flush()


def create_campaign(
    session: Session, school: School, *, name: str, deadline: date, actor: Actor, today: date | None = None
) -> Campaign:
    """Start a campaign; the previous one of the school is closed."""
    today = today or local_today()
    errors = []
    if not name.strip():
        errors.append(("name", Message(N_("请填写核查名称"))))
    if deadline < today:
        errors.append(("deadline", Message(N_("截止日期不能早于今天"))))
    if errors:
        raise FieldErrors(errors)
    for old in session.scalars(select(Campaign).where(Campaign.school_id == school.id, Campaign.is_active)):
        old.is_active = False
    campaign = Campaign(school_id=school.id, name=name.strip(), deadline=deadline, is_active=True)
    session.add(campaign)
    session.flush()
    audit(session, actor, "campaign.started", school_id=school.id, target=campaign)
    return campaign


def new_upload_no(session: Session) -> str:
    """A fresh 拍照上传号 (photo-upload number printed on the student's sheet)."""
    return unique_number(session, Student.upload_no, 10)


def add_student(
    session: Session,
    school: School,
    school_class: SchoolClass,
    values: dict[str, str],
    members: dict[int, dict[str, str]],
) -> Student:
    """Create a student from already-validated record values."""
    student = Student(school_id=school.id, class_id=school_class.id, name="", upload_no=new_upload_no(session))
    for key, value in values.items():
        student.set_value(key, value)
    student.set_value("school_code", school.code)
    student.record_version = 1
    for slot, record in members.items():
        if any(record.values()):
            student.members.append(FamilyMember(slot=slot, record=dict(record)))
    session.add(student)
    session.flush()
    return student


@dataclass(frozen=True)
class CodeSlip:
    """One slip for the parents' meeting: the student and the code, shown only this once."""

    student: Student
    code: str


def issue_class_codes(
    session: Session, school_class: SchoolClass, *, key: bytes, actor: Actor, now: datetime | None = None
) -> list[CodeSlip]:
    """New registration codes for every student of the class who has no registered parent yet.

    Printing again replaces the unused codes of earlier slips, which stop working.
    """
    now = now or utcnow()
    linked = select(Guardianship.student_id)
    students = session.scalars(
        select(Student)
        .where(Student.class_id == school_class.id, Student.id.not_in(linked))
        .order_by(Student.name, Student.id)
    ).all()
    slips = [CodeSlip(s, issue_code(session, s, key=key, actor=actor, now=now)) for s in students]
    audit(session, actor, "registration_codes.printed", school_id=school_class.school_id, target=school_class,
          detail={"count": len(slips)}, at=now)
    return slips


def find_class(session: Session, school_id: int, wanted: str) -> SchoolClass:
    """The school's class that ``wanted`` names (年级+班级, 班级 or 班号; see ``confirm.class_names``); a DomainError
    naming the classes and 班号 that exist when none matches, or asking for the grade when several do."""
    classes = list(session.scalars(select(SchoolClass).where(SchoolClass.school_id == school_id)
                                   .order_by(SchoolClass.grade, SchoolClass.name)))
    found = matching(classes, wanted)
    if len(found) == 1:
        return found[0]
    if found:
        raise DomainError(Message(N_("有 %(n)s 个班级叫“%(name)s”，请写上年级，例如“%(example)s”"),
                                  {"n": len(found), "name": wanted, "example": found[0].grade + found[0].name}))
    existing = "、".join(f"{c.title}（班号 {c.class_code}）" if c.class_code else c.title for c in classes[:60])
    if len(classes) > 60:
        existing += "…"
    if not existing:
        raise DomainError(Message(N_("找不到班级“%(name)s”。本校还没有班级"), {"name": wanted}))
    raise DomainError(Message(N_("找不到班级“%(name)s”。本校现有的班级：%(classes)s"),
                              {"name": wanted, "classes": existing}))
