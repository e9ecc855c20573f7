"""The school admin's audit log: filters by actor, student, action and dates, pages, the audited Excel export,
and nobody else's events or eyes."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from confirm.models import AuditEvent
from confirm.services.audit_log import PAGE_SIZE
from confirm.services.common import Actor, audit
from tests.webapp.test_teacher_review import logged_in


@pytest.fixture
def trail(db, world):
    """A few events of this school (and one of the other school) on known days."""
    teacher, admin = Actor("staff", world.teacher.id), Actor("staff", world.admin.id)
    student, other = world.students_a[0], world.students_b[0]
    audit(db, teacher, "file.viewed", school_id=world.school.id, target=student,
          at=datetime(2026, 9, 1, 8, tzinfo=UTC), detail={"file_id": 1, "students": 1})
    audit(db, admin, "export.students", school_id=world.school.id, target=world.school,
          at=datetime(2026, 9, 2, 8, tzinfo=UTC), detail={"students": 5})
    audit(db, Actor("parent", world.parent.id), "corrections.saved", school_id=world.school.id, target=student,
          at=datetime(2026, 9, 3, 8, tzinfo=UTC))
    audit(db, teacher, "file.viewed", school_id=world.school.id, target=other,
          at=datetime(2026, 9, 4, 8, tzinfo=UTC), detail={"file_id": 2, "students": 1})
    audit(db, Actor("staff", world.other_admin.id), "export.students",
          school_id=world.other_school.id, target=world.other_school, at=datetime(2026, 9, 2, 9, tzinfo=UTC),
          detail={"students": 99, "secret": "其他学校的导出"})
    db.commit()


def rows(page: str) -> int:
    return page.count("<tr>") - 1  # minus the header


def test_the_admin_sees_the_schools_events_newest_first_and_never_another_schools(app, world, trail):
    admin = logged_in(app, world.admin.username)
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "其他学校的导出" not in page and '"students": 99' not in page
    assert page.index("2026-09-04") < page.index("2026-09-01")
    assert "查看照片或证明材料" in page and world.students_a[0].name in page


@pytest.mark.parametrize(("query", "expected"), [
    ("action=file.viewed", ["2026-09-04", "2026-09-01"]),
    ("action=export.", ["2026-09-02"]),
    ("since=2026-09-02&until=2026-09-03", ["2026-09-03", "2026-09-02"]),
    ("actor=parent", ["2026-09-03"]),
])
def test_each_filter_narrows_the_list(app, world, trail, query, expected):
    admin = logged_in(app, world.admin.username)
    page = admin.get(f"/admin/audit?{query}").get_data(as_text=True)
    shown = [d for d in ("2026-09-04", "2026-09-03", "2026-09-02", "2026-09-01") if d in page]
    assert shown == expected


def test_filters_by_one_staff_user_and_by_student_name_or_link(app, world, trail):
    admin = logged_in(app, world.admin.username)
    by_teacher = admin.get(f"/admin/audit?actor=staff:{world.teacher.id}").get_data(as_text=True)
    assert "2026-09-04" in by_teacher and "2026-09-01" in by_teacher and "2026-09-02" not in by_teacher
    by_name = admin.get("/admin/audit", query_string={"student": world.students_a[0].name}).get_data(as_text=True)
    assert "2026-09-01" in by_name and "2026-09-03" in by_name and "2026-09-04" not in by_name
    by_link = admin.get(f"/admin/audit?student_id={world.students_b[0].id}").get_data(as_text=True)
    assert "2026-09-04" in by_link and rows(by_link) == 1


def test_a_bad_date_is_explained_and_the_other_filters_still_apply(app, world, trail):
    admin = logged_in(app, world.admin.username)
    response = admin.get("/admin/audit?since=2026-13-45&action=export.")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "请按“年-月-日”填写日期" in page
    assert "2026-09-02" in page and "2026-09-01" not in page
    backwards = admin.get("/admin/audit?since=2026-09-03&until=2026-09-01").get_data(as_text=True)
    assert "结束日期不能早于开始日期" in backwards


def test_the_list_is_paged(app, db, world):
    for n in range(PAGE_SIZE + 5):
        audit(db, Actor("staff", world.teacher.id), "file.viewed", school_id=world.school.id,
              target=world.students_a[0], at=datetime(2026, 9, 1, 8, n % 60, n // 60, tzinfo=UTC))
    db.commit()
    admin = logged_in(app, world.admin.username)
    first = admin.get("/admin/audit?action=file.viewed").get_data(as_text=True)
    second = admin.get("/admin/audit?action=file.viewed&page=2").get_data(as_text=True)
    assert rows(first) == PAGE_SIZE and rows(second) == 5
    assert "第 2 / 2 页" in second and "page=2" in first and "action=file.viewed" in first


def test_the_export_holds_the_filtered_events_and_is_itself_audited(app, db, world, trail):
    admin = logged_in(app, world.admin.username)
    response = admin.get("/admin/audit.xlsx?action=file.viewed")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    lines = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [(r[0][:10], r[2], r[3]) for r in lines] == [
        ("2026-09-04", world.teacher.display_name, "file.viewed"),
        ("2026-09-01", world.teacher.display_name, "file.viewed")]
    assert {r[4] for r in lines} == {world.students_a[0].name, world.students_b[0].name}
    db.expire_all()
    [exported] = db.scalars(select(AuditEvent).where(AuditEvent.action == "export.audit_log")).all()
    assert (exported.actor_id, exported.school_id, exported.detail["events"]) == (world.admin.id, world.school.id, 2)
    assert exported.detail["filter"] == {"action": "file.viewed"}


@pytest.mark.parametrize("who", ["teacher", "parent"])
def test_teachers_and_parents_are_refused(app, world, trail, who):
    client = logged_in(app, world.teacher.username if who == "teacher" else world.parent.phone)
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.xlsx").status_code == 403
