"""The class's parents, as the head teacher looks them up (a parent's platform number, 问题四)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.fields import member_field
from confirm.folding import fold_code
from confirm.models import Guardianship, Notification, ParentAccount, Student
from confirm.services.common import Actor, audit


@dataclass(frozen=True)
class DirectoryRow:
    """One parent account linked to one student of the class (the phone is masked unless revealed)."""

    student: Student
    parent: ParentAccount
    relation: str  # the family member's relation (父亲…), or "" when no member's phone matches the account
    member_name: str
    linked_at: datetime


def class_parents(session: Session, class_id: int, search: str = "") -> list[DirectoryRow]:
    """Every linked parent account of the class's students, filtered by student name, platform number or name."""
    rows = session.execute(
        select(Student, ParentAccount, Guardianship.created_at)
        .join(Guardianship, Guardianship.student_id == Student.id)
        .join(ParentAccount, ParentAccount.id == Guardianship.parent_id)
        .where(Student.class_id == class_id)
        .order_by(Student.name, Student.id, Guardianship.created_at)
    ).all()
    search = fold_code(search)
    result = []
    for student, parent, linked_at in rows:
        member = next((m for m in student.members if m.value("phone") == parent.phone), None)
        relation = member_field("relation").display(member.value("relation")) if member else ""
        row = DirectoryRow(student, parent, relation,
                           member.value("name") if member else "", linked_at)
        if not search or search in student.name or search in parent.platform_no or search in row.member_name:
            result.append(row)
    return result


def reveal_parent_phone(session: Session, class_id: int, parent_id: int, *, actor: Actor, school_id: int,
                        now: datetime | None = None) -> ParentAccount | None:
    """The full phone of a parent of the class (audited); None when the parent is not one of the class's."""
    account = session.scalar(
        select(ParentAccount).join(Guardianship, Guardianship.parent_id == ParentAccount.id)
        .join(Student, Student.id == Guardianship.student_id)
        .where(ParentAccount.id == parent_id, Student.class_id == class_id).limit(1)
    )
    if account is not None:
        audit(session, actor, "parent.phone_revealed", school_id=school_id, target=account, at=now,
              detail={"class_id": class_id})
        session.flush()
    return account


def student_parents(session: Session, student: Student) -> list[DirectoryRow]:
    """The parent accounts linked to ``student``, first linked first, with the family member each one is."""
    rows = session.execute(
        select(ParentAccount, Guardianship.created_at)
        .join(Guardianship, Guardianship.parent_id == ParentAccount.id)
        .where(Guardianship.student_id == student.id)
        .order_by(Guardianship.created_at, Guardianship.id)
    ).all()
    result = []
    for parent, linked_at in rows:
        member = next((m for m in student.members if m.value("phone") == parent.phone), None)
        relation = member_field("relation").display(member.value("relation")) if member else ""
        result.append(DirectoryRow(student, parent, relation, member.value("name") if member else "", linked_at))
    return result


def student_messages(session: Session, student: Student, limit: int = 10) -> list[Notification]:
    """The newest SMS written for ``student`` (the outbox rows, whatever their status), newest first."""
    return list(session.scalars(
        select(Notification).where(Notification.student_id == student.id)
        .order_by(Notification.id.desc()).limit(limit)
    ))
