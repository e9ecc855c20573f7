"""The head teacher's work: class progress by stage, reviewing sheets, returning them, printing code slips."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from sqlalchemy import select

from confirm.models import Confirmation, RegistrationCode, Student
from confirm.services import records, review
from confirm.services.common import Actor
from confirm.services.files import record_file
from tests.factories import PASSWORD, make_parent, make_student
from tests.webapp.conftest import jpeg_bytes
from uploads.storage import new_object_key


def logged_in(app, login: str):
    """A client of its own, logged in as ``login``: teacher and parent act side by side."""
    client = app.test_client()
    response = client.post("/login", data={"login": login, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def teacher(app, world):
    """The client of class A's head teacher."""
    return logged_in(app, world.teacher.username)


def legend(page: str) -> dict[str, int]:
    """Stage value → count, as the progress legend shows them."""
    pattern = r'<i class="dot seg-(\w+)"></i>[^<]+<strong>(\d+)</strong>'
    return {stage: int(n) for stage, n in re.findall(pattern, page)}


def listed_names(page: str) -> set[str]:
    """The student names in the class table."""
    return set(re.findall(r"<tr>\s*<td>([^<]+)</td>", page))


def hand_in(app, db, world, student: Student, parent_id: int, entries=None) -> Confirmation:
    """Arrange a submitted confirmation directly through the services (the parent's pages are tested elsewhere)."""
    by_parent = Actor("parent", parent_id)
    key = new_object_key("sheet", student.school_id)
    data = jpeg_bytes((400, 300))
    app.extensions["store"].put(key, data, "image/jpeg")
    sheet = record_file(db, student, kind="sheet", storage_key=key, sha256=hashlib.sha256(data).hexdigest(),
                        content_type="image/jpeg", size_bytes=len(data), width=400, height=300, actor=by_parent)
    confirmation = records.ensure_confirmation(db, world.campaign, student)
    if entries:
        records.save_corrections(db, confirmation, entries, actor=by_parent)
    review.submit_confirmation(db, confirmation, sheet, actor=by_parent)
    db.commit()
    return confirmation


def parent_submits(app, world, corrections: dict[str, str], *, proof: bool = False):
    """The parent of students_a[0] saves corrections and uploads the signed sheet through the pages
    (first a proof document, with ``proof``: key-data corrections need one)."""
    parent = logged_in(app, world.parent.phone)
    student = world.students_a[0]
    if corrections:
        assert parent.post(f"/parent/students/{student.id}", data=corrections).status_code == 302
    if proof:
        assert parent.post(f"/parent/students/{student.id}/proofs",
                           data={"proof": (io.BytesIO(jpeg_bytes((640, 480), color=(200, 10, 10))), "hukou.jpg")},
                           content_type="multipart/form-data").status_code == 302
    response = parent.post(f"/parent/students/{student.id}/submit",
                           data={"sheet": (io.BytesIO(jpeg_bytes()), "IMG_0001.jpg"), "confirmed": "y"},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    return parent


@pytest.fixture
def staged_class(app, db, world):
    """Class A with one student in each stage: students_a[0] registered, [1] unregistered, [2] submitted,
    and two more, returned and approved."""
    a = world.students_a
    extra = [make_student(db, world.class_a) for _ in range(2)]
    parent = make_parent(db, a[2], *extra)
    db.commit()
    hand_in(app, db, world, a[2], parent.id)
    returned, approved = (hand_in(app, db, world, s, parent.id) for s in extra)
    by_teacher = Actor("staff", world.teacher.id)
    review.return_confirmation(db, returned, "照片不清楚", actor=by_teacher)
    review.approve_confirmation(db, approved, actor=by_teacher)
    db.commit()
    return {"open": a[0], "unregistered": a[1], "submitted": a[2], "returned": extra[0], "approved": extra[1]}


def test_class_page_counts_students_per_stage_and_shows_progress(teacher, world, staged_class):
    page = teacher.get(f"/teacher/classes/{world.class_a.id}").get_data(as_text=True)
    assert legend(page) == {"unregistered": 1, "open": 1, "submitted": 1, "returned": 1, "key_returned": 0,
                            "approved": 1}
    assert "已通过 1 / 5" in page  # the progress bar's accessible label
    assert listed_names(page) == {s.name for s in staged_class.values()}


@pytest.mark.parametrize("stage", ["unregistered", "open", "submitted", "returned", "approved"])
def test_stage_filter_lists_only_students_in_that_stage(teacher, world, staged_class, stage):
    response = teacher.get(f"/teacher/classes/{world.class_a.id}?stage={stage}")
    assert response.status_code == 200
    assert listed_names(response.get_data(as_text=True)) == {staged_class[stage].name}


def test_unknown_stage_is_not_found(teacher, world):
    assert teacher.get(f"/teacher/classes/{world.class_a.id}?stage=deleted").status_code == 404


def test_teacher_cannot_open_another_teachers_class_or_student(teacher, world):
    assert teacher.get(f"/teacher/classes/{world.class_b.id}").status_code == 404
    assert teacher.get(f"/teacher/students/{world.students_b[0].id}").status_code == 404


def test_review_page_shows_each_correction_old_to_new_and_the_sheet(app, teacher, world, db):
    parent_submits(app, world, {"c0-current_address": "贵阳市新地址8号", "c1-phone": "13911112222",
                                "c0-ethnicity": "06"}, proof=True)
    confirmation = db.scalar(select(Confirmation))
    page = teacher.get(f"/teacher/students/{world.students_a[0].id}").get_data(as_text=True)
    assert '<del>贵阳市测试路1号</del></td><td data-label="更正为"><ins>贵阳市新地址8号</ins>' in page
    assert '<del>13900002222</del></td><td data-label="更正为"><ins>13911112222</ins>' in page
    assert '<del>汉族</del></td><td data-label="更正为"><ins>苗族</ins>' in page  # codes are shown by name
    assert "关键信息" in page  # 民族 is key data: the teacher is told it goes to the admin
    assert f'src="/files/{confirmation.sheet_file_id}"' in page
    assert "审核通过" in page and "退回给家长" in page


def test_approving_updates_the_state_the_record_and_the_class_counts(app, teacher, world, db):
    parent_submits(app, world, {"c0-current_address": "贵阳市新地址8号"})
    student = world.students_a[0]
    before = teacher.get(f"/teacher/classes/{world.class_a.id}").get_data(as_text=True)
    assert (legend(before)["submitted"], legend(before)["approved"]) == (1, 0)
    response = teacher.post(f"/teacher/students/{student.id}/approve")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/teacher/classes/{world.class_a.id}?stage=submitted")
    db.expire_all()
    assert db.scalar(select(Confirmation.state)) == "approved"
    assert db.get(Student, student.id).value("current_address") == "贵阳市新地址8号"
    after = teacher.get(f"/teacher/classes/{world.class_a.id}").get_data(as_text=True)
    assert (legend(after)["submitted"], legend(after)["approved"]) == (0, 1)
    assert "已通过 1 / 3" in after


def test_approving_twice_is_a_conflict(app, teacher, world):
    parent_submits(app, world, {})
    student = world.students_a[0]
    assert teacher.post(f"/teacher/students/{student.id}/approve").status_code == 302
    assert teacher.post(f"/teacher/students/{student.id}/approve").status_code == 409


def test_return_without_a_reason_is_refused_and_changes_nothing(app, db, world, teacher, outbox):
    hand_in(app, db, world, world.students_a[0], world.parent.id)
    response = teacher.post(f"/teacher/students/{world.students_a[0].id}/return", data={"reason": "  "})
    assert response.status_code == 400
    assert "请填写退回原因" in response.get_data(as_text=True)
    db.expire_all()
    assert db.scalar(select(Confirmation.state)) == "submitted"
    assert outbox == []


def test_returned_sheet_shows_the_reason_to_the_parent_who_corrects_and_resubmits(app, teacher, world, db):
    parent = parent_submits(app, world, {})
    student = world.students_a[0]
    response = teacher.post(f"/teacher/students/{student.id}/return", data={"reason": "照片不清楚，请重新拍照"})
    assert response.status_code == 302
    page = parent.get(f"/parent/students/{student.id}").get_data(as_text=True)
    assert "已退回" in page and "照片不清楚，请重新拍照" in page
    assert parent.post(f"/parent/students/{student.id}",
                       data={"c0-current_address": "贵阳市新地址8号"}).status_code == 302
    response = parent.post(f"/parent/students/{student.id}/submit",
                           data={"sheet": (io.BytesIO(jpeg_bytes(color=(90, 90, 90))), "again.jpg"),
                                 "confirmed": "y"},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    db.expire_all()
    confirmation = db.scalar(select(Confirmation))
    assert confirmation.state == "submitted" and confirmation.return_reason is None
    assert [(c.field_key, c.status) for c in confirmation.corrections] == [("current_address", "submitted")]
    assert "待审核" in parent.get(f"/parent/students/{student.id}").get_data(as_text=True)
    review_page = teacher.get(f"/teacher/students/{student.id}").get_data(as_text=True)
    assert "退回给家长 — 照片不清楚，请重新拍照" in review_page  # the history keeps the reason


def test_parent_is_texted_when_the_sheet_is_returned(app, db, world, teacher, outbox):
    hand_in(app, db, world, world.students_a[0], world.parent.id)
    teacher.post(f"/teacher/students/{world.students_a[0].id}/return", data={"reason": "签名不清楚"})
    assert len(outbox) == 1
    phone, text = outbox[0]
    assert phone == world.parent.phone
    assert "退回" in text and world.students_a[0].id_number not in text


def slips(page: str) -> dict[str, str]:
    """Student name → code, from the printed slips."""
    pattern = r'class="slip-name">[^<]*<strong>([^<]+)</strong>.*?class="slip-code">[^<]*<strong>([^<]+)</strong>'
    return dict(re.findall(pattern, page, flags=re.S))


def registration_accepted(app, code: str, name: str, phone: str) -> bool:
    response = app.test_client().post("/register", data={"consent": "y", "code": code, "student_name": name,
                                                         "phone": phone})
    if response.status_code == 302:
        return True
    assert "注册码或学生姓名不正确" in response.get_data(as_text=True)
    return False


def test_printed_slips_give_each_unregistered_student_a_working_code(app, teacher, world):
    response = teacher.post(f"/teacher/classes/{world.class_a.id}/codes")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    printed = slips(response.get_data(as_text=True))
    # students_a[0] already has a registered parent, so no slip for them
    assert set(printed) == {world.students_a[1].name, world.students_a[2].name}
    assert all(re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}", code) for code in printed.values())
    name = world.students_a[1].name
    assert registration_accepted(app, printed[name], name, "13912345678")


def test_printing_again_invalidates_the_earlier_slips(app, teacher, world, db):
    first = slips(teacher.post(f"/teacher/classes/{world.class_a.id}/codes").get_data(as_text=True))
    second = slips(teacher.post(f"/teacher/classes/{world.class_a.id}/codes").get_data(as_text=True))
    name = world.students_a[2].name
    assert first[name] != second[name]
    assert not registration_accepted(app, first[name], name, "13912345678")
    assert registration_accepted(app, second[name], name, "13912345679")
    assert len(db.scalars(select(RegistrationCode).where(RegistrationCode.revoked_at.is_(None))).all()) == 2


def test_other_teacher_cannot_print_codes_for_the_class(app, world):
    other = logged_in(app, world.other_teacher.username)
    assert other.post(f"/teacher/classes/{world.class_a.id}/codes").status_code == 404


def test_sheet_photo_is_served_to_the_teacher_privately_and_not_to_other_teachers(app, db, world, teacher):
    confirmation = hand_in(app, db, world, world.students_a[0], world.parent.id)
    response = teacher.get(f"/files/{confirmation.sheet_file_id}")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg" and response.data[:2] == b"\xff\xd8"
    cache = response.headers["Cache-Control"]
    assert "private" in cache and "no-store" in cache
    other = logged_in(app, world.other_teacher.username)
    assert other.get(f"/files/{confirmation.sheet_file_id}").status_code == 404


def test_after_approval_the_review_still_shows_the_original_value_struck_out(app, world, teacher):
    parent_submits(app, world, {"c0-current_address": "贵阳市新地址9号"})
    student = world.students_a[0]
    assert teacher.post(f"/teacher/students/{student.id}/approve").status_code == 302
    page = teacher.get(f"/teacher/students/{student.id}").get_data(as_text=True)
    assert "<del>贵阳市测试路1号</del>" in page and "<ins>贵阳市新地址9号</ins>" in page
