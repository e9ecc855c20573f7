"""Batch upload: a stack of sheet photos matched to students by their QR codes; the rest filed by hand or not at all."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from benchmarks.sheet_photos import make_sheet_photo
from confirm.models import AuditEvent, BatchItem, BatchUpload, Confirmation, StoredFile
from confirm.sheets import SheetRef, make_sheet_payload
from tests.factories import PASSWORD
from tests.webapp.conftest import jpeg_bytes
from webapp.teacher.paper import PREVIEW_EDGE

JSON = {"Accept": "application/json"}


@pytest.fixture
def teacher(client, world):
    response = client.post("/login", data={"login": world.teacher.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def qr_photo(app, student, campaign, seed: int = 1, version: int | None = None) -> bytes:
    """A phone photo of a printed sheet with its QR code, small enough to keep tests quick."""
    ref = SheetRef(student.id, campaign.id, student.record_version if version is None else version)
    payload = make_sheet_payload(app.extensions["sheet_key"], ref)
    return make_sheet_photo(seed, payload=payload, long_edge=1600, rotation=4, skew=0.01, blur=0, noise=1).jpeg


def start(client, world) -> dict:
    response = client.post(f"/teacher/classes/{world.class_a.id}/batches", headers=JSON)
    assert response.status_code == 200
    return response.get_json()


def add(client, batch: dict, data: bytes, name: str = "IMG.jpg") -> dict:
    response = client.post(batch["add_url"], data={"photo": (io.BytesIO(data), name)}, headers=JSON)
    assert response.status_code == 200
    return response.get_json()


def items(db) -> list[BatchItem]:
    db.commit()
    db.expire_all()  # the test session keeps objects across commits; read what the app wrote
    return db.scalars(select(BatchItem).order_by(BatchItem.position)).all()


def raw_exists(app, item: BatchItem) -> bool:
    return item.upload_key is not None and app.extensions["store"].exists(item.upload_key)


def state_of(db, student) -> tuple | None:
    db.commit()
    row = db.execute(select(Confirmation.state, Confirmation.submitted_by_kind, Confirmation.submitted_by_id)
                     .where(Confirmation.student_id == student.id)).one_or_none()
    return tuple(row) if row else None


def test_each_photo_is_matched_by_its_qr_code_or_left_unfiled_with_a_reason(app, teacher, world, db):
    a1, a2 = world.students_a[1], world.students_a[2]
    batch = start(teacher, world)
    photos = [
        ("own.jpg", qr_photo(app, a1, world.campaign, seed=1)),
        ("again.jpg", qr_photo(app, a1, world.campaign, seed=2)),
        ("other-class.jpg", qr_photo(app, world.students_b[1], world.campaign, seed=3)),
        ("old.jpg", qr_photo(app, a2, world.campaign, seed=4, version=a2.record_version - 1)),
        ("no-qr.jpg", jpeg_bytes()),
        ("tiny.jpg", jpeg_bytes(size=(800, 600))),
        ("notes.txt", b"not a photo at all"),
    ]
    answers = [add(teacher, batch, data, name) for name, data in photos]
    assert [a["position"] for a in answers] == [1, 2, 3, 4, 5, 6, 7]
    found = items(db)
    assert [(i.filename, i.status) for i in found] == [
        ("own.jpg", "matched"), ("again.jpg", "duplicate"), ("other-class.jpg", "other_class"),
        ("old.jpg", "old_version"), ("no-qr.jpg", "no_qr"), ("tiny.jpg", "refused"), ("notes.txt", "unreadable")]
    assert state_of(db, a1) == ("submitted", "staff", world.teacher.id)
    assert state_of(db, a2) is None and state_of(db, world.students_b[1]) is None
    assert found[0].student_id == a1.id and found[0].file_id is not None
    filed = db.scalars(select(StoredFile.student_id)).all()
    assert filed == [a1.id]  # nothing filed under anyone without a valid QR code
    # the raw uploads are gone, except those the teacher may still file by hand
    assert [raw_exists(app, i) for i in found] == [False, False, False, False, True, True, False]
    assert "照片太小" in found[5].reason
    assert db.scalar(select(BatchUpload.total)) == 7


def test_status_endpoint_reports_progress_for_the_bar(app, teacher, world, db):
    batch = start(teacher, world)
    add(teacher, batch, qr_photo(app, world.students_a[1], world.campaign))
    add(teacher, batch, jpeg_bytes())
    status = teacher.get(batch["batch_url"] + "/status.json").get_json()
    assert (status["total"], status["done"], status["filed"], status["waiting"]) == (2, 2, 1, 1)
    assert [i["status"] for i in status["items"]] == ["matched", "no_qr"]


def test_results_page_lists_each_photo_with_a_form_for_those_left_over(app, teacher, world, db):
    batch = start(teacher, world)
    add(teacher, batch, qr_photo(app, world.students_a[1], world.campaign), "IMG_0001.jpg")
    add(teacher, batch, jpeg_bytes(), "IMG_0002.jpg")
    page = teacher.get(batch["batch_url"]).get_data(as_text=True)
    assert "IMG_0001.jpg" in page and "IMG_0002.jpg" in page
    assert world.students_a[1].name in page and "已匹配" in page and "未找到二维码" in page
    assert page.count('name="upload_no"') == 1


def test_unmatched_photo_is_filed_by_hand_by_upload_number(app, teacher, world, db):
    batch = start(teacher, world)
    add(teacher, batch, jpeg_bytes())
    (item,) = items(db)
    student = world.students_a[2]
    response = teacher.post(batch["batch_url"] + "/assign", data={"item_id": item.id, "upload_no": student.upload_no,
                                                                 "action": "assign"}, follow_redirects=True)
    assert "已归档到" in response.get_data(as_text=True), response.get_data(as_text=True)[-3000:]
    (item,) = items(db)
    assert (item.status, item.student_id, item.upload_key) == ("assigned", student.id, None)
    assert state_of(db, student) == ("submitted", "staff", world.teacher.id)
    assert not any(k.startswith("batch/") for k in _keys(app))


def test_hand_filing_refuses_another_classs_upload_number(app, teacher, world, db):
    batch = start(teacher, world)
    add(teacher, batch, jpeg_bytes())
    (item,) = items(db)
    response = teacher.post(batch["batch_url"] + "/assign", follow_redirects=True,
                            data={"item_id": item.id, "upload_no": world.students_b[1].upload_no, "action": "assign"})
    assert "本班没有拍照上传号" in response.get_data(as_text=True)
    (item,) = items(db)
    assert item.status == "no_qr" and raw_exists(app, item)
    assert state_of(db, world.students_b[1]) is None


def test_refused_photo_is_filed_by_hand_only_with_an_override_reason(app, teacher, world, db):
    batch = start(teacher, world)
    add(teacher, batch, jpeg_bytes(size=(800, 600)))
    (item,) = items(db)
    student = world.students_a[1]
    form = {"item_id": item.id, "upload_no": student.upload_no, "action": "assign"}
    refused = teacher.post(batch["batch_url"] + "/assign", data=form, follow_redirects=True)
    assert "没有通过检查" in refused.get_data(as_text=True)
    assert items(db)[0].status == "refused" and state_of(db, student) is None
    teacher.post(batch["batch_url"] + "/assign", data={**form, "override": "y", "override_reason": "纸质表已核对"})
    (item,) = items(db)
    assert item.status == "assigned"
    assert db.get(StoredFile, item.file_id).quality["override_reason"] == "纸质表已核对"


def test_photo_left_over_can_be_discarded(app, teacher, world, db):
    batch = start(teacher, world)
    add(teacher, batch, jpeg_bytes())
    (item,) = items(db)
    key = item.upload_key
    teacher.post(batch["batch_url"] + "/assign", data={"item_id": item.id, "action": "discard"})
    (item,) = items(db)
    assert item.status == "discarded" and not app.extensions["store"].exists(key)
    assert db.scalars(select(StoredFile)).all() == []


def test_form_without_javascript_takes_a_few_photos_in_one_request(app, teacher, world, db):
    response = teacher.post(f"/teacher/classes/{world.class_a.id}/batches", data={"photos": [
        (io.BytesIO(qr_photo(app, world.students_a[1], world.campaign)), "a.jpg"),
        (io.BytesIO(jpeg_bytes()), "b.jpg")]})
    assert response.status_code == 302
    assert [(i.filename, i.status) for i in items(db)] == [("a.jpg", "matched"), ("b.jpg", "no_qr")]
    assert teacher.get(response.headers["Location"]).status_code == 200


def test_another_classs_batch_is_not_found(app, client, world, db):
    other = BatchUpload(school_id=world.school.id, class_id=world.class_b.id, campaign_id=world.campaign.id,
                        created_by_id=world.other_teacher.id, total=0)
    db.add(other)
    db.commit()
    client.post("/login", data={"login": world.teacher.username, "password": PASSWORD})
    assert client.get(f"/teacher/batches/{other.id}").status_code == 404
    assert client.get(f"/teacher/batches/{other.id}/status.json").status_code == 404
    add = client.post(f"/teacher/batches/{other.id}/items", data={"photo": (io.BytesIO(jpeg_bytes()), "x.jpg")})
    assert add.status_code == 404
    assert items(db) == []


def _keys(app) -> list[str]:
    return [o.key for o in app.extensions["store"].list_objects()]


def test_a_photo_left_over_is_shown_large_enough_to_read_its_number(app, teacher, world, db):
    batch = start(teacher, world)
    add(teacher, batch, jpeg_bytes(), "IMG_0009.jpg")
    (item,) = items(db)
    page = teacher.get(batch["batch_url"]).get_data(as_text=True)
    assert f"/photo?item={item.id}" in page
    response = teacher.get(batch["batch_url"] + f"/photo?item={item.id}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(response.data)).size) == PREVIEW_EDGE  # not the 320 px thumbnail
    assert teacher.get(batch["batch_url"] + "/photo?item=999999").status_code == 404
    db.expire_all()  # the view of the photo is audited (no student known yet: the batch item is named)
    viewed = db.execute(select(AuditEvent.actor_id, AuditEvent.target_type, AuditEvent.target_id)
                        .where(AuditEvent.action == "batch_photo.viewed")).all()
    assert viewed == [(world.teacher.id, "batch_items", item.id)]
