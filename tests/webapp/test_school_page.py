"""The admin's school page at any size: per-class figures, and the students a page at a time (search, stage)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from benchmarks.stats_queries import PASSWORD as BULK_PASSWORD
from benchmarks.stats_queries import count_page, populate
from tests.factories import PASSWORD, make_student
from webapp.admin.views import STUDENTS_PER_PAGE


@pytest.fixture
def admin(client, world, auth):
    assert auth.login(world.admin.username, PASSWORD).status_code == 302
    return client


def listed(page: str) -> list[str]:
    """The names in the page's list of students, in order."""
    table = re.search(r'<table class="table student-list">(.*?)</table>', page, re.S)
    return re.findall(r'<a href="/teacher/students/\d+">([^<]+)</a>', table[1]) if table else []


def test_the_school_page_lists_the_schools_students_by_name_with_class_and_stage(admin, world):
    page = admin.get("/admin/").get_data(as_text=True)
    ours = sorted(s.name for s in (*world.students_a, *world.students_b))
    assert listed(page) == ours
    assert "共 5 人" in page
    row = re.search(rf"{world.students_b[0].name}</a></td><td>([^<]+)</td><td>([^<]+)</td>", page)
    assert row.groups() == ("三年级 2班", "已注册未提交")  # students_b[0] has a parent account


def test_a_name_search_finds_only_the_students_whose_name_contains_it(admin, world, db):
    make_student(db, world.class_a, name="王小明")
    make_student(db, world.class_b, name="李明华")
    make_student(db, world.class_b, name="张三")
    db.commit()
    page = admin.get("/admin/?q=明").get_data(as_text=True)
    assert listed(page) == sorted(["王小明", "李明华"])
    assert 'value="明"' in page  # the search stays in the box
    assert listed(admin.get("/admin/?q=%25").get_data(as_text=True)) == []  # a LIKE wildcard is a plain character


def test_the_stage_filter_shows_only_students_at_that_stage(admin, world):
    unregistered = admin.get("/admin/?stage=unregistered").get_data(as_text=True)
    assert listed(unregistered) == sorted([world.students_a[1].name, world.students_a[2].name,
                                           world.students_b[1].name])
    assert listed(admin.get("/admin/?stage=approved").get_data(as_text=True)) == []
    assert "没有符合条件的学生" in admin.get("/admin/?stage=approved").get_data(as_text=True)
    assert len(listed(admin.get("/admin/?stage=nonsense").get_data(as_text=True))) == 5  # ignored, not an error


def test_students_come_a_page_at_a_time_with_links_to_the_next_and_previous(admin, world, db):
    for n in range(STUDENTS_PER_PAGE + 10):
        make_student(db, world.class_a, name=f"同学{n:03d}")
    db.commit()
    first = admin.get("/admin/?q=同学").get_data(as_text=True)
    assert listed(first) == [f"同学{n:03d}" for n in range(STUDENTS_PER_PAGE)]
    assert "第 1 / 2 页" in first and 'rel="prev"' not in first
    next_url = re.search(r'<a class="btn small" rel="next" href="([^"]+)"', first)[1].replace("&amp;", "&")
    second = admin.get(next_url).get_data(as_text=True)
    assert listed(second) == [f"同学{n:03d}" for n in range(STUDENTS_PER_PAGE, STUDENTS_PER_PAGE + 10)]
    assert "第 2 / 2 页" in second and 'rel="next"' not in second
    assert listed(admin.get("/admin/?q=同学&page=99").get_data(as_text=True)) == listed(second)  # the last page
    assert listed(admin.get("/admin/?q=同学&page=x").get_data(as_text=True)) == listed(first)


def test_another_schools_students_are_never_listed(admin, world, db):
    from tests.factories import make_class

    make_student(db, make_class(db, world.other_school), name="别校学生")
    db.commit()
    assert "别校学生" not in admin.get("/admin/?q=别校").get_data(as_text=True)


def test_the_page_does_not_grow_with_the_school(app):
    with Session(app.extensions["db_engine"]) as s:
        small = populate(s, classes=4, per_class=20, school_code="5100000711")
        large = populate(s, classes=4, per_class=150, school_code="5100000712")
        s.commit()
    sizes, statements = [], []
    for built in (small, large):
        client = app.test_client()
        assert client.post("/login", data={"login": built["admin"], "password": BULK_PASSWORD}).status_code == 302
        page = client.get("/admin/").get_data(as_text=True)
        assert len(listed(page)) == STUDENTS_PER_PAGE
        sizes.append(len(page.encode()))
        statements.append(count_page(app, built["admin"], "/admin/?page=2&q=学生"))
    assert statements[0] == statements[1]
    assert sizes[1] - sizes[0] < 200  # the same 50 lines; only the counts' digits differ


def test_the_head_teacher_is_chosen_on_a_page_of_its_own(admin, world, db):
    home = admin.get("/admin/").get_data(as_text=True)
    assert home.count("<select") == 2  # the stage filter and the new class form; none per class
    page = admin.get(f"/admin/classes/{world.class_a.id}/teacher").get_data(as_text=True)
    assert f'<option value="{world.teacher.id}" selected>' in page
    answer = admin.post(f"/admin/classes/{world.class_a.id}/teacher",
                        data={"head_teacher_id": str(world.other_teacher.id)})
    assert answer.status_code == 302
    db.refresh(world.class_a)
    assert world.class_a.head_teacher_id == world.other_teacher.id


def test_another_schools_class_has_no_teacher_page(admin, world, db):
    from tests.factories import make_class

    foreign = make_class(db, world.other_school)
    db.commit()
    assert admin.get(f"/admin/classes/{foreign.id}/teacher").status_code == 404


def test_the_page_reads_a_fixed_set_of_statements_and_never_the_students_records(app):
    """However many classes and students: the same statements, none of them reading a student's record (the JSON
    of every field) or building a Student per row just to show a name."""
    with Session(app.extensions["db_engine"]) as s:
        small = populate(s, classes=2, per_class=5, school_code="5100000721")
        large = populate(s, classes=30, per_class=40, school_code="5100000722")
        s.commit()
    seen = []
    for built in (small, large):
        client = app.test_client()
        assert client.post("/login", data={"login": built["admin"], "password": BULK_PASSWORD}).status_code == 302
        statements: list[str] = []

        def record(_conn, _cursor, sql, *_args, statements=statements):
            statements.append(sql)

        event.listen(app.extensions["db_engine"], "before_cursor_execute", record)
        try:
            assert client.get("/admin/?sort=-done").status_code == 200
        finally:
            event.remove(app.extensions["db_engine"], "before_cursor_execute", record)
        assert not [sql for sql in statements if "students.record" in sql]
        seen.append(len(statements))
    assert seen[0] == seen[1] <= 12
