"""A small school for web tests: two classes with their teachers, students, a campaign and parents."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest

from confirm.models import Campaign, ParentAccount, School, SchoolClass, StaffUser, Student
from confirm.services.common import SYSTEM
from confirm.services.registration import issue_code
from tests.factories import (
    make_campaign,
    make_class,
    make_parent,
    make_school,
    make_staff,
    make_student,
)
from tests.images import sheet_jpeg


@dataclass
class World:
    school: School
    campaign: Campaign
    admin: StaffUser
    teacher: StaffUser
    other_teacher: StaffUser
    class_a: SchoolClass
    class_b: SchoolClass
    students_a: list[Student]
    students_b: list[Student]
    parent: ParentAccount  # linked to students_a[0]
    other_parent: ParentAccount  # linked to students_b[0]
    other_school: School
    other_admin: StaffUser


@pytest.fixture
def six_minutes_pass(monkeypatch):
    """Call after signing in: the sign-in is then 6 minutes old, and a sensitive step asks for the password."""
    import webapp.auth.fresh as fresh

    def later():
        at = time.time() + 6 * 60
        monkeypatch.setattr(fresh, "_clock", lambda: at)

    return later


@pytest.fixture
def world(db) -> World:
    return build_world(db)


def build_world(db) -> World:
    """The small school of the web tests, committed."""
    school = make_school(db, code="5200000099")
    campaign = make_campaign(db, school)
    admin = make_staff(db, school, role="school_admin", username="admin1")
    teacher = make_staff(db, school, username="teacher_a")
    other_teacher = make_staff(db, school, username="teacher_b")
    class_a = make_class(db, school, teacher, name="1班")
    class_b = make_class(db, school, other_teacher, name="2班")
    students_a = [make_student(db, class_a) for _ in range(3)]
    students_b = [make_student(db, class_b) for _ in range(2)]
    parent = make_parent(db, students_a[0], phone="13800000001")
    other_parent = make_parent(db, students_b[0], phone="13800000002")
    other_school = make_school(db)
    other_admin = make_staff(db, other_school, role="school_admin", username="admin_other")
    db.commit()
    return World(school, campaign, admin, teacher, other_teacher, class_a, class_b, students_a, students_b, parent,
                 other_parent, other_school, other_admin)


@pytest.fixture
def issue(app, db):
    """Issue a registration code for a student and return it in plain text."""

    def _issue(student: Student) -> str:
        code = issue_code(db, db.merge(student), key=app.extensions["code_key"], actor=SYSTEM)
        db.commit()
        return code

    return _issue


def sms_code(outbox) -> str:
    """The 6-digit code in the newest SMS."""
    return re.search(r"\b(\d{6})\b", outbox[-1][1]).group(1)


def jpeg_bytes(size=(1600, 1200), color=(120, 104, 88)) -> bytes:
    """A photo of a printed sheet on a table of ``color`` (different colours give different photos)."""
    return sheet_jpeg(size, background=color, seed=sum(color))
