"""Bulk exports and views of stored photos are audited (who, what, how many students or which student), and the
whole-school exports with full personal data ask for the password again (or a staff step-up) first."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from confirm.models import AuditEvent, Campaign, Confirmation, FieldCorrection, StoredFile
from confirm.services.records import ensure_confirmation
from tests.factories import PASSWORD
from tests.webapp.conftest import jpeg_bytes
from tests.webapp.test_teacher_review import logged_in
from webapp.adapters.storage import store

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def events(db, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


@pytest.mark.parametrize(("path", "action"), [
    ("/admin/students/export.xlsx", "export.students"),
    ("/admin/changes/export.xlsx", "export.changes"),
])
def test_a_whole_school_export_without_a_recent_password_is_refused_then_works_once_typed(
        app, db, world, six_minutes_pass, path, action):
    confirmation = ensure_confirmation(db, db.get(Campaign, world.campaign.id), world.students_a[1])
    db.add(FieldCorrection(confirmation_id=confirmation.id, slot=0, field_key="name", old_value="测试",
                           new_value="测试改", is_key_data=False, requested_by_kind="parent",
                           requested_by_id=world.parent.id, status="submitted"))
    db.commit()
    admin = logged_in(app, world.admin.username)
    six_minutes_pass()

    refused = admin.get(path)
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/account/confirm")
    assert events(db, action) == []

    back = admin.post(refused.headers["Location"], data={"password": PASSWORD})
    assert back.headers["Location"] == path
    exported = admin.get(back.headers["Location"])
    assert exported.status_code == 200 and exported.mimetype == XLSX
    [row] = events(db, action)
    assert (row.actor_kind, row.actor_id, row.school_id) == ("staff", world.admin.id, world.school.id)
    expected = 5 if action == "export.students" else 1  # every student of the school / the one with a correction
    assert row.detail["students"] == expected


def test_the_schools_key_data_list_asks_for_a_recent_password_then_is_audited_with_its_students(
        app, db, world, six_minutes_pass):
    confirmation = ensure_confirmation(db, db.get(Campaign, world.campaign.id), world.students_a[1])
    for key, old, new in (("ethnicity", "01", "06"), ("name", "测试", "测试改")):
        db.add(FieldCorrection(confirmation_id=confirmation.id, slot=0, field_key=key, old_value=old, new_value=new,
                               is_key_data=True, requested_by_kind="parent", requested_by_id=world.parent.id,
                               status="pending_admin"))
    db.commit()
    admin = logged_in(app, world.admin.username)
    six_minutes_pass()
    path = "/admin/key-data/export.xlsx"

    refused = admin.get(path)
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/account/confirm")
    assert events(db, "export.key_data") == []

    back = admin.post(refused.headers["Location"], data={"password": PASSWORD})
    assert back.headers["Location"] == path
    exported = admin.get(path)
    assert exported.status_code == 200 and exported.mimetype == XLSX
    [row] = events(db, "export.key_data")
    assert (row.actor_kind, row.actor_id, row.school_id) == ("staff", world.admin.id, world.school.id)
    assert row.detail == {"students": 1, "scope": "school"}  # one student, two changes


def test_the_export_right_after_sign_in_needs_no_second_password_and_writes_one_row_per_download(app, db, world):
    admin = logged_in(app, world.admin.username)
    assert admin.get("/admin/students/export.xlsx").status_code == 200
    assert admin.get("/admin/students/export.xlsx").status_code == 200
    rows = events(db, "export.students")
    assert [(r.detail["students"], r.detail["scope"], r.detail["campaign_id"]) for r in rows] == [
        (5, "school", world.campaign.id)] * 2


def test_a_class_export_is_audited_with_its_class_and_count_without_a_second_password(app, db, world,
                                                                                     six_minutes_pass):
    admin = logged_in(app, world.admin.username)
    six_minutes_pass()
    response = admin.get(f"/admin/students/export.xlsx?class_id={world.class_b.id}")
    assert response.status_code == 200
    [row] = events(db, "export.students")
    assert row.detail["students"] == 2 and row.detail["class_id"] == world.class_b.id
    assert (row.target_type, row.target_id) == ("classes", world.class_b.id)


def test_the_teachers_class_statistics_export_is_audited(app, db, world):
    teacher = logged_in(app, world.teacher.username)
    assert teacher.get(f"/teacher/classes/{world.class_a.id}/stats.xlsx").status_code == 200
    [row] = events(db, "export.class_stats")
    assert (row.actor_id, row.detail["students"], row.target_id) == (world.teacher.id, 3, world.class_a.id)


def test_a_refused_export_writes_no_row(app, db, world):
    teacher = logged_in(app, world.teacher.username)
    assert teacher.get("/admin/students/export.xlsx").status_code == 403
    assert teacher.get(f"/teacher/classes/{world.class_b.id}/stats.xlsx").status_code in (403, 404)
    assert events(db, "export.students") == events(db, "export.class_stats") == []


@pytest.fixture
def photo(app, db, world) -> StoredFile:
    """A stored sheet photo of students_a[0]."""
    data = jpeg_bytes((400, 300))
    with app.app_context():
        store().put("test/sheet-1.jpg", data, "image/jpeg")
    confirmation = ensure_confirmation(db, db.get(Campaign, world.campaign.id), world.students_a[0])
    stored = StoredFile(school_id=world.school.id, student_id=world.students_a[0].id, kind="sheet",
                        storage_key="test/sheet-1.jpg", sha256="0" * 64, content_type="image/jpeg",
                        size_bytes=len(data), confirmation_id=confirmation.id, uploaded_by_kind="parent",
                        uploaded_by_id=world.parent.id)
    db.add(stored)
    db.commit()
    return stored


@pytest.mark.parametrize("who", ["teacher", "admin", "parent"])
def test_each_view_of_a_stored_photo_names_the_viewer_and_the_student(app, db, world, photo, who):
    login = {"teacher": world.teacher.username, "admin": world.admin.username, "parent": world.parent.phone}[who]
    client = logged_in(app, login)
    assert client.get(f"/files/{photo.id}").status_code == 200
    [row] = events(db, "file.viewed")
    viewer = {"teacher": world.teacher.id, "admin": world.admin.id, "parent": world.parent.id}[who]
    assert (row.actor_id, row.target_type, row.target_id) == (viewer, "students", world.students_a[0].id)
    assert row.detail["file_id"] == photo.id and row.detail["kind"] == "sheet"


def test_a_photo_refused_to_another_teacher_writes_no_row(app, db, world, photo):
    other = logged_in(app, world.other_teacher.username)
    assert other.get(f"/files/{photo.id}").status_code == 404
    assert events(db, "file.viewed") == []


def test_the_export_commands_are_audited_as_the_system(app, db, world, runner, tmp_path):
    out = tmp_path / "all.xlsx"
    result = runner.invoke(args=["export-students", "--school", world.school.code, "-o", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["export-changes", "--school", world.school.code, "-o", str(tmp_path / "c.xlsx")])
    assert result.exit_code == 0, result.output
    [students] = events(db, "export.students")
    [changes] = events(db, "export.changes")
    assert (students.actor_kind, students.detail["students"]) == ("system", 5)
    assert (changes.actor_kind, changes.detail["students"], changes.detail["campaign_id"]) == (
        "system", 0, world.campaign.id)
    assert db.scalar(select(Confirmation.id)) is None  # exporting changed nothing else


def test_the_annotated_import_file_asks_for_the_password_again_and_is_audited_with_its_rows(
        app, db, world, six_minutes_pass):
    from benchmarks._template import student_row
    from tests.webapp.test_import_web import uploaded_run, workbook_bytes

    admin = logged_in(app, world.admin.username)
    run_id = uploaded_run(admin, workbook_bytes([student_row(i, world.school.code) for i in range(300, 304)]))
    six_minutes_pass()
    path = f"/admin/students/import/{run_id}/annotated.xlsx"
    refused = admin.get(path)
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/account/confirm")
    assert events(db, "export.import_annotated") == []
    back = admin.post(refused.headers["Location"], data={"password": PASSWORD})
    assert admin.get(back.headers["Location"]).mimetype == XLSX
    [row] = events(db, "export.import_annotated")
    assert (row.actor_id, row.target_type, row.target_id, row.detail["students"]) == (
        world.admin.id, "import_runs", run_id, 4)
