"""The teacher's student page is the student's page, and the class list finds a student (issue 15, item 3)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from urllib.parse import unquote

import pytest
from sqlalchemy import event, func, select

from confirm.models import Confirmation, Notification, StoredFile
from confirm.states import MessageKind, MessageStatus
from tests.factories import make_parent, make_student
from tests.webapp.conftest import sms_code
from tests.webapp.test_teacher_review import listed_names, logged_in


@pytest.fixture
def teacher(app, world):
    return logged_in(app, world.teacher.username)


def test_before_any_submission_the_page_shows_record_upload_number_parents_messages_and_actions(teacher, world, db):
    student = world.students_a[0]  # world.parent is linked; nothing submitted
    db.add(Notification(school_id=world.school.id, student_id=student.id, parent_id=world.parent.id,
                        phone=world.parent.phone, kind=MessageKind.REMINDER.value, body="提醒",
                        status=MessageStatus.SENT.value))
    db.commit()

    page = teacher.get(f"/teacher/students/{student.id}").get_data(as_text=True)

    id_number = student.value("id_number")
    assert id_number not in page and f"{id_number[:6]}********{id_number[-4:]}" in page
    assert student.value("current_address") in page  # the record itself
    assert student.upload_no in page
    assert world.parent.platform_no in page and world.parent.phone not in page and "138****0001" in page
    assert re.search(r'<ul class="list messages">\s*<li>\s*<span class="badge badge-approved">已发送</span> 提醒', page)
    assert page.count("138****0001") >= 2  # the parent row and the message row
    assert f'/teacher/classes/{world.class_a.id}/upload?upload_no={student.upload_no}' in page
    assert f"/teacher/students/{student.id}/reset-code" in page
    assert f"/teacher/classes/{world.class_a.id}/reset-password?platform_no={world.parent.platform_no}" in page
    assert f'action="/teacher/classes/{world.class_a.id}/reminders"' in page


def test_the_actions_lead_to_their_pages_ready_for_this_student(app, world, db, outbox):
    db.merge(world.teacher).phone = "13700000009"
    db.commit()
    teacher = logged_in(app, world.teacher.username)
    student = world.students_a[0]
    upload = teacher.get(f"/teacher/classes/{world.class_a.id}/upload?upload_no={student.upload_no}")
    assert upload.status_code == 200 and student.name in upload.get_data(as_text=True)
    reset_url = f"/teacher/classes/{world.class_a.id}/reset-password?platform_no={world.parent.platform_no}"
    page = teacher.get(reset_url).get_data(as_text=True)  # not stepped up yet: verifying comes back to this parent
    assert unquote(re.search(r'href="/teacher/verify\?next=([^"]+)"', page).group(1)) == reset_url
    teacher.post("/teacher/verify/send", query_string={"next": reset_url})
    verified = teacher.post("/teacher/verify", query_string={"next": reset_url}, data={"sms_code": sms_code(outbox)})
    assert verified.status_code == 302 and verified.headers["Location"] == reset_url
    assert f'value="{world.parent.platform_no}"' in teacher.get(reset_url).get_data(as_text=True)


def test_a_reminder_from_the_student_page_queues_one_message_and_comes_back(teacher, world, db):
    student = world.students_a[0]
    response = teacher.post(f"/teacher/classes/{world.class_a.id}/reminders",
                            data={"stage": "open", "pick": "1", "back": "student", "student_ids": str(student.id)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/teacher/students/{student.id}")
    assert db.scalar(select(func.count()).select_from(Notification).where(
        Notification.student_id == student.id, Notification.kind == MessageKind.REMINDER.value)) == 1


def test_the_class_list_finds_students_by_name_and_by_platform_number(teacher, world):
    url = f"/teacher/classes/{world.class_a.id}"
    by_name = listed_names(teacher.get(url, query_string={"q": world.students_a[1].name}).get_data(as_text=True))
    assert by_name == {world.students_a[1].name}
    by_number = listed_names(teacher.get(url, query_string={"q": world.parent.platform_no}).get_data(as_text=True))
    assert by_number == {world.students_a[0].name}
    nobody = teacher.get(url, query_string={"q": "100%_"}).get_data(as_text=True)
    assert listed_names(nobody) == set() and "没有找到符合条件的学生" in nobody


def test_stage_filters_keep_the_search_without_javascript(teacher, world):
    url = f"/teacher/classes/{world.class_a.id}"
    page = teacher.get(url, query_string={"q": "测试"}).get_data(as_text=True)
    assert f'href="{url}?stage=open&amp;q=%E6%B5%8B%E8%AF%95"' in page  # the filters carry q
    filtered = teacher.get(url, query_string={"q": "测试", "stage": "open"}).get_data(as_text=True)
    assert listed_names(filtered) == {world.students_a[0].name}  # registered, nothing submitted
    assert 'name="stage" value="open"' in filtered  # a new search keeps the stage


@contextmanager
def counted(app):
    statements = []

    def count(*_args):
        statements.append(1)

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_class_list_and_the_student_page_take_the_same_queries_however_many_students(app, teacher, world, db):
    url = f"/teacher/classes/{world.class_a.id}"
    student_url = f"/teacher/students/{world.students_a[0].id}"
    teacher.get(url)  # warm: the first request loads what every request then has
    with counted(app) as few:
        teacher.get(url, query_string={"q": "测试"})
        teacher.get(student_url)
    for _ in range(12):
        extra = make_student(db, world.class_a)
        make_parent(db, extra)
    make_parent(db, world.students_a[0])  # a second parent on the student's page
    db.commit()
    with counted(app) as many:
        teacher.get(url, query_string={"q": "测试"})
        teacher.get(student_url)
    assert len(many) == len(few)


def whole_records(statements: list[str]) -> list[str]:
    """The statements that read a student's whole record (not one field of it, as ->> or JSON_EXTRACT do)."""
    return [sql for sql in statements if re.search(r"(?<!JSON_EXTRACT\()students\.record\b(?!\s*->)", sql)]


@contextmanager
def statements_of(app):
    seen: list[str] = []
    engine = app.extensions["db_engine"]

    def keep(_conn, _cursor, sql, *_args):
        seen.append(sql)

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def test_the_class_page_takes_the_same_statements_however_many_students_and_reads_no_whole_record(app, teacher,
                                                                                                   world, db):
    url = f"/teacher/classes/{world.class_a.id}"
    teacher.get(url)  # warm
    with statements_of(app) as few:
        page = teacher.get(url).get_data(as_text=True)
    assert "无有效手机号 0" in page
    for n in range(12):  # unregistered, each with a family member: the invitation summary looks at their phones
        extra = make_student(db, world.class_a)
        if n % 3 == 0:
            extra.set_value("phone", "")
            extra.members[0].set_value("phone", "0851-86001234")  # a landline: no mobile on record
    db.commit()
    with statements_of(app) as many:
        page = teacher.get(url).get_data(as_text=True)
    assert len(many) == len(few)
    assert "无有效手机号 4" in page and len(listed_names(page)) == 15
    assert whole_records(many) == []  # a name and a stage are all a row shows


def test_a_submissions_review_page_takes_the_same_statements_however_many_corrections_proofs_and_parents(
        app, teacher, world, db):
    from tests.webapp.test_teacher_review import hand_in

    student = world.students_a[0]
    hand_in(app, db, world, student, world.parent.id, entries={(0, "ethnicity"): "02"})  # key data: needs a proof
    url = f"/teacher/students/{student.id}"
    teacher.get(url)  # warm
    with statements_of(app) as few:
        page = teacher.get(url).get_data(as_text=True)
    assert "不能通过" in page  # no proof yet: approving is disabled
    confirmation = db.scalars(select(Confirmation).where(Confirmation.student_id == student.id)).one()
    for n in range(3):
        db.add(StoredFile(school_id=student.school_id, student_id=student.id, kind="proof",
                          confirmation_id=confirmation.id, storage_key=f"proof/{n}.jpg", sha256=f"{n}" * 64,
                          content_type="image/jpeg", size_bytes=10, quality={}, uploaded_by_kind="parent",
                          uploaded_by_id=world.parent.id))
    make_parent(db, student)
    db.commit()
    with statements_of(app) as many:
        page = teacher.get(url).get_data(as_text=True)
    assert len(many) == len(few)
    assert "不能通过" not in page and "审核通过" in page
