"""The electronic archive on the S3 backend (a real SeaweedFS): the ZIP is uploaded from its temporary file, and the
signed download link sends the browser on to a five-minute presigned URL of the object — audited first."""

from __future__ import annotations

import hashlib
import io
import zipfile
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from sqlalchemy import select

from confirm.models import ArchiveJob, AuditEvent
from tests.archive_scene import confirmed_student
from tests.conftest import TEST_SECRET, ClosingClient
from tests.factories import PASSWORD
from tests.webapp.conftest import build_world
from webapp import create_app

pytestmark = pytest.mark.s3


@pytest.fixture
def app(db_url, s3_app_config):
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "DATABASE_URL": db_url, "SMS_BACKEND": "memory",
                      "WTF_CSRF_ENABLED": False, **s3_app_config})
    app.test_client_class = ClosingClient  # the build runs after the response, before the request returns
    yield app
    app.extensions["db_engine"].dispose()


def test_an_archive_on_s3_is_downloaded_through_a_short_presigned_url(app, db, auth, client):
    world = build_world(db)
    objects = app.extensions["store"]
    for student in world.students_a:
        confirmed_student(db, objects, world.campaign, student, parent_id=world.parent.id, teacher=world.teacher,
                          admin=world.admin, seed=student.id)
    db.commit()
    auth.login("admin1", PASSWORD)
    client.post("/admin/archives", data={"scope": str(world.class_a.id)})
    job = db.scalar(select(ArchiveJob))
    assert job.status == "ready" and objects.exists(job.object_key)

    from webapp.shared.archives import download_link

    with app.test_request_context():
        link = download_link(job)
    response = client.get(link)
    assert response.status_code == 302
    url = response.headers["Location"]
    assert int(parse_qs(urlparse(url).query)["X-Amz-Expires"][0]) <= 300
    body = requests.get(url, timeout=5).content
    archive = zipfile.ZipFile(io.BytesIO(body))
    for line in archive.read("manifest.sha256").decode().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    assert len([n for n in archive.namelist() if n.endswith(".pdf")]) == len(world.students_a)
    assert db.scalar(select(AuditEvent.actor_id).where(AuditEvent.action == "archive.downloaded")) == world.admin.id
