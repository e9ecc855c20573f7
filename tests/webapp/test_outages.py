"""When the database or Redis fails: every page answers within its budget with the app's own page (Chinese, or
English when chosen, with a request id), /healthz never asks a dependency, /readyz answers within 2 s naming the one
that is down, and the app recovers by itself."""

from __future__ import annotations

import io
import socket
import threading
import time

import pytest
import requests
from sqlalchemy import func, make_url, select

from confirm.models import BatchItem, PendingObject, StoredFile
from tests.conftest import ClosingClient, _is_postgres, test_app_config
from tests.factories import PASSWORD
from tests.faultproxy import FaultProxy
from tests.servers import serve
from tests.webapp.conftest import build_world, jpeg_bytes
from webapp import create_app
from webapp.adapters.breaker import Breaker
from webapp.adapters.db import make_engine

pytestmark = pytest.mark.timing
PAGE_BUDGET = 3.0
DB_DOWN = "系统暂时连不上数据库"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(call):
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


def take_database_away(app) -> None:
    """Point the app at a port where nothing listens: every connection is refused."""
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/gone",
                         breaker=Breaker("database", cool_off=60))
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"].configure(bind=engine)


@pytest.fixture
def signed_in(app, world):
    """A parent's browser, signed in while the database was up."""
    client = app.test_client()
    assert client.post("/login", data={"login": world.parent.phone, "password": PASSWORD}).status_code == 302
    return client


def pages(world) -> list[str]:
    student = world.students_a[0].id
    return ["/", "/login", "/parent/", f"/parent/students/{student}", f"/parent/students/{student}/submit",
            "/teacher/", "/files/1"]


def test_with_the_database_gone_every_page_is_the_apps_own_page_within_the_budget(app, world, signed_in):
    paths = pages(world)
    take_database_away(app)
    for path in paths:
        response, seconds = timed(lambda path=path: signed_in.get(path))
        body = response.get_data(as_text=True)
        assert seconds <= PAGE_BUDGET, f"{path} took {seconds:.2f} s"
        assert response.status_code == 503, path
        assert DB_DOWN in body and "错误编号" in body, path
        assert response.headers["X-Request-ID"] in body and response.headers["Retry-After"]
        assert "退出" not in body  # the page never asked for the account
    upload, seconds = timed(lambda: signed_in.post(
        f"/parent/students/{world.students_a[0].id}/submit",
        data={"sheet": (io.BytesIO(jpeg_bytes()), "IMG_1.jpg"), "confirmed": "y", "_once": "tok-db-down-1"},
        content_type="multipart/form-data"))
    assert upload.status_code == 503 and seconds <= PAGE_BUDGET
    assert "系统暂时连不上数据库，您的照片没有保存" in upload.get_data(as_text=True)


def test_the_database_error_page_is_in_english_when_english_was_chosen(app, world, signed_in):
    take_database_away(app)
    signed_in.set_cookie("lang", "en")
    response = signed_in.get(f"/parent/students/{world.students_a[0].id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "cannot reach its database" in body and "Error reference" in body and DB_DOWN not in body


def test_the_probes_need_no_account_and_healthz_no_dependency(app, world, signed_in):
    take_database_away(app)
    health, seconds = timed(lambda: signed_in.get("/healthz"))
    assert health.status_code == 200 and health.get_json() == {"status": "ok"} and seconds < 1
    ready, seconds = timed(lambda: signed_in.get("/readyz"))
    assert ready.status_code == 503 and seconds <= 2
    assert ready.get_json()["down"] == ["database"]
    assert ready.get_json()["checks"] == {"database": "unavailable", "storage": "ok"}


def test_a_signed_in_browser_gets_the_database_page_and_the_probe_still_answers(app, db, world, client):
    world.parent.must_change_password = True
    db.merge(world.parent)
    db.commit()
    assert client.post("/login", data={"login": world.parent.phone, "password": PASSWORD}).status_code == 302
    assert client.get("/parent/").headers["Location"].endswith("/account/password")  # the mark of the session
    take_database_away(app)
    page = client.get("/parent/")  # the session itself lives in the database: its page, never a cookie session
    assert page.status_code == 503 and "系统暂时连不上数据库" in page.get_data(as_text=True)
    assert "Set-Cookie" not in page.headers
    assert client.get("/healthz").status_code == 200  # the probe reads no session


class StalledStore:
    """An object store whose every call hangs (a paused S3 without deadlines)."""

    def __init__(self):
        self.release = threading.Event()

    def check(self) -> None:
        self.release.wait(10)


def test_readyz_answers_within_2_s_naming_a_dependency_that_hangs(app, client):
    stalled = StalledStore()
    app.extensions["store"] = stalled
    try:
        response, seconds = timed(lambda: client.get("/readyz"))
    finally:
        stalled.release.set()
    assert seconds <= 2, f"/readyz took {seconds:.2f} s"
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "checks": {"database": "ok", "storage": "timed out"},
                                   "down": ["storage"]}


# --- PostgreSQL refusing, behind a proxy that can take it away ---------------------------------------------------


@pytest.fixture
def proxied(db_url, tmp_path):
    """The app on PostgreSQL through a loopback proxy that can refuse or stall connections."""
    if not _is_postgres():
        pytest.skip("the database fault is a PostgreSQL connection (run with TEST_DATABASE_URL)")
    url = make_url(db_url)
    with FaultProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        app = create_app(test_app_config(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False),
                                         tmp_path, BREAKER_COOL_OFF=1))
        with app.extensions["db_sessionmaker"]() as s:
            world = build_world(s)
        yield app, proxy, world
        app.extensions["db_engine"].dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("fault", ["refuse", "stall"])
def test_postgresql_going_away_gives_every_page_within_3_s_and_it_recovers_without_a_restart(proxied, fault):
    app, proxy, world = proxied
    student = world.students_a[0].id
    with serve(app) as base, requests.Session() as parent:
        assert parent.post(f"{base}/login", data={"login": world.parent.phone, "password": PASSWORD},
                           allow_redirects=False).status_code == 302
        assert parent.get(f"{base}/parent/students/{student}").status_code == 200
        getattr(proxy, fault)()  # refuse: connections reset and refused; stall: new ones hang
        answers = []
        for path in ["/login", f"/parent/students/{student}", "/parent/", f"/parent/students/{student}/submit",
                     f"/parent/students/{student}", "/healthz", "/readyz"]:
            response, seconds = timed(lambda path=path: parent.get(f"{base}{path}", allow_redirects=False))
            answers.append((path, response.status_code, round(seconds, 2)))
            assert seconds <= PAGE_BUDGET, answers
            if path == "/healthz":
                assert response.status_code == 200
            elif path == "/readyz":
                assert response.status_code == 503 and "database" in response.json()["down"] and seconds <= 2
            else:
                assert response.status_code == 503 and DB_DOWN in response.text, answers
        proxy.resume()
        deadline = time.monotonic() + 10
        while parent.get(f"{base}/parent/students/{student}").status_code != 200:
            assert time.monotonic() < deadline, "the app did not recover by itself"
            time.sleep(0.2)
        assert parent.get(f"{base}/readyz").status_code == 200
    print(f"\n{fault}: {answers}")


# --- Redis down --------------------------------------------------------------------------------------------------


def test_with_redis_gone_a_batch_upload_is_answered_at_once_and_its_job_runs_after_the_response(db_url, tmp_path):
    app = create_app(test_app_config(db_url, tmp_path, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"))
    with app.extensions["db_sessionmaker"]() as s:
        world = build_world(s)
    app.test_client_class = ClosingClient  # as a real server: the job runs when the answer has gone out
    client = app.test_client()
    assert client.post("/login", data={"login": world.teacher.username, "password": PASSWORD}).status_code == 302
    for n in range(3):  # the second failure opens the breaker: the third does not even try Redis
        response, seconds = timed(lambda n=n: client.post(
            f"/teacher/classes/{world.class_a.id}/batches",
            data={"photos": [(io.BytesIO(jpeg_bytes(color=(100 + n, 90, 80))), f"IMG_{n}.jpg")]},
            content_type="multipart/form-data"))
        assert response.status_code == 302 and seconds <= PAGE_BUDGET
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["queue"] == "unavailable"
    store = app.extensions["store"]
    with app.extensions["db_sessionmaker"]() as s:
        items = s.scalars(select(BatchItem)).all()
        assert len(items) == 3 and all(item.status != "pending" for item in items)  # matched after the response
        keys = {i.upload_key for i in items if i.upload_key} | set(s.scalars(select(StoredFile.storage_key))) \
            | {k for k in s.scalars(select(StoredFile.thumbnail_key)) if k}
        assert {o.key for o in store.list_objects()} == keys
        assert s.scalar(select(func.count()).select_from(PendingObject)) == 0
    app.extensions["db_engine"].dispose()
