"""The school admin's approval of key-data corrections, and what the parent sees of the outcome."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from confirm.models import FieldCorrection, Student
from confirm.services import proofs, records, review
from confirm.services.common import Actor
from tests.webapp.test_teacher_review import hand_in, logged_in


@pytest.fixture
def pending(app, db, world):
    """students_a[0]'s 民族 correction, with a proof, passed on by the head teacher to the admin."""
    student = world.students_a[0]
    confirmation = records.ensure_confirmation(db, world.campaign, db.merge(student))
    records.save_corrections(db, confirmation, {(0, "ethnicity"): "06"}, actor=Actor("parent", world.parent.id))
    proofs.add_proof(db, confirmation, proofs.ProofUpload(b"jpeg", "ab" * 32, "image/jpeg", thumbnail=b"t"),
                     store=app.extensions["store"], actor=Actor("parent", world.parent.id))
    db.commit()
    confirmation = hand_in(app, db, world, student, world.parent.id)  # the sheet, with the correction and its proof
    review.approve_confirmation(db, confirmation, actor=Actor("staff", world.teacher.id))
    db.commit()
    return confirmation.corrections[0]


def test_admin_queue_lists_the_correction_with_its_proof_and_home_shows_the_count(app, world, pending):
    admin = logged_in(app, world.admin.username)
    page = admin.get("/admin/key-data").get_data(as_text=True)
    assert world.students_a[0].name in page and "<del>汉族</del> → <ins>苗族</ins>" in page
    assert "?size=thumb" in page
    assert "关键信息审核（1 项待审核）" in admin.get("/admin/").get_data(as_text=True)


def test_approval_updates_the_record_texts_the_parent_and_shows_the_outcome(app, db, world, pending, outbox):
    admin = logged_in(app, world.admin.username)
    student = world.students_a[0]
    response = admin.post(f"/admin/key-data/students/{student.id}/approve", data={"field_key": "ethnicity"})
    assert response.status_code == 302
    db.expire_all()
    assert db.get(Student, student.id).value("ethnicity") == "06"
    assert db.get(FieldCorrection, pending.id).status == "applied"
    assert [phone for phone, _t in outbox] == [world.parent.phone] and student.id_number not in outbox[0][1]
    parent = logged_in(app, world.parent.phone)
    assert "已生效" in parent.get(f"/parent/students/{student.id}").get_data(as_text=True)
    assert admin.post(f"/admin/key-data/students/{student.id}/approve",
                      data={"field_key": "ethnicity"}).status_code == 404  # nothing left to decide


def test_rejection_needs_a_reason_and_the_parent_reads_it(app, db, world, pending, outbox):
    admin = logged_in(app, world.admin.username)
    student = world.students_a[0]
    url = f"/admin/key-data/students/{student.id}/reject"
    admin.post(url, data={"field_key": "ethnicity", "reason": " "})
    db.expire_all()
    assert db.get(FieldCorrection, pending.id).status == "pending_admin" and outbox == []
    assert admin.post(url, data={"field_key": "ethnicity", "reason": "户口簿上是汉族"}).status_code == 302
    db.expire_all()
    assert db.get(FieldCorrection, pending.id).decision_reason == "户口簿上是汉族"
    assert db.get(Student, student.id).value("ethnicity") == "01"
    assert len(outbox) == 1 and student.id_number not in outbox[0][1]
    page = logged_in(app, world.parent.phone).get(f"/parent/students/{student.id}").get_data(as_text=True)
    assert "未通过" in page and "户口簿上是汉族" in page


def test_head_teacher_cannot_decide_key_data(app, db, world, pending):
    teacher = logged_in(app, world.teacher.username)
    response = teacher.post(f"/admin/key-data/students/{world.students_a[0].id}/approve",
                            data={"field_key": "ethnicity"})
    assert response.status_code == 403
    db.expire_all()
    assert db.scalar(select(FieldCorrection.status)) == "pending_admin"


@pytest.fixture
def turned_down(app, db, world, pending):
    admin = logged_in(app, world.admin.username)
    student = world.students_a[0]
    admin.post(f"/admin/key-data/students/{student.id}/reject", data={"field_key": "ethnicity",
                                                                      "reason": "户口簿上是汉族"})
    return pending


def test_the_teacher_sees_the_turned_down_correction_and_its_reason_on_the_student_and_in_the_class(
        app, world, turned_down):
    teacher = logged_in(app, world.teacher.username)
    student = world.students_a[0]
    page = teacher.get(f"/teacher/students/{student.id}").get_data(as_text=True)
    assert "关键信息被退回" in page and "学校退回的原因：户口簿上是汉族" in page
    listing = teacher.get(f"/teacher/classes/{world.class_a.id}?stage=key_returned").get_data(as_text=True)
    assert student.name in listing and world.students_a[1].name not in listing


def test_the_parent_sends_a_new_proof_and_the_correction_waits_for_the_school_again(app, db, world, turned_down):
    import io

    from tests.webapp.conftest import jpeg_bytes

    parent = logged_in(app, world.parent.phone)
    student = world.students_a[0]
    page = parent.get(f"/parent/students/{student.id}").get_data(as_text=True)
    assert "需要重新上传证明材料" in page and "户口簿上是汉族" in page

    answer = parent.post(f"/parent/students/{student.id}/key-data/resubmit", content_type="multipart/form-data",
                         data={"field_key": "ethnicity", "proof": (io.BytesIO(jpeg_bytes((640, 480))), "new.jpg")})

    assert answer.status_code == 302
    db.expire_all()
    assert db.get(FieldCorrection, turned_down.id).status == "pending_admin"
    admin = logged_in(app, world.admin.username)
    assert "上次不通过的原因：户口簿上是汉族" in admin.get("/admin/key-data").get_data(as_text=True)


def test_the_parent_withdraws_the_correction_and_the_record_stays(app, db, world, turned_down):
    parent = logged_in(app, world.parent.phone)
    student = world.students_a[0]

    answer = parent.post(f"/parent/students/{student.id}/key-data/withdraw", data={"field_key": "ethnicity"},
                         follow_redirects=True)

    page = answer.get_data(as_text=True)
    assert "已撤回这项更正" in page and "需要重新上传证明材料" not in page
    db.expire_all()
    assert db.get(FieldCorrection, turned_down.id).status == "withdrawn"
    assert db.get(Student, student.id).value("ethnicity") == "01"
    again = parent.post(f"/parent/students/{student.id}/key-data/withdraw", data={"field_key": "ethnicity"},
                        follow_redirects=True)
    assert "这项更正已经处理过了" in again.get_data(as_text=True)
