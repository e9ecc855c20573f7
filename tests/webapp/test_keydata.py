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
