"""Proof documents for key-data corrections: uploaded by the parent, required, shown to staff, served safely."""

from __future__ import annotations

import io

from sqlalchemy import select

from confirm.models import Confirmation, StoredFile
from tests.webapp.conftest import jpeg_bytes
from tests.webapp.test_teacher_review import hand_in, logged_in

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _upload(client, student_id: int, data: bytes, name: str):
    return client.post(f"/parent/students/{student_id}/proofs", data={"proof": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def _submit(client, student_id: int):
    return client.post(f"/parent/students/{student_id}/submit",
                       data={"sheet": (io.BytesIO(jpeg_bytes()), "IMG_0001.jpg"), "confirmed": "y"},
                       content_type="multipart/form-data")


def test_key_data_correction_without_proof_cannot_be_submitted(app, db, world):
    parent = logged_in(app, world.parent.phone)
    student = world.students_a[0]
    assert parent.post(f"/parent/students/{student.id}", data={"c0-ethnicity": "06"}).status_code == 302
    page = parent.get(f"/parent/students/{student.id}/submit").get_data(as_text=True)
    assert "上传证明材料" in page
    assert 'name="sheet"' not in page and 'href="#proof"' in page  # the sheet form waits for the proof
    response = _submit(parent, student.id)  # sent anyway (an old page, a script): refused, with a link to the field
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "关键信息的更正需要上传证明材料" in body and '<a href="#proof">' in body
    db.expire_all()
    assert db.scalar(select(Confirmation.state)) == "open"
    assert db.scalar(select(StoredFile.id).where(StoredFile.kind == "sheet")) is None



def test_a_proof_that_is_neither_a_photo_nor_a_pdf_is_refused_saying_both_are_taken(app, db, world):
    parent = logged_in(app, world.parent.phone)
    student = world.students_a[0]
    parent.post(f"/parent/students/{student.id}", data={"c0-ethnicity": "06"})
    refused = _upload(parent, student.id, b"just notes, not a scan\n", "hukou.txt")
    assert refused.status_code == 400 and "或 PDF 文件" in refused.get_data(as_text=True)
    assert db.scalar(select(StoredFile.id)) is None

def test_with_a_proof_photo_the_sheet_is_submitted_and_the_teacher_sees_the_proof(app, db, world):
    parent = logged_in(app, world.parent.phone)
    student = world.students_a[0]
    parent.post(f"/parent/students/{student.id}", data={"c0-ethnicity": "06"})
    assert _upload(parent, student.id, jpeg_bytes((800, 600), color=(30, 60, 90)), "hukou.jpg").status_code == 302
    assert _submit(parent, student.id).status_code == 302
    db.expire_all()
    proof = db.scalar(select(StoredFile).where(StoredFile.kind == "proof"))
    confirmation = db.scalar(select(Confirmation))
    assert confirmation.state == "submitted" and proof.confirmation_id == confirmation.id
    assert proof.content_type == "image/jpeg" and proof.thumbnail_key
    teacher = logged_in(app, world.teacher.username)
    page = teacher.get(f"/teacher/students/{student.id}").get_data(as_text=True)
    assert f'src="/files/{proof.id}?size=thumb"' in page
    thumb = teacher.get(f"/files/{proof.id}?size=thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert len(thumb.data) < len(teacher.get(f"/files/{proof.id}").data)


def test_pdf_proof_is_served_only_as_a_download(app, db, world):
    parent = logged_in(app, world.parent.phone)
    student = world.students_a[0]
    assert _upload(parent, student.id, PDF, "户口簿.pdf").status_code == 302
    proof = db.scalar(select(StoredFile).where(StoredFile.kind == "proof"))
    assert proof.content_type == "application/pdf"
    response = logged_in(app, world.teacher.username).get(f"/files/{proof.id}")
    assert response.status_code == 200 and response.data == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert logged_in(app, world.other_teacher.username).get(f"/files/{proof.id}").status_code == 404


def test_broken_pdf_or_other_files_are_refused(app, db, world):
    parent = logged_in(app, world.parent.phone)
    student = world.students_a[0]
    response = _upload(parent, student.id, b"%PDF-1.4 truncated", "x.pdf")
    assert response.status_code == 400  # the upload page again, the reason linked at the top and next to the field
    body = response.get_data(as_text=True)
    assert "PDF 文件不完整" in body and '<a href="#proof">' in body
    _upload(parent, student.id, b"<svg onload=alert(1)>", "x.svg")
    assert db.scalar(select(StoredFile.id)) is None


def test_teacher_cannot_approve_key_data_without_proof(app, db, world):
    confirmation = hand_in(app, db, world, world.students_a[0], world.parent.id, {(0, "name"): "新名字"})
    teacher = logged_in(app, world.teacher.username)
    page = teacher.get(f"/teacher/students/{confirmation.student_id}").get_data(as_text=True)
    assert "disabled>审核通过" in page and "缺少证明材料" in page
    response = teacher.post(f"/teacher/students/{confirmation.student_id}/approve")
    assert response.status_code == 409
    db.expire_all()
    assert db.get(Confirmation, confirmation.id).state == "submitted"


def test_parent_cannot_upload_a_proof_for_another_familys_child(app, db, world):
    parent = logged_in(app, world.parent.phone)
    assert _upload(parent, world.students_b[0].id, PDF, "x.pdf").status_code == 404
    assert db.scalar(select(StoredFile.id)) is None


def test_the_21st_upload_in_a_minute_is_refused_with_a_clear_message(app, world, db):
    import io

    from tests.factories import PASSWORD
    from tests.webapp.conftest import jpeg_bytes

    parent = app.test_client()
    parent.post("/login", data={"login": world.parent.phone, "password": PASSWORD})
    url = f"/parent/students/{world.students_a[0].id}/proofs"
    photo = jpeg_bytes((320, 240))
    answers = [parent.post(url, data={"proof": (io.BytesIO(photo), "p.jpg")}, content_type="multipart/form-data")
               for _ in range(21)]

    assert {a.status_code for a in answers[:20]} == {302}
    assert answers[20].status_code == 429 and "上传太频繁，请稍后再试" in answers[20].get_data(as_text=True)
    other = app.test_client()  # another family at the same moment is not held up
    other.post("/login", data={"login": world.other_parent.phone, "password": PASSWORD})
    assert other.post(f"/parent/students/{world.students_b[0].id}/proofs", content_type="multipart/form-data",
                      data={"proof": (io.BytesIO(photo), "p.jpg")}).status_code == 302
