"""Factories for the models: valid, synthetic records in one call, overridable per test."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from confirm.clock import local_today
from confirm.districts import DistrictKind
from confirm.models import (
    Campaign,
    District,
    Guardianship,
    ParentAccount,
    School,
    SchoolClass,
    SchoolDistrictMembership,
    StaffUser,
    Student,
)
from confirm.security import hash_password, new_nonce
from confirm.services.school import add_student
from confirm.validation import make_resident_id

_seq = itertools.count(1)
PASSWORD = "correct-horse-9"
# Accounts made by the factories get cheap argon2id hashes (the parameters travel in the hash, so logging in still
# runs the app's real verify, only faster); ``real_hash=True`` gives one the production cost, for timing tests.
_FIXTURE_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _hash(password: str, real: bool) -> str:
    return hash_password(password) if real else _FIXTURE_HASHER.hash(password)


def make_school(session: Session, code: str | None = None, name: str = "测试小学") -> School:
    n = next(_seq)
    school = School(code=code or f"51{n:08d}", name=f"{name}{n}")  # 51…: never one of the fixed 52… codes
    session.add(school)
    session.flush()
    return school


def make_staff(session: Session, school: School, role: str = "head_teacher", username: str | None = None,
               password: str = PASSWORD, phone: str | None = None, real_hash: bool = False) -> StaffUser:
    n = next(_seq)
    user = StaffUser(school_id=school.id, username=username or f"{role}{n}", display_name=f"老师{n}", role=role,
                     phone=phone, password_hash=_hash(password, real_hash), session_nonce=new_nonce(), is_active=True)
    session.add(user)
    session.flush()
    return user


def make_class(session: Session, school: School, teacher: StaffUser | None = None, grade: str = "三年级",
               name: str | None = None) -> SchoolClass:
    school_class = SchoolClass(school_id=school.id, grade=grade, name=name or f"{next(_seq)}班",
                               head_teacher_id=teacher.id if teacher else None)
    session.add(school_class)
    session.flush()
    return school_class


def student_values(n: int, **overrides: str) -> tuple[dict[str, str], dict[int, dict[str, str]]]:
    """A complete, valid record (and two family members) for synthetic student number ``n``."""
    birth = date(2016, 1, 1) + timedelta(days=n % 365)
    gender = overrides.get("gender", "1" if n % 2 else "2")
    values = {
        "name": f"测试{n}", "gender": gender, "birth_date": f"{birth:%Y%m%d}",
        "birthplace_code": "520102000000", "native_place": "贵州贵阳", "ethnicity": "01", "nationality": "CHN",
        "id_type": "1", "id_number": make_resident_id("520102", birth, n % 500, gender), "hmtoc": "00",
        "health": "10", "hukou_place_code": "520102000000", "hukou_type": "2", "enroll_ym": "202209",
        "enroll_mode": "11", "attend_mode": "1", "current_address": "贵阳市测试路1号",
        "mailing_address": "贵阳市测试路1号", "home_address": "贵阳市测试路1号", "phone": "13900001111",
        "postcode": "550001", "only_child": "1", "preschool": "1", "left_behind": "0", "migrant_child": "0",
        "orphan": "0", "martyr_child": "0", "needs_aid": "0", "one_subsidy": "0",
    }
    values.update(overrides)
    members = {
        1: {"name": f"家长{n}", "relation": "1", "current_address": "贵阳市测试路1号",
            "hukou_place_code": "520102000000", "phone": "13900002222", "is_guardian": "1"},
        2: {},
    }
    return values, members


def make_student(session: Session, school_class: SchoolClass, **overrides: str) -> Student:
    values, members = student_values(next(_seq), **overrides)
    return add_student(session, school_class.school, school_class, values, members)


def make_campaign(session: Session, school: School, days: int = 30) -> Campaign:
    campaign = Campaign(school_id=school.id, name="2026年秋季核查", deadline=local_today() + timedelta(days=days))
    session.add(campaign)
    session.flush()
    return campaign


def make_parent(session: Session, *students: Student, phone: str | None = None,
                password: str = PASSWORD, real_hash: bool = False) -> ParentAccount:
    n = next(_seq)
    parent = ParentAccount(phone=phone or f"1380000{n:04d}", platform_no=f"9{n:07d}",
                           password_hash=_hash(password, real_hash), session_nonce=new_nonce())
    session.add(parent)
    session.flush()
    for student in students:
        session.add(Guardianship(parent_id=parent.id, student_id=student.id))
    session.flush()
    return parent


def make_district(session: Session, *schools: School, parent: District | None = None, name: str = "测试县教育局",
                  kind: str = DistrictKind.COUNTY_BUREAU.value, since: date | None = None) -> District:
    """A district holding ``schools`` since ``since`` (default: 30 days ago)."""
    n = next(_seq)
    district = District(code=f"D{n:05d}", name=f"{name}{n}", kind=kind, parent_id=parent.id if parent else None)
    session.add(district)
    session.flush()
    for school in schools:
        session.add(SchoolDistrictMembership(school_id=school.id, district_id=district.id,
                                             from_date=since or local_today() - timedelta(days=30),
                                             created_by_kind="system"))
        school.district_id = district.id
    session.flush()
    return district


def make_supervisor(session: Session, district: District, username: str | None = None, password: str = PASSWORD,
                    phone: str | None = None) -> StaffUser:
    n = next(_seq)
    user = StaffUser(school_id=None, district_id=district.id, username=username or f"supervisor{n}",
                     display_name=f"督导{n}", role="supervisor", phone=phone, password_hash=_hash(password, False),
                     session_nonce=new_nonce(), is_active=True)
    session.add(user)
    session.flush()
    return user
