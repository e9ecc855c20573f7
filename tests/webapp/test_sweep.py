"""`flask --app webapp sweep-storage [--dry-run] [--min-age …]` on both backends: objects without a row older than
an hour go (those of failed uploads at once), objects rows refer to stay — stored files, thumbnails, batch photos
still to be filed, kept import files — and rows whose object is missing are reported."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from confirm.models import ImportRun, PendingObject, StoredFile
from confirm.services import storage_sweep
from confirm.services.common import SYSTEM
from confirm.services.files import record_file
from confirm.services.storage_sweep import sweep_storage
from tests.conftest import TEST_SECRET
from uploads.storage import is_generated_key, new_object_key
from webapp import create_app


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def app(request, db_url, tmp_path):
    """The app with local storage, then with S3 on the test server."""
    if request.param == "local":
        storage = {"STORAGE_URL": f"file://{tmp_path / 'storage'}"}
    else:
        storage = request.getfixturevalue("s3_app_config")
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "DATABASE_URL": db_url, "SMS_BACKEND": "memory",
                      "WTF_CSRF_ENABLED": False, **storage})
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def store(app):
    return app.extensions["store"]


@pytest.fixture
def later(monkeypatch):
    """Move the sweep's clock two hours ahead: everything stored so far is older than an hour."""
    real = storage_sweep.utcnow
    monkeypatch.setattr(storage_sweep, "utcnow", lambda: real() + timedelta(hours=2))


def put_object(store, kind="sheet", school_id=1, data=b"\xff\xd8photo") -> str:
    key = new_object_key(kind, school_id, "bin" if kind == "imports" else "jpg")
    store.put(key, data, "image/jpeg")
    return key


def add_sheet_row(db, world, key: str, data=b"\xff\xd8photo", thumbnail: str | None = None) -> StoredFile:
    stored = record_file(db, world.students_a[0], kind="sheet", storage_key=key,
                         sha256=hashlib.sha256(data).hexdigest(), content_type="image/jpeg", size_bytes=len(data),
                         width=1, height=1, actor=SYSTEM)
    stored.thumbnail_key = thumbnail
    db.commit()
    return stored


def add_import_run(db, world, key: str | None) -> ImportRun:
    run = ImportRun(school_id=world.school.id, filename="students.xlsx", sha256="0" * 64, storage_key=key,
                    status="checked")
    db.add(run)
    db.commit()
    return run


def keys(store) -> set[str]:
    return {o.key for o in store.list_objects()}


def test_old_orphans_are_removed_and_referenced_objects_stay(runner, db, world, store, later):
    sheet = put_object(store)
    add_sheet_row(db, world, sheet)
    upload = put_object(store, "imports")
    add_import_run(db, world, upload)
    add_import_run(db, world, None)  # a run whose file was already let go
    orphans = {put_object(store), put_object(store, "imports")}

    result = runner.invoke(args=["sweep-storage"])

    assert result.exit_code == 0, result.output
    assert keys(store) == {sheet, upload}
    assert "listed 4 objects; database rows refer to 2 keys" in result.output
    assert "removed 2 objects without a row, older than 1 h" in result.output
    for key in orphans:
        assert f"  {key}" in result.output
    assert "no row refers to a missing object" in result.output


def test_thumbnails_count_as_referenced(runner, db, world, store, later):
    sheet = put_object(store)
    thumbnail = sheet.removesuffix(".jpg") + ".thumb.jpg"
    store.put(thumbnail, b"small", "image/jpeg")
    add_sheet_row(db, world, sheet, thumbnail=thumbnail)
    orphan = put_object(store)
    orphan_thumbnail = orphan.removesuffix(".jpg") + ".thumb.jpg"
    store.put(orphan_thumbnail, b"small", "image/jpeg")

    result = runner.invoke(args=["sweep-storage"])

    assert result.exit_code == 0, result.output
    assert keys(store) == {sheet, thumbnail}
    assert "removed 2 objects" in result.output and orphan_thumbnail in result.output


def test_dry_run_reports_and_removes_nothing(runner, db, world, store, later):
    orphan = put_object(store)
    result = runner.invoke(args=["sweep-storage", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would remove 1 objects without a row" in result.output
    assert orphan in result.output
    assert keys(store) == {orphan}
    assert runner.invoke(args=["sweep-storage"]).exit_code == 0
    assert keys(store) == set()


def test_orphans_younger_than_an_hour_are_kept(runner, db, world, store):
    in_flight = put_object(store)  # an upload whose row is about to be committed
    result = runner.invoke(args=["sweep-storage"])
    assert result.exit_code == 0, result.output
    assert "removed 0 objects" in result.output
    assert "kept 1 objects without a row that are younger than 1 h" in result.output
    assert keys(store) == {in_flight}


def test_objects_this_app_never_makes_are_left_alone(runner, db, world, store, later):
    store.put("backups/2026-01-01.tar", b"someone else's", "application/x-tar")
    store.put("sheet/1/IMG_0001.jpg", b"not a generated key", "image/jpeg")
    result = runner.invoke(args=["sweep-storage"])
    assert result.exit_code == 0, result.output
    assert "left alone 2 objects whose keys this app does not make" in result.output
    assert keys(store) == {"backups/2026-01-01.tar", "sheet/1/IMG_0001.jpg"}


def test_rows_whose_object_is_missing_are_reported(runner, db, world, store, later):
    gone = new_object_key("sheet", world.school.id)
    row = add_sheet_row(db, world, gone)
    run = add_import_run(db, world, new_object_key("imports", world.school.id, "bin"))
    kept = put_object(store)
    add_sheet_row(db, world, kept, data=b"other")

    result = runner.invoke(args=["sweep-storage", "--dry-run"])

    assert result.exit_code == 1
    assert "2 rows refer to a missing object:" in result.output
    assert f"stored_files id={row.id} key={gone}" in result.output
    assert f"import_runs id={run.id} key={run.storage_key}" in result.output
    assert keys(store) == {kept}


def test_empty_store_and_database(runner, db, store):
    result = runner.invoke(args=["sweep-storage"])
    assert result.exit_code == 0, result.output
    assert "listed 0 objects; database rows refer to 0 keys" in result.output


class CommitsWhileListing:
    """A store whose listing is interleaved with an upload committing its row for the orphan."""

    def __init__(self, store, on_list):
        self.store, self.on_list = store, on_list

    def list_objects(self, prefix=""):
        objects = list(self.store.list_objects(prefix))
        self.on_list()
        return objects

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_an_object_claimed_by_a_row_during_the_sweep_is_not_removed(db, world, store, app):
    key = put_object(store)
    racing = CommitsWhileListing(store, lambda: add_sheet_row(db, world, key))
    with app.app_context():
        from webapp.adapters import db as webdb

        report = sweep_storage(webdb.session(), racing, owned=is_generated_key,
                               now=datetime.now(UTC) + timedelta(hours=2))
    assert report.removed == [] and store.exists(key)
    assert db.scalar(select(StoredFile.storage_key)) == key


def test_a_failing_delete_is_reported_and_the_sweep_goes_on(db, world, store, app):
    first, second = sorted([put_object(store), put_object(store)])

    class FailsOnFirst(CommitsWhileListing):
        def delete(self, key):
            if key == first:
                raise OSError("disk on fire")
            self.store.delete(key)

    with app.app_context():
        from webapp.adapters import db as webdb

        report = sweep_storage(webdb.session(), FailsOnFirst(store, lambda: None), owned=is_generated_key,
                               now=datetime.now(UTC) + timedelta(hours=2))
    assert report.removed == [second]
    assert report.failed == [(first, "OSError: disk on fire")]
    assert keys(store) == {first}


# --- every kind of reference, and the pending-upload records ------------------------------------------------


def add_batch_item(db, world, key: str | None, status: str = "no_qr"):
    from confirm.models import BatchItem, BatchUpload

    batch = BatchUpload(school_id=world.school.id, class_id=world.class_a.id, campaign_id=world.campaign.id,
                        created_by_id=world.teacher.id, total=1)
    db.add(batch)
    db.flush()
    item = BatchItem(batch_id=batch.id, position=1, filename="IMG_1.jpg", upload_key=key, status=status)
    db.add(item)
    db.commit()
    return item


def pending(db, key: str, state: str, age: timedelta = timedelta(0)):
    db.add(PendingObject(key=key, state=state, created_at=datetime.now(UTC) - age))
    db.commit()


def pending_keys(db) -> dict[str, str]:
    db.expire_all()
    return dict(db.execute(select(PendingObject.key, PendingObject.state)).all())


@pytest.mark.parametrize("status", ["no_qr", "refused", "pending"])
def test_a_batch_photo_waiting_to_be_filed_survives_a_sweep_with_min_age_0(runner, db, world, store, status):
    waiting = put_object(store, "batch", data=b"raw photo")
    add_batch_item(db, world, waiting, status=status)  # waiting for the teacher, or for a worker that is down
    orphan = put_object(store)

    result = runner.invoke(args=["sweep-storage", "--min-age", "0"])

    assert result.exit_code == 0, result.output
    assert keys(store) == {waiting}
    assert "database rows refer to 1 keys" in result.output and orphan in result.output
    assert "older than 0 s" in result.output


def test_a_batch_photo_whose_object_is_gone_is_reported(runner, db, world, store):
    item = add_batch_item(db, world, new_object_key("batch", world.school.id, "bin"))
    result = runner.invoke(args=["sweep-storage"])
    assert result.exit_code == 1
    assert f"batch_items id={item.id} key={item.upload_key}" in result.output


def test_an_abandoned_upload_is_removed_at_once_and_one_in_flight_is_kept(runner, db, world, store):
    abandoned = put_object(store)  # its put timed out, then landed when S3 came back
    pending(db, abandoned, "abandoned")
    in_flight = put_object(store)  # its request is about to commit its row
    pending(db, in_flight, "writing")
    never_written = new_object_key("sheet", world.school.id)
    pending(db, never_written, "abandoned")

    result = runner.invoke(args=["sweep-storage"])

    assert result.exit_code == 0, result.output
    assert keys(store) == {in_flight}
    assert "removed 1 objects of uploads that failed" in result.output and abandoned in result.output
    assert "(1 of them uploads in progress)" in result.output
    assert pending_keys(db) == {in_flight: "writing"}


def test_an_upload_whose_worker_was_killed_is_removed_once_old_enough(runner, app, db, world, store, later):
    from webapp.unit_of_work import SessionLedger

    key = new_object_key("sheet", world.school.id)
    with app.app_context():
        from webapp.adapters import db as webdb

        SessionLedger(app.extensions["db_sessionmaker"]).hold(webdb.session(), key)  # then the put, then: killed
    store.put(key, b"\xff\xd8photo", "image/jpeg")
    assert pending_keys(db) == {key: "writing"}

    result = runner.invoke(args=["sweep-storage"])

    assert result.exit_code == 0, result.output
    assert keys(store) == set() and pending_keys(db) == {}
    assert "cleared 1 pending-upload records" in result.output


def test_a_delete_that_fails_after_a_commit_marks_the_object_for_the_sweep(app, db, world, store):
    from confirm.services.files import delete_after_commit

    key = put_object(store)
    with app.app_context():
        from webapp.adapters import db as webdb

        session = webdb.session()

        class Refusing:
            def delete(self, _key):
                raise OSError("S3 is paused")

        delete_after_commit(session, Refusing(), key)
        session.commit()
    assert pending_keys(db) == {key: "abandoned"}


@pytest.mark.parametrize(("given", "seconds"), [("0", 0), ("90s", 90), ("30m", 1800), ("2h", 7200), ("45", 2700)])
def test_min_age_takes_seconds_minutes_and_hours(given, seconds):
    from webapp.cli.storage import Duration

    assert Duration().convert(given, None, None) == timedelta(seconds=seconds)
