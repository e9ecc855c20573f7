"""Statistics: the class funnel, deadline and late students, the sortable school table, the Excel exports, and
a statement count that does not grow with the number of students or classes."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from benchmarks.stats_queries import count_page, populate
from confirm.clock import local_today
from confirm.models import Campaign, Confirmation, StoredFile
from confirm.services.stats import Deadline
from tests.factories import PASSWORD


def _decide(db, world, student, state: str) -> None:
    sheet = StoredFile(school_id=world.school.id, student_id=student.id, kind="sheet", storage_key=f"t/{student.id}",
                       sha256="0" * 64, content_type="image/jpeg", size_bytes=1, uploaded_by_kind="parent",
                       uploaded_by_id=0)
    db.add(sheet)
    db.flush()
    db.add(Confirmation(campaign_id=world.campaign.id, student_id=student.id, state=state, sheet_file_id=sheet.id))
    db.commit()


def _deadline_in(db, world, days: int) -> None:
    db.get(Campaign, world.campaign.id).deadline = local_today() + timedelta(days=days)
    db.commit()


@pytest.fixture
def teacher(client, world, auth, db):
    """Class A: students_a[0] registered, [1] approved, [2] unregistered; the teacher logged in."""
    _decide(db, world, world.students_a[1], "approved")
    assert auth.login(world.teacher.username, PASSWORD).status_code == 302
    return client


def _late_names(page: str) -> list[str]:
    block = re.search(r'<ul class="late-list">(.*?)</ul>', page, flags=re.S)
    return re.findall(r'<a href="/teacher/students/\d+">([^<]+)</a>', block.group(1)) if block else []


@pytest.mark.parametrize(("days", "left", "past", "lateness"), [
    (10, 10, False, None), (4, 4, False, None), (3, 3, False, "at_risk"), (0, 0, False, "at_risk"),
    (-1, -1, True, "overdue")])
def test_deadline_marks_at_risk_from_three_days_before_and_overdue_after(days, left, past, lateness):
    today = date(2026, 9, 10)
    d = Deadline(today + timedelta(days=days), today)
    assert (d.days_left, d.is_past, d.lateness) == (left, past, lateness)


def test_class_page_shows_the_funnel_with_counts_percentages_and_days_left(teacher, world):
    page = teacher.get(f"/teacher/classes/{world.class_a.id}").get_data(as_text=True)
    values = re.findall(r'class="funnel-value"[^>]*>([^<]+)</text>', page)
    # 未注册, 已注册未提交, 待审核, 已退回, 关键信息被退回, 已通过
    assert values == ["1 · 33%", "1 · 33%", "0 · 0%", "0 · 0%", "0 · 0%", "1 · 33%"]
    assert "距截止日期还有 30 天" in page
    assert _late_names(page) == []  # the deadline is far: nobody is marked yet


def test_students_still_to_act_are_at_risk_within_three_days_of_the_deadline(teacher, world, db):
    _deadline_in(db, world, 2)
    page = teacher.get(f"/teacher/classes/{world.class_a.id}").get_data(as_text=True)
    assert "有风险" in page and "距截止日期还有 2 天" in page
    assert sorted(_late_names(page)) == sorted([world.students_a[0].name, world.students_a[2].name])


def test_after_the_deadline_students_not_submitted_or_approved_are_overdue(teacher, world, db):
    _decide(db, world, world.students_a[2], "returned")  # returned and not sent again: still overdue
    _decide(db, world, world.students_a[0], "submitted")  # waiting for the teacher: not the family's delay
    _deadline_in(db, world, -2)
    page = teacher.get(f"/teacher/classes/{world.class_a.id}").get_data(as_text=True)
    assert "已过截止日期 2 天" in page and "已逾期" in page
    assert _late_names(page) == [world.students_a[2].name]


def _admin(client, auth, world):
    assert auth.login(world.admin.username, PASSWORD).status_code == 302
    return client


def _table_titles(page: str) -> list[str]:
    return re.findall(r'<tr><td><a href="/teacher/classes/\d+">([^<]+)</a>', page)


def test_school_page_shows_percentages_and_sorts_on_the_server(client, auth, world, db):
    _decide(db, world, world.students_b[1], "approved")
    admin = _admin(client, auth, world)
    page = admin.get("/admin/").get_data(as_text=True)
    assert _table_titles(page) == ["三年级 1班", "三年级 2班"]
    assert '<td class="rate">50%</td>' in page  # class B: 1 of 2 approved
    assert '<td class="rate">0%</td>' in page
    assert _table_titles(admin.get("/admin/?sort=-total").get_data(as_text=True)) == ["三年级 1班", "三年级 2班"]
    assert _table_titles(admin.get("/admin/?sort=total").get_data(as_text=True)) == ["三年级 2班", "三年级 1班"]
    assert _table_titles(admin.get("/admin/?sort=-done").get_data(as_text=True)) == ["三年级 2班", "三年级 1班"]
    assert _table_titles(admin.get("/admin/?sort=nonsense").get_data(as_text=True)) == ["三年级 1班", "三年级 2班"]


def _sheet_rows(response, name: str) -> list[tuple]:
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    rows = [tuple(row) for row in workbook[name].iter_rows(values_only=True)]
    workbook.close()
    return rows


def test_class_export_has_the_funnel_and_every_student_with_stage(teacher, world, db):
    _deadline_in(db, world, 1)
    response = teacher.get(f"/teacher/classes/{world.class_a.id}/stats.xlsx")
    figures = _sheet_rows(response, "统计")
    assert figures[0][0] == world.class_a.title
    assert ("未注册", 1, 33) in figures and ("已通过", 1, 33) in figures and ("合计", 3, 100) in figures
    students = _sheet_rows(response, "学生")
    assert students[0] == ("姓名", "状态", "提醒", "学生标识")
    flags = {name: (stage, flag) for name, stage, flag, _identifier in students[1:]}
    assert {row[3] for row in students[1:]} == {
        f"{world.class_a.title}/{s.name}/{s.value('birth_date')[:4]}-{s.value('birth_date')[4:6]}-"
        f"{s.value('birth_date')[6:]}" for s in world.students_a}
    assert flags == {world.students_a[0].name: ("已注册未提交", "有风险"),
                     world.students_a[1].name: ("已通过", None),
                     world.students_a[2].name: ("未注册", "有风险")}


def test_school_export_has_every_class_with_figures_and_the_school_total(client, auth, world, db):
    _decide(db, world, world.students_b[1], "approved")
    rows = _sheet_rows(_admin(client, auth, world).get("/admin/stats.xlsx"), "各班进度")
    assert rows[0][0] == world.school.name
    by_class = {r[0]: r for r in rows[3:]}
    assert set(by_class) == {"三年级 1班", "三年级 2班", "全校"}
    # 班级, 班主任, then (count, %) per stage, 合计, 完成率%, 未完成, 逾期或有风险
    assert by_class["三年级 2班"][2:] == (0, 0, 1, 50, 0, 0, 0, 0, 0, 0, 1, 50, 2, 50, 1, 0)
    assert by_class["全校"][14:] == (5, 20, 4, 0)


def test_statement_counts_do_not_grow_with_students_or_classes(app):
    with Session(app.extensions["db_engine"]) as s:
        small = populate(s, classes=2, per_class=5, school_code="5100000701")
        large = populate(s, classes=8, per_class=40, school_code="5100000702")
        s.commit()
    class_counts = [count_page(app, built["teacher"], f"/teacher/classes/{built['class_ids'][0]}")
                    for built in (small, large)]
    school_counts = [count_page(app, built["admin"], "/admin/") for built in (small, large)]
    assert class_counts[0] == class_counts[1]
    assert school_counts[0] == school_counts[1]
