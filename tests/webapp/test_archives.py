"""Electronic archives (电子档案, issue 16 item 3): one student's PDF, the class and school ZIP built in the
background, its progress, the signed 24-hour download and its audit."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from confirm.archives import load_archives
from confirm.models import ArchiveJob, AuditEvent, StoredFile, utcnow
from confirm.services.archives import can_take_archive
from confirm.services.records import active_campaign
from tests.archive_scene import NEW_ADDRESS, confirmed_student
from tests.factories import PASSWORD, make_class, make_student
from webapp.adapters.archive_pdf import render_archive
from webapp.adapters.pdf import font_path


def _text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _image_count(reader: PdfReader) -> int:
    return sum(len(page.images) for page in reader.pages)


@pytest.fixture
def objects(app):
    return app.extensions["store"]


def _confirmed(db, objects, world, student, **kw):
    confirmation = confirmed_student(db, objects, world.campaign, student, parent_id=world.parent.id,
                                     teacher=world.teacher, admin=world.admin, seed=student.id, **kw)
    db.commit()
    return confirmation


def _student_pdf(app, db, student) -> tuple[PdfReader, object]:
    with app.app_context():
        archive, = load_archives(db, [student.id], active_campaign(db, student.school_id))
        out = io.BytesIO()
        result = render_archive(archive, out, font_file=font_path(), fetch=app.extensions["store"].get)
    return PdfReader(io.BytesIO(out.getvalue())), result


def test_a_student_archive_shows_the_record_the_corrections_and_who_approved_them(app, db, world, objects):
    student = world.students_a[0]
    _confirmed(db, objects, world, student)
    reader, result = _student_pdf(app, db, student)
    text = _text(reader)
    assert student.name in text and "学生电子档案" in text
    assert NEW_ADDRESS in text  # the record as confirmed, and the correction's new value
    assert "贵阳市测试路1号" in text  # the old value
    assert "回族" in text and "汉族" in text and "关键信息" in text  # key data, old → new, by name
    assert world.teacher.display_name in text and world.admin.display_name in text  # who decided
    assert "提交确认表" in text and "班主任审核通过" in text and "关键信息更正已生效" in text  # the trail
    assert result.missing == [] and result.images == 2  # the sheet photo and the proof photo
    assert _image_count(reader) == 2


def test_a_pdf_proof_is_appended_to_the_archive_as_its_own_pages(app, db, world, objects):
    student = world.students_a[0]
    _confirmed(db, objects, world, student, pdf_proof=True)
    reader, result = _student_pdf(app, db, student)
    assert result.appended_pdfs == 1
    assert "Hukou booklet scan (synthetic)" in reader.pages[-1].extract_text()


def test_a_proof_gone_from_storage_is_named_as_missing_and_the_rest_is_built(app, db, world, objects):
    student = world.students_a[0]
    _confirmed(db, objects, world, student)
    proof = db.scalar(select(StoredFile).where(StoredFile.student_id == student.id, StoredFile.kind == "proof"))
    objects.delete(proof.storage_key)
    reader, result = _student_pdf(app, db, student)
    assert [m.label for m in result.missing] == ["证明材料 1"]
    text = _text(reader)
    assert "缺少材料：证明材料 1" in text and "文件已不在存储中" in text
    assert _image_count(reader) == 1  # the sheet photo is still there
    assert NEW_ADDRESS in text


def test_a_student_with_nothing_submitted_still_has_an_archive_of_the_record(app, db, world):
    student = world.students_b[1]
    reader, result = _student_pdf(app, db, student)
    text = _text(reader)
    assert student.name in text and "没有更正" in text and "还没有上传任何材料" in text
    assert _image_count(reader) == 0 and result.missing == []


# --- the class and school ZIP -------------------------------------------------------------------------------------


def _class_of_confirmed(db, objects, world, n: int):
    """world.class_a with ``n`` students in all, each corrected, proven, submitted and approved."""
    students = list(world.students_a) + [make_student(db, world.class_a) for _ in range(n - len(world.students_a))]
    for student in students:
        confirmed_student(db, objects, world.campaign, student, parent_id=world.parent.id, teacher=world.teacher,
                          admin=world.admin, seed=student.id)
    db.commit()
    return students


def _ready_job(db, world) -> ArchiveJob:
    db.expire_all()
    return db.scalar(select(ArchiveJob).where(ArchiveJob.school_id == world.school.id)
                     .order_by(ArchiveJob.id.desc()))


def _download(client, app, job) -> tuple[object, zipfile.ZipFile | None]:
    with app.test_request_context():
        from webapp.shared.archives import download_link

        link = download_link(job)
    response = client.get(link)
    return response, zipfile.ZipFile(io.BytesIO(response.get_data())) if response.status_code == 200 else None


def test_a_50_student_class_archive_holds_every_pdf_with_its_photos_and_a_manifest_that_matches(
        app, client, auth, db, world, objects):
    students = _class_of_confirmed(db, objects, world, 50)
    auth.login("admin1", PASSWORD)
    response = client.post("/admin/archives", data={"scope": str(world.class_a.id)})
    assert response.status_code == 302
    job = _ready_job(db, world)
    assert (job.status, job.done, job.total, job.missing_count) == ("ready", 50, 50, 0)

    response, archive = _download(client, app, job)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    names = archive.namelist()
    pdfs = [n for n in names if n.endswith(".pdf")]
    assert len(pdfs) == 50 and {"索引.xlsx", "manifest.sha256"} <= set(names)
    assert all(n.startswith(f"{world.class_a.title}/") for n in pdfs)
    for student in students:
        birth = student.value("birth_date")
        assert f"{world.class_a.title}/{student.name}-{birth}.pdf" in pdfs
    for name in pdfs:
        reader = PdfReader(io.BytesIO(archive.read(name)))
        assert _image_count(reader) == 2, name  # the signed sheet and the proof photo
    manifest = archive.read("manifest.sha256").decode().splitlines()
    assert len(manifest) == 51
    for line in manifest:
        digest, name = line.split("  ", 1)
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest, name
    rows = list(load_workbook(io.BytesIO(archive.read("索引.xlsx"))).active.iter_rows(values_only=True))
    assert rows[0][:6] == ("班级", "姓名", "出生日期", "学籍号", "核查状态", "文件名")
    assert len(rows) == 51
    first = next(r for r in rows if r[1] == students[0].name)
    assert first[3] == f"G{students[0].id_number}" and first[4] == "已通过" and first[5] in pdfs


def test_the_request_returns_before_the_build_when_a_queue_is_configured(app, client, auth, db, world, objects,
                                                                        monkeypatch):
    queued, timeouts = [], []

    class RecordingQueue:
        def enqueue(self, func, *args, **kwargs):
            queued.append((func, args))
            timeouts.append(kwargs.get("job_timeout"))

    monkeypatch.setitem(app.extensions, "job_queue", RecordingQueue())
    auth.login("admin1", PASSWORD)
    first = client.post("/admin/archives", data={"scope": "school"})
    second = client.post("/admin/archives", data={"scope": "school"})  # a double tap
    assert first.status_code == second.status_code == 302
    jobs = db.scalars(select(ArchiveJob)).all()
    assert len(jobs) == 1 and jobs[0].status == "queued" and jobs[0].object_key is None
    assert jobs[0].total == len(world.students_a) + len(world.students_b)
    assert [(f.__name__, a) for f, a in queued] == [("build_archive", (jobs[0].id,))]
    assert timeouts == [app.config["ARCHIVE_JOB_TIMEOUT"]]  # not the 10 minutes of the other jobs
    page = client.get("/admin/archives").get_data(as_text=True)
    assert "排队中" in page and 'http-equiv="refresh"' in page  # progress shown, refreshed without script

    func, args = queued[0]
    with app.app_context():
        assert func(*args) == "ready"
        assert func(*args) == "ready"  # the worker given the same job twice builds it once
    job = _ready_job(db, world)
    assert job.done == job.total == 5
    assert 'http-equiv="refresh"' not in client.get("/admin/archives").get_data(as_text=True)


def test_namesakes_in_a_class_get_distinct_files(app, client, auth, db, world):
    twin_a = make_student(db, world.class_b, name="王芳", birth_date="20160305")
    twin_b = make_student(db, world.class_b, name="王芳", birth_date="20160305")
    db.commit()
    auth.login("admin1", PASSWORD)
    client.post("/admin/archives", data={"scope": str(world.class_b.id)})
    _response, archive = _download(client, app, _ready_job(db, world))
    folder = world.class_b.title
    assert {f"{folder}/王芳-20160305.pdf", f"{folder}/王芳-20160305-2.pdf"} <= set(archive.namelist())
    assert twin_a.id < twin_b.id


def test_a_missing_proof_is_listed_in_the_index_and_the_archive_is_still_built(app, client, auth, db, world,
                                                                               objects):
    student = world.students_a[0]
    _confirmed(db, objects, world, student)
    proof = db.scalar(select(StoredFile).where(StoredFile.student_id == student.id, StoredFile.kind == "proof"))
    objects.delete(proof.storage_key)
    auth.login("admin1", PASSWORD)
    client.post("/admin/archives", data={"scope": str(world.class_a.id)})
    job = _ready_job(db, world)
    assert (job.status, job.missing_count) == ("ready", 1)
    assert "1 份材料已不在存储中" in client.get("/admin/archives").get_data(as_text=True)
    _response, archive = _download(client, app, job)
    rows = list(load_workbook(io.BytesIO(archive.read("索引.xlsx"))).active.iter_rows(values_only=True))
    row = next(r for r in rows if r[1] == student.name)
    assert "证明材料 1" in row[6] and "文件已不在存储中" in row[6]


def test_every_download_is_audited_with_who_the_scope_and_the_number_of_students(app, client, auth, db, world):
    auth.login("admin1", PASSWORD)
    client.post("/admin/archives", data={"scope": "school"})
    job = _ready_job(db, world)
    for _ in range(2):
        response, archive = _download(client, app, job)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-store"
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "archive.downloaded")).all()
    assert len(events) == 2
    assert {(e.actor_kind, e.actor_id, e.target_id, e.school_id) for e in events} == {
        ("staff", world.admin.id, job.id, world.school.id)}
    assert events[0].detail == {"scope": "school", "class_id": None, "students": 5}


def test_the_whole_schools_archive_asks_for_a_recent_password_before_the_download_and_its_row(
        app, client, auth, db, world, six_minutes_pass):
    auth.login("admin1", PASSWORD)
    client.post("/admin/archives", data={"scope": "school"})
    job = _ready_job(db, world)
    six_minutes_pass()

    refused, _archive = _download(client, app, job)
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/account/confirm")
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "archive.downloaded")) is None

    back = client.post(refused.headers["Location"], data={"password": PASSWORD})
    assert back.headers["Location"].startswith("/archives/")  # the same signed link
    response = client.get(back.headers["Location"])
    assert response.status_code == 200 and len(zipfile.ZipFile(io.BytesIO(response.get_data())).namelist()) > 1
    db.expire_all()
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "archive.downloaded")).all()
    assert event.detail == {"scope": "school", "class_id": None, "students": 5}


def test_a_class_archive_downloads_without_a_second_password(app, client, auth, db, world, six_minutes_pass):
    auth.login("admin1", PASSWORD)
    client.post("/admin/archives", data={"scope": str(world.class_a.id)})
    six_minutes_pass()
    response, archive = _download(client, app, _ready_job(db, world))
    assert response.status_code == 200 and archive is not None


def test_an_expired_link_is_refused_with_a_clear_message_and_nothing_is_audited(app, client, auth, db, world):
    auth.login("admin1", PASSWORD)
    client.post("/admin/archives", data={"scope": str(world.class_a.id)})
    job = _ready_job(db, world)
    job.expires_at = utcnow() - timedelta(minutes=1)
    db.commit()
    response, _archive = _download(client, app, job)
    assert response.status_code == 410
    assert "下载链接已失效" in response.get_data(as_text=True) and "24 小时" in response.get_data(as_text=True)
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "archive.downloaded")) is None


def test_an_expired_archive_is_deleted_from_storage_by_the_next_build(app, client, auth, db, world, objects):
    auth.login("admin1", PASSWORD)
    client.post("/admin/archives", data={"scope": str(world.class_a.id)})
    old = _ready_job(db, world)
    key = old.object_key
    assert objects.exists(key)
    old.expires_at = utcnow() - timedelta(minutes=1)
    db.commit()
    client.post("/admin/archives", data={"scope": str(world.class_b.id)})
    db.expire_all()
    assert db.get(ArchiveJob, old.id).status == "expired" and not objects.exists(key)


def test_another_schools_admin_gets_404_for_a_valid_link(app, client, auth, db, world):
    auth.login("admin1", PASSWORD)
    client.post("/admin/archives", data={"scope": "school"})
    job = _ready_job(db, world)
    auth.logout()
    auth.login("admin_other", PASSWORD)
    response, _archive = _download(client, app, job)
    assert response.status_code == 404
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "archive.downloaded")) is None


def test_a_class_without_students_is_refused_with_a_message(app, client, auth, db, world):
    empty = make_class(db, world.school, name="空班")
    db.commit()
    auth.login("admin1", PASSWORD)
    response = client.post("/admin/archives", data={"scope": str(empty.id)})
    assert response.status_code == 400
    assert "这个班级还没有学生" in response.get_data(as_text=True)
    assert db.scalar(select(ArchiveJob)) is None


def test_a_stale_build_no_longer_blocks_a_new_request(app, client, auth, db, world, monkeypatch):
    monkeypatch.setitem(app.extensions, "job_queue", type("Q", (), {"enqueue": lambda self, *a, **k: None})())
    auth.login("admin1", PASSWORD)
    client.post("/admin/archives", data={"scope": "school"})
    stuck = _ready_job(db, world)
    stuck.status, stuck.progress_at = "building", utcnow() - timedelta(hours=1)
    db.commit()
    client.post("/admin/archives", data={"scope": "school"})
    db.expire_all()
    statuses = db.execute(select(ArchiveJob.id, ArchiveJob.status).order_by(ArchiveJob.id)).all()
    assert [s for _id, s in statuses] == ["failed", "queued"]


@pytest.mark.parametrize("user", ["admin", "own_teacher", "other_teacher", "other_admin"])
def test_who_may_take_an_archive(db, world, user):
    staff = {"admin": world.admin, "own_teacher": world.teacher, "other_teacher": world.other_teacher,
             "other_admin": world.other_admin}[user]
    may = (can_take_archive(staff, world.school), can_take_archive(staff, world.school, world.class_a))
    assert may == {"admin": (True, True), "own_teacher": (False, True), "other_teacher": (False, False),
                   "other_admin": (False, False)}[user]


def test_two_admins_asking_at_the_same_moment_queue_one_build(app, db, world):
    import threading

    from sqlalchemy.orm import Session

    from confirm.models import School, StaffUser
    from confirm.services.archives import request_archive
    from confirm.services.common import Actor

    engine = app.extensions["db_engine"]
    start, results, errors = threading.Barrier(2), [], []

    def ask() -> None:
        try:
            with Session(engine, expire_on_commit=False) as s:
                admin = s.get_one(StaffUser, world.admin.id)
                school = s.get_one(School, world.school.id)
                start.wait()
                job, created = request_archive(s, admin, school, actor=Actor("staff", admin.id))
                s.commit()
                results.append((job.id, created))
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(created for _id, created in results) == [False, True]
    assert len({job_id for job_id, _created in results}) == 1
    assert len(db.scalars(select(ArchiveJob)).all()) == 1


def test_a_head_teacher_takes_their_own_classs_archive_and_not_the_schools(app, client, auth, db, world):
    auth.login("teacher_a", PASSWORD)
    page = client.get(f"/teacher/classes/{world.class_a.id}/archive")
    assert page.status_code == 200 and "生成本班电子档案" in page.get_data(as_text=True)
    assert client.post(f"/teacher/classes/{world.class_a.id}/archive").status_code == 302
    job = _ready_job(db, world)
    assert (job.scope, job.class_id, job.requested_by_id, job.status) == ("class", world.class_a.id,
                                                                          world.teacher.id, "ready")
    response, archive = _download(client, app, job)
    assert response.status_code == 200 and len(archive.namelist()) == len(world.students_a) + 2
    assert client.post(f"/teacher/classes/{world.class_b.id}/archive").status_code == 404  # another's class
    assert client.get("/admin/archives").status_code == 403  # the whole school is the admin's
    auth.logout()
    auth.login("teacher_b", PASSWORD)
    response, _archive = _download(client, app, job)  # a valid link, but not their class
    assert response.status_code == 404


def test_the_admin_sees_a_class_archive_the_head_teacher_made_and_may_download_it(app, client, auth, db, world):
    auth.login("teacher_a", PASSWORD)
    client.post(f"/teacher/classes/{world.class_a.id}/archive")
    auth.logout()
    auth.login("admin1", PASSWORD)
    assert world.class_a.title in client.get("/admin/archives").get_data(as_text=True)
    response, _archive = _download(client, app, _ready_job(db, world))
    assert response.status_code == 200


def test_storage_failing_mid_build_fails_the_job_visibly_and_stores_nothing(app, client, auth, db, world, objects,
                                                                           monkeypatch):
    from uploads.storage import StorageUnavailable

    _confirmed(db, objects, world, world.students_a[0])

    def down(key):
        raise StorageUnavailable("get: timeout", operation="get")

    monkeypatch.setattr(objects.backend, "get", down)
    auth.login("admin1", PASSWORD)
    client.post("/admin/archives", data={"scope": str(world.class_a.id)})
    job = _ready_job(db, world)
    assert (job.status, job.error, job.object_key) == ("failed", "StorageUnavailable", None)
    assert not [o for o in objects.list_objects("archive/")]
    assert "生成失败，请重新生成" in client.get("/admin/archives").get_data(as_text=True)
    monkeypatch.undo()
    client.post("/admin/archives", data={"scope": str(world.class_a.id)})  # asked again once storage is back
    assert _ready_job(db, world).status == "ready"
