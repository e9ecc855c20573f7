"""Misuse detection: lock what is being guessed and flag it for the head teacher (MisuseFlag rows), audited.

The rules:

* a registration code tried more often than its limit (``limits.CODE_TRIES``: a wrong student name counts) is
  refused until the hour is over and flagged; one code tried from ``CODE_MAX_PHONES`` or more different phones
  within 24 hours is flagged;
* a parent's login name tried more often than ``limits.LOGIN_FROM_ADDRESS`` allows from one address is flagged
  (the limit itself is in ``confirm.services.login``);
* one phone for unrelated families: two of an account's students are *related* when they share a surname, a
  family member's phone or a family member's name (and relatedness is transitive). The account is flagged when its
  students form 3 or more unrelated families, or 2 unrelated families in different classes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.models import (
    Guardianship,
    MisuseFlag,
    ParentAccount,
    RegistrationCode,
    SmsChallenge,
    StaffUser,
    Student,
    utcnow,
)
from confirm.services.common import SYSTEM, Actor, audit, mask_phone

CODE_MAX_PHONES = 3

CODE_FAILURES = "code_failures"
CODE_MANY_PHONES = "code_many_phones"
LOGIN_BURST = "login_burst"
UNRELATED_FAMILIES = "unrelated_families"


def raise_flag(session: Session, kind: str, subject: Any, *, school_id: int | None, class_ids: list[int],
               detail: dict[str, Any], now: datetime | None = None) -> MisuseFlag:
    """Open a flag on ``subject`` (or refresh the open one of the same kind) and audit it."""
    now = now or utcnow()
    subject_type = type(subject).__tablename__
    flag = session.scalar(
        select(MisuseFlag).where(MisuseFlag.kind == kind, MisuseFlag.subject_type == subject_type,
                                 MisuseFlag.subject_id == subject.id, MisuseFlag.resolved_at.is_(None))
    )
    detail = {**detail, "class_ids": sorted(set(class_ids))}
    if flag is None:
        flag = MisuseFlag(school_id=school_id, kind=kind, subject_type=subject_type, subject_id=subject.id,
                          detail=detail, created_at=now)
        session.add(flag)
    else:
        flag.detail = {**flag.detail, **detail, "count": int(flag.detail.get("count", 1)) + 1}
    session.flush()
    audit(session, SYSTEM, "misuse.flagged", school_id=school_id, target=subject, at=now,
          detail={"kind": kind, "flag_id": flag.id})
    return flag


def check_code_phones(session: Session, reg: RegistrationCode, phone: str, *, now: datetime | None = None) -> None:
    """Flag a code that phones of several people try within a day (``phone`` is the current try)."""
    now = now or utcnow()
    phones = set(session.scalars(
        select(SmsChallenge.phone).where(SmsChallenge.subject == code_subject(reg),
                                         SmsChallenge.created_at > now - timedelta(days=1))
    ))
    phones.add(phone)
    if len(phones) >= CODE_MAX_PHONES:
        student = reg.student
        raise_flag(session, CODE_MANY_PHONES, reg, school_id=student.school_id, class_ids=[student.class_id],
                   detail={"student_id": student.id, "student": student.name,
                           "phones": sorted(mask_phone(p) for p in phones)}, now=now)


def code_subject(reg: RegistrationCode) -> str:
    """The SmsChallenge.subject of registration tries with ``reg``."""
    return f"regcode:{reg.id}"


def _account_class_ids(session: Session, account: ParentAccount) -> tuple[int | None, list[int]]:
    rows = session.execute(
        select(Student.school_id, Student.class_id)
        .join(Guardianship, Guardianship.student_id == Student.id)
        .where(Guardianship.parent_id == account.id)
    ).all()
    return (rows[0].school_id if rows else None), [r.class_id for r in rows]


def flag_login_burst(session: Session, account: ParentAccount, *, failures: int, now: datetime | None = None) -> None:
    """A parent account's login name was tried too often from one address: flag it for the head teacher."""
    school_id, class_ids = _account_class_ids(session, account)
    raise_flag(session, LOGIN_BURST, account, school_id=school_id, class_ids=class_ids, now=now,
               detail={"platform_no": account.platform_no, "phone": mask_phone(account.phone), "failures": failures})


def flag_code_guessing(session: Session, reg: RegistrationCode, *, tries: int, now: datetime | None = None) -> None:
    """A registration code was tried too often: flag it for the head teacher of the student's class."""
    student = reg.student
    raise_flag(session, CODE_FAILURES, reg, school_id=student.school_id, class_ids=[student.class_id], now=now,
               detail={"student_id": student.id, "student": student.name, "failures": tries})


def _family_keys(student: Student) -> set[str]:
    keys = {"surname:" + student.name[:1]} if student.name else set()
    for member in student.members:
        if member.value("phone"):
            keys.add("phone:" + member.value("phone"))
        if member.value("name"):
            keys.add("name:" + member.value("name"))
    return keys


def unrelated_families(students: list[Student]) -> list[list[Student]]:
    """Group students into families: related when they share a surname, a member's phone or a member's name."""
    families: list[tuple[set[str], list[Student]]] = []
    for student in students:
        keys, members = _family_keys(student), [student]
        for family in [f for f in families if f[0] & keys]:
            families.remove(family)
            keys |= family[0]
            members = family[1] + members
        families.append((keys, members))
    return [members for _, members in families]


def check_phone_spread(session: Session, account: ParentAccount, *, now: datetime | None = None) -> None:
    """Flag an account linked to students of unrelated families (see the module docstring for the rule)."""
    students = list(session.scalars(
        select(Student).join(Guardianship, Guardianship.student_id == Student.id)
        .where(Guardianship.parent_id == account.id).order_by(Student.id)
    ))
    families = unrelated_families(students)
    class_ids = {s.class_id for s in students}
    if len(families) >= 3 or (len(families) >= 2 and len(class_ids) >= 2):
        raise_flag(session, UNRELATED_FAMILIES, account, school_id=students[0].school_id, class_ids=list(class_ids),
                   detail={"platform_no": account.platform_no, "phone": mask_phone(account.phone),
                           # names are shown only to the teacher of each student's own class
                           "students": [{"name": s.name, "class_id": s.class_id} for s in students],
                           "families": len(families)}, now=now)


def open_flags_of_class(session: Session, school_id: int, class_id: int) -> list[MisuseFlag]:
    """Unresolved flags that concern a student or parent of the class, newest first."""
    flags = session.scalars(
        select(MisuseFlag).where(MisuseFlag.school_id == school_id, MisuseFlag.resolved_at.is_(None))
        .order_by(MisuseFlag.created_at.desc(), MisuseFlag.id.desc())
    )
    return [f for f in flags if class_id in f.detail.get("class_ids", [])]


def resolve_flags(session: Session, flags: list[MisuseFlag], *, staff: StaffUser, actor: Actor,
                  now: datetime | None = None) -> None:
    """Mark flags as looked at (each audited)."""
    now = now or utcnow()
    for flag in flags:
        flag.resolved_at = now
        flag.resolved_by_id = staff.id
        audit(session, actor, "misuse.resolved", school_id=flag.school_id, target=flag, at=now,
              detail={"kind": flag.kind})
    session.flush()
