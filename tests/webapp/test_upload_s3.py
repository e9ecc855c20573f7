"""The parent's sheet upload end to end with the app on the S3 backend (a real SeaweedFS): a 2xx answer means
the object and its row both exist, the teacher reads it through a short-lived presigned URL, the same photo is
not stored twice, and a failed commit leaves no object behind."""

from __future__ import annotations

import hashlib
import io
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.models import Confirmation, StoredFile
from confirm.services import review
from tests.conftest import TEST_SECRET
from tests.factories import PASSWORD
from tests.webapp.conftest import jpeg_bytes
from uploads.storage import S3Store
from webapp import create_app

pytestmark = pytest.mark.s3


@pytest.fixture
def app(db_url, s3_app_config):
    """The app with STORAGE_URL=s3://bucket/<fresh prefix>/ on the test server."""
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "DATABASE_URL": db_url, "SMS_BACKEND": "memory",
                      "WTF_CSRF_ENABLED": False, **s3_app_config})
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def bucket(app, s3_server):
    """The raw objects below the app's prefix: key → bytes, read with the test credentials."""
    store: S3Store = app.extensions["store"]
    client = s3_server.client()

    def objects() -> dict[str, bytes]:
        listing = client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix).get("Contents", [])
        return {item["Key"]: client.get_object(Bucket=store.bucket, Key=item["Key"])["Body"].read()
                for item in listing}

    return objects


def row_keys(db, prefix: str) -> set[str]:
    """Every object key the StoredFile rows refer to (the photo and, where there is one, its thumbnail)."""
    db.expire_all()
    keys = set()
    for stored in db.scalars(select(StoredFile)):
        keys.add(prefix + stored.storage_key)
        if getattr(stored, "thumbnail_key", None):
            keys.add(prefix + stored.thumbnail_key)
    return keys


def login(app, username: str):
    client = app.test_client()
    assert client.post("/login", data={"login": username, "password": PASSWORD}).status_code == 302
    return client


def submit(client, student, photo: bytes, name="IMG_0001.jpg"):
    return client.post(f"/parent/students/{student.id}/submit",
                       data={"sheet": (io.BytesIO(photo), name), "confirmed": "y"},
                       content_type="multipart/form-data")


def test_uploaded_sheet_is_in_the_bucket_with_its_hash_and_served_through_a_presigned_url(
        app, db, world, bucket, s3_server):
    assert isinstance(app.extensions["store"].backend, S3Store)
    parent = login(app, world.parent.phone)
    student = world.students_a[0]

    response = submit(parent, student, jpeg_bytes(), name="张三的确认表.jpg")

    assert response.status_code == 302
    confirmation = db.scalar(select(Confirmation))
    stored = db.get(StoredFile, confirmation.sheet_file_id)
    prefix = app.extensions["store"].prefix
    objects = bucket()
    assert set(objects) == row_keys(db, prefix) and prefix + stored.storage_key in objects
    data = objects[prefix + stored.storage_key]
    assert hashlib.sha256(data).hexdigest() == stored.sha256
    assert stored.size_bytes == len(data) and data[:2] == b"\xff\xd8"
    assert "张三" not in stored.storage_key and "IMG" not in stored.storage_key

    teacher = login(app, world.teacher.username)
    redirect = teacher.get(f"/files/{stored.id}")
    assert redirect.status_code == 302
    url = redirect.headers["Location"]
    assert url.startswith(s3_server.endpoint_url + "/")
    assert int(parse_qs(urlparse(url).query)["X-Amz-Expires"][0]) <= 300
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == stored.sha256
    assert fetched.headers["Content-Type"] == "image/jpeg"

    unsigned = url.split("?")[0]
    assert requests.get(unsigned, timeout=10).status_code == 403  # the bucket is private
    assert parent.get(f"/files/{stored.id}").status_code == 302  # the parent may see their own sheet
    assert login(app, world.other_teacher.username).get(f"/files/{stored.id}").status_code == 404


def test_the_same_photo_uploaded_again_for_the_same_student_is_stored_once(app, db, world, bucket):
    prefix = app.extensions["store"].prefix
    parent = login(app, world.parent.phone)
    teacher = login(app, world.teacher.username)
    student = world.students_a[0]
    photo = jpeg_bytes()

    assert submit(parent, student, photo).status_code == 302
    first = set(bucket())
    assert teacher.post(f"/teacher/students/{student.id}/return", data={"reason": "请重新拍照"}).status_code == 302
    assert submit(parent, student, photo, name="again.jpg").status_code == 302

    db.expire_all()
    rows = db.scalars(select(StoredFile)).all()
    assert len(rows) == 1
    assert db.scalar(select(Confirmation)).sheet_file_id == rows[0].id
    assert db.scalar(select(Confirmation.state)) == "submitted"
    assert set(bucket()) == first == row_keys(db, prefix)

    assert teacher.post(f"/teacher/students/{student.id}/return", data={"reason": "换一张"}).status_code == 302
    assert submit(parent, student, jpeg_bytes(color=(10, 120, 10))).status_code == 302  # a different photo
    assert len(db.scalars(select(StoredFile)).all()) == 2
    assert set(bucket()) == row_keys(db, prefix) and set(bucket()) > first


def test_a_failing_step_after_storing_leaves_no_object_and_no_row(app, db, world, bucket, monkeypatch):
    parent = login(app, world.parent.phone)

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(review, "submit_confirmation", broken)
    with pytest.raises(RuntimeError, match="database went away"):
        submit(parent, world.students_a[0], jpeg_bytes())

    assert bucket() == {}
    db.expire_all()
    assert db.scalar(select(StoredFile)) is None


def test_a_failing_commit_leaves_no_object_and_no_row(app, db, world, bucket, monkeypatch):
    parent = login(app, world.parent.phone)
    real_commit = Session.commit

    def failing_commit(self):
        if any(isinstance(obj, StoredFile) for obj in self.new) or any(
                isinstance(obj, StoredFile) for obj in self.identity_map.values()):
            raise RuntimeError("commit failed")
        return real_commit(self)

    monkeypatch.setattr(Session, "commit", failing_commit)
    with pytest.raises(RuntimeError, match="commit failed"):
        submit(parent, world.students_a[0], jpeg_bytes())
    monkeypatch.undo()

    assert bucket() == {}
    db.expire_all()
    assert db.scalar(select(StoredFile)) is None
    assert db.scalar(select(Confirmation.state)) in (None, "open")
