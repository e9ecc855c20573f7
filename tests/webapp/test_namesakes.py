"""Two 唐俊杰 in one class are told apart wherever the class's students are listed or printed (issue 15, item 2)."""

from __future__ import annotations

import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, select

from confirm.exporting import CHANGE_HEADERS
from confirm.models import Guardianship, SchoolClass, Student
from confirm.services.common import Actor
from confirm.services.records import ensure_confirmation, save_corrections
from tests.factories import PASSWORD, make_campaign, make_parent, make_school, make_staff
from tests.webapp.test_import_cli import col, rows, write_xlsx

SCHOOL = "5200000001"
NAME = "唐俊杰"


@pytest.fixture
def twins(runner, db, tmp_path):
    """Rows 0 and 24 of the template (both 1年级 1班, born 2008-01-01 and 2008-01-25) imported as two 唐俊杰, with a
    head teacher, a running campaign, a parent each and a correction each."""
    school = make_school(db, code=SCHOOL)
    db.commit()
    data = rows(25)
    for i in (0, 24):
        data[i][col("姓名")] = NAME
    result = runner.invoke(args=["import-students", write_xlsx(tmp_path / "学生.xlsx", data), "--school", SCHOOL])
    assert result.exit_code == 0, result.output
    students = db.scalars(select(Student).where(Student.name == NAME).order_by(Student.id)).all()
    assert len(students) == 2 and students[0].class_id == students[1].class_id
    teacher = make_staff(db, school)
    school_class = db.get(SchoolClass, students[0].class_id)
    school_class.head_teacher_id = teacher.id
    campaign = make_campaign(db, school)
    for n, student in enumerate(students):
        parent = make_parent(db, student)
        save_corrections(db, ensure_confirmation(db, campaign, student), {(0, "current_address"): f"新地址{n}号"},
                         actor=Actor("parent", parent.id))
    db.commit()
    return school_class, teacher, students


@pytest.fixture
def client_of(client, twins):
    response = client.post("/login", data={"login": twins[1].username, "password": PASSWORD})
    assert response.status_code == 302
    return client


LABELS = (f"{NAME}（2008-01-01）", f"{NAME}（2008-01-25）")


def test_namesakes_differ_on_the_class_list(client_of, twins):
    page = client_of.get(f"/teacher/classes/{twins[0].id}").get_data(as_text=True)
    assert all(label in page for label in LABELS)


def test_namesakes_differ_on_the_print_ticks(client_of, twins):
    page = client_of.get(f"/teacher/classes/{twins[0].id}/sheets").get_data(as_text=True)
    assert all(label in page for label in LABELS)


def test_namesakes_differ_in_the_parent_directory(client_of, twins):
    page = client_of.get(f"/teacher/classes/{twins[0].id}/parents").get_data(as_text=True)
    assert all(label in page for label in LABELS)


def test_namesakes_differ_on_their_pages(client_of, twins):
    pages = [client_of.get(f"/teacher/students/{s.id}").get_data(as_text=True) for s in twins[2]]
    assert [label in page for page in pages for label in LABELS] == [True, False, False, True]


def test_registration_slips_carry_the_suffix_and_the_upload_number(client_of, twins, db):
    db.execute(delete(Guardianship))  # no parent registered: a slip each
    db.commit()
    page = client_of.post(f"/teacher/classes/{twins[0].id}/codes").get_data(as_text=True)
    printed = re.findall(r'class="slip-name">[^<]*<strong>([^<]+)</strong>\s*<span class="slip-suffix">（([^<]+)）',
                         page)
    assert sorted(printed) == [(NAME, "2008-01-01"), (NAME, "2008-01-25")]
    assert all(f"<strong>{s.upload_no}</strong>" in page for s in twins[2])


def test_the_change_list_tells_namesakes_apart_with_a_stable_identifier_and_beijing_time(runner, twins, tmp_path):
    target = tmp_path / "更正.xlsx"
    result = runner.invoke(args=["export-changes", "--school", SCHOOL, "-o", str(target)])
    assert result.exit_code == 0, result.output
    sheet = load_workbook(target).active
    lines = [dict(zip(CHANGE_HEADERS, r, strict=True)) for r in sheet.iter_rows(values_only=True)]
    assert "审核时间（北京时间）" in CHANGE_HEADERS
    ours = [line for line in lines[1:] if line["学生姓名"].startswith(NAME)]
    assert sorted(line["学生姓名"] for line in ours) == list(LABELS)
    title = twins[0].title
    assert sorted(line["学生标识"] for line in ours) == [f"{title}/{NAME}/2008-01-01", f"{title}/{NAME}/2008-01-25"]
