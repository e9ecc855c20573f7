"""Upload on behalf (代为上传): the head teacher types a sheet's upload number and files the photo for the parent."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from benchmarks.sheet_photos import make_sheet_photo
from confirm.models import AuditEvent, Confirmation, StoredFile
from confirm.sheets import SheetRef, make_sheet_payload
from tests.factories import PASSWORD
from tests.webapp.conftest import jpeg_bytes


@pytest.fixture
def teacher(client, world):
    response = client.post("/login", data={"login": world.teacher.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def qr_photo(app, student, campaign, seed: int = 1) -> bytes:
    """A phone photo of ``student``'s printed sheet with its QR code, small enough to keep tests quick."""
    payload = make_sheet_payload(app.extensions["sheet_key"], SheetRef(student.id, campaign.id, student.record_version))
    return make_sheet_photo(seed, payload=payload, long_edge=1600, rotation=4, skew=0.01, blur=0, noise=1).jpeg


def url(world) -> str:
    return f"/teacher/classes/{world.class_a.id}/upload"


def upload(client, world, student, data: bytes, **extra):
    return client.post(url(world), data={"upload_no": student.upload_no,
                                         "sheet": (io.BytesIO(data), "IMG_1.jpg"), **extra})


def confirmation_of(db, student) -> Confirmation | None:
    db.commit()
    return db.scalar(select(Confirmation).where(Confirmation.student_id == student.id))


def test_upload_number_shows_the_students_name_before_upload(teacher, world):
    student = world.students_a[1]
    page = teacher.get(url(world), query_string={"upload_no": student.upload_no})
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert student.name in body and 'type="file"' in body


def test_upload_number_of_another_class_is_refused_without_naming_the_student(teacher, world):
    other = world.students_b[1]
    page = teacher.get(url(world), query_string={"upload_no": other.upload_no})
    assert page.status_code == 400
    body = page.get_data(as_text=True)
    assert other.name not in body and "本班没有拍照上传号" in body


def test_teacher_submits_the_sheet_on_the_parents_behalf(teacher, world, db):
    student = world.students_a[1]
    response = upload(teacher, world, student, jpeg_bytes())
    assert response.status_code == 302
    confirmation = confirmation_of(db, student)
    assert (confirmation.state, confirmation.submitted_by_kind, confirmation.submitted_by_id) == (
        "submitted", "staff", world.teacher.id)
    sheet = db.get(StoredFile, confirmation.sheet_file_id)
    assert (sheet.uploaded_by_kind, sheet.uploaded_by_id, sheet.student_id) == ("staff", world.teacher.id, student.id)
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "sheet.uploaded_on_behalf"))
    assert (event.actor_id, event.target_id, event.detail["how"]) == (world.teacher.id, student.id, "on_behalf")


def test_refused_photo_offers_the_override_and_files_nothing(teacher, world, db):
    student = world.students_a[1]
    response = upload(teacher, world, student, jpeg_bytes(size=(800, 600)))
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "照片太小" in body and "仍然使用这张照片" in body
    assert confirmation_of(db, student) is None
    assert db.scalars(select(StoredFile)).all() == []



def test_a_file_that_is_not_a_photo_is_refused_without_offering_to_use_it_anyway(teacher, world, db):
    student = world.students_a[1]
    for extra in ({}, {"override": "y", "override_reason": "家长只有这个文件"}):
        response = upload(teacher, world, student, b"%PDF-1.4 not a photo", **extra)
        body = response.get_data(as_text=True)
        assert response.status_code == 400 and "无法识别的文件" in body and "仍然使用这张照片" not in body
    assert confirmation_of(db, student) is None

def test_override_needs_a_reason(teacher, world, db):
    student = world.students_a[1]
    response = upload(teacher, world, student, jpeg_bytes(size=(800, 600)), override="y", override_reason=" ")
    assert response.status_code == 400
    assert "请填写仍然使用这张照片的原因" in response.get_data(as_text=True)
    assert confirmation_of(db, student) is None


def test_head_teacher_overrides_the_quality_gate_with_a_recorded_reason(teacher, world, db):
    student = world.students_a[1]
    response = upload(teacher, world, student, jpeg_bytes(size=(800, 600)), override="y",
                      override_reason="家长只有这张照片，字迹可辨认")
    assert response.status_code == 302
    confirmation = confirmation_of(db, student)
    assert confirmation.state == "submitted"
    sheet = db.get(StoredFile, confirmation.sheet_file_id)
    assert sheet.quality["override_reason"] == "家长只有这张照片，字迹可辨认"
    assert sheet.quality["override_by"] == world.teacher.id
    audited = db.scalar(select(AuditEvent).where(AuditEvent.action == "sheet.quality_overridden"))
    assert audited.detail["reason"] == "家长只有这张照片，字迹可辨认" and audited.target_id == sheet.id


def test_sheet_of_another_student_can_never_be_overridden_onto_this_one(app, teacher, world, db):
    student, owner = world.students_a[1], world.students_a[2]
    response = upload(teacher, world, student, qr_photo(app, owner, world.campaign), override="y",
                      override_reason="老师确认")
    assert response.status_code == 400
    assert "属于另一名学生" in response.get_data(as_text=True)
    assert confirmation_of(db, student) is None and confirmation_of(db, owner) is None
    assert db.scalars(select(StoredFile)).all() == []


def test_a_dark_photo_of_another_students_sheet_can_never_be_overridden_onto_this_one(app, teacher, world, db):
    from PIL import Image, ImageEnhance

    student, owner = world.students_a[1], world.students_a[2]
    photo = Image.open(io.BytesIO(qr_photo(app, owner, world.campaign)))
    dark = io.BytesIO()
    ImageEnhance.Brightness(photo).enhance(0.3).save(dark, "JPEG", quality=90)  # refused unseen: too dark

    response = upload(teacher, world, student, dark.getvalue(), override="y", override_reason="老师确认")

    assert response.status_code == 400 and "属于另一名学生" in response.get_data(as_text=True)
    assert db.scalars(select(StoredFile)).all() == []


def test_own_sheet_with_its_qr_code_is_accepted(app, teacher, world, db):
    student = world.students_a[2]
    assert upload(teacher, world, student, qr_photo(app, student, world.campaign)).status_code == 302
    assert confirmation_of(db, student).state == "submitted"


def test_already_submitted_sheet_is_not_replaced(teacher, world, db):
    student = world.students_a[1]
    assert upload(teacher, world, student, jpeg_bytes()).status_code == 302
    again = upload(teacher, world, student, jpeg_bytes(color=(90, 90, 90)))
    assert again.status_code == 400
    assert "已经提交" in again.get_data(as_text=True)
    assert len(db.scalars(select(StoredFile)).all()) == 1


def test_a_sheet_of_another_student_is_refused_in_words_for_the_teacher(app, teacher, world, db):
    student, other = world.students_a[1], world.students_a[2]
    response = upload(teacher, world, student, qr_photo(app, other, world.campaign))
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and confirmation_of(db, student) is None
    assert "请核对拍照上传号，上传这名学生本人的确认表" in body and "您孩子" not in body


def test_the_teachers_step_up_code_is_worded_for_the_teacher(app, teacher, world, db, outbox):
    db.merge(world.teacher).phone = "13700000009"
    db.commit()
    teacher.post("/teacher/verify/send")
    phone, text = outbox[-1]
    assert phone == "13700000009" and "敏感操作" in text and "老师不会向您索要" not in text
