"""Limits and repeated forms under parallel requests, against the app as production runs it: gunicorn with two
worker processes on this run's database (SQLite file or PostgreSQL), real CSRF tokens, real one-time form tokens.

Each test comes from its own client address (X-Forwarded-For, with PROXY_COUNT=1 as behind nginx)."""

from __future__ import annotations

import io
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import count

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from confirm.models import (
    AuditEvent,
    Confirmation,
    ConfirmationEvent,
    Guardianship,
    Notification,
    ParentAccount,
    RateCounter,
    StoredFile,
)
from confirm.services.common import SYSTEM
from confirm.services.limits import CODE_TRIES, LOGIN_FROM_ADDRESS
from confirm.services.registration import issue_code
from tests.factories import PASSWORD, make_campaign, make_class, make_parent, make_school, make_staff, make_student
from tests.servers import gunicorn
from tests.webapp.conftest import jpeg_bytes
from webapp.adapters.db import make_engine

SECRET = "gunicorn-test-secret-0123456789abcdef0123456789"
_addresses = count(10)


@pytest.fixture(scope="module")
def server(module_database, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("gunicorn")
    with gunicorn(module_database, workdir, PROXY_COUNT="1") as url:
        yield url, workdir


@pytest.fixture(scope="module")
def engine(module_database):
    engine = make_engine(module_database)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine):
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def school(db):
    school = make_school(db)
    make_campaign(db, school)
    db.commit()
    return school


@pytest.fixture
def address() -> str:
    """This test's own client address."""
    return f"198.51.100.{next(_addresses)}"


def code_key() -> bytes:
    import hashlib

    return hashlib.sha256(b"code-hash:" + SECRET.encode()).digest()


def browser(url: str, address: str) -> requests.Session:
    s = requests.Session()
    s.headers["X-Forwarded-For"] = address
    s.base = url
    return s


def tokens(b: requests.Session, path: str) -> dict[str, str]:
    """The CSRF and one-time tokens of the first POST form on ``path``."""
    page = b.get(b.base + path).text
    form = re.search(r'<form method="post".*?</form>', page, re.S).group(0)
    found = {}
    for tag in re.findall(r"<input\b[^>]*>", form):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and value and name.group(1) in ("csrf_token", "_once"):
            found[name.group(1)] = value.group(1)
    return found


def at_once(calls):
    """Run every call at the same moment from its own thread; returns their results in order."""
    start = threading.Barrier(len(calls))

    def run(call):
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def settle(b: requests.Session, response: requests.Response) -> requests.Response:
    """Follow the "still at work" page of a repeated form to its answer."""
    for _ in range(50):
        if response.status_code != 202:
            return response
        target = re.search(r'url=([^"]+)"', response.text).group(1)
        threading.Event().wait(0.2)
        response = b.get(b.base + target, allow_redirects=False)
    return response


def sms_codes(workdir, phone: str, at_least: int = 1) -> list[str]:
    """The codes the console SMS backend printed for ``phone`` (masked 139****5678), oldest first — once there are
    ``at_least`` (they go out right after the answer)."""
    masked = re.escape(f"{phone[:3]}****{phone[-4:]}")
    for _ in range(100):
        found = re.findall(rf"\[SMS → {masked}\] .*?(\d{{6}})", (workdir / "gunicorn.log").read_text())
        if len(found) >= at_least:
            return found
        threading.Event().wait(0.05)
    raise AssertionError(f"no SMS code for {phone}")


def age_counters(db, seconds: int) -> None:
    """Let time pass for the limits (their windows started ``seconds`` earlier)."""
    for counter in db.scalars(select(RateCounter)):
        counter.started_at -= timedelta(seconds=seconds)
    db.commit()


def logged_in(url: str, address: str, login: str) -> requests.Session:
    b = browser(url, address)
    answer = b.post(url + "/login", data={"login": login, "password": PASSWORD, **tokens(b, "/login")},
                    allow_redirects=False)
    assert answer.status_code == 302, answer.text[:500]
    return b


# --- limits --------------------------------------------------------------------------------------------------------


def test_thirty_parallel_wrong_passwords_and_the_right_one_get_at_most_five_wrong_looks(server, db, school, address):
    url, _ = server
    student = make_student(db, make_class(db, school))
    parent = make_parent(db, student, phone="13712340001")
    db.commit()
    browsers = [browser(url, address) for _ in range(31)]
    forms = [tokens(b, "/login") for b in browsers]
    passwords = ["wrong-password"] * 30 + [PASSWORD]

    answers = at_once([lambda b=b, f=f, p=p: b.post(url + "/login", data={"login": parent.phone, "password": p, **f},
                                                    allow_redirects=False)
                       for b, f, p in zip(browsers, forms, passwords, strict=True)])

    assert all(a.status_code in (200, 302) for a in answers)
    def looks(*actions: str) -> int:
        return db.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action.in_(actions), AuditEvent.actor_id == parent.id))

    assert looks("login.failed") <= LOGIN_FROM_ADDRESS.most  # the right password gives back only its own try
    assert looks("login.failed", "login.succeeded") <= LOGIN_FROM_ADDRESS.most + 1
    again = browser(url, address)
    refused = again.post(url + "/login", data={"login": parent.phone, "password": PASSWORD, **tokens(again, "/login")})
    assert "登录尝试次数过多" in refused.text  # the right password, from this address, while it is paused


def test_thirty_parallel_wrong_names_and_the_right_one_get_at_most_the_limit_of_looks(server, db, school, address):
    url, _ = server
    student = make_student(db, make_class(db, school))
    code = issue_code(db, student, key=code_key(), actor=SYSTEM)
    db.commit()
    browsers = [browser(url, address) for _ in range(31)]
    forms = [tokens(b, "/register") for b in browsers]
    names = [f"猜{n}" for n in range(30)] + [student.name]

    answers = at_once([lambda b=b, f=f, n=n, i=i: b.post(url + "/register", data={"consent": "y",
        "code": code, "student_name": n, "phone": f"1381234{i:04d}", **f}, allow_redirects=False)
        for i, (b, f, n) in enumerate(zip(browsers, forms, names, strict=True))])

    compared = [a for a in answers if a.status_code == 302 or "注册码或学生姓名不正确" in a.text]
    assert len(compared) <= CODE_TRIES.most
    assert all(a.status_code in (200, 302) for a in answers)
    assert sum("锁定" in a.text or "尝试次数过多" in a.text for a in answers) >= 31 - CODE_TRIES.most


def test_ten_parallel_code_requests_for_one_phone_send_exactly_one_sms(server, db, school, address):
    url, _ = server
    parent = make_parent(db, make_student(db, make_class(db, school)), phone="13712340002")
    db.commit()
    browsers = [browser(url, address) for _ in range(10)]
    forms = [tokens(b, "/login/forgot") for b in browsers]

    answers = at_once([lambda b=b, f=f: b.post(url + "/login/forgot", data={"phone": parent.phone, **f},
                                               allow_redirects=False) for b, f in zip(browsers, forms, strict=True)])

    assert sum(a.status_code == 302 for a in answers) == 1
    assert all(a.status_code == 302 or "验证码发送过于频繁" in a.text for a in answers)
    sent = db.scalar(select(func.count()).select_from(Notification).where(
        Notification.phone == parent.phone, Notification.kind == "code"))
    assert sent == 1


def test_two_parallel_registrations_for_one_new_phone_make_one_account_and_no_error(server, db, school, address):
    url, workdir = server
    school_class = make_class(db, school)
    first, second = make_student(db, school_class), make_student(db, school_class)
    codes = [issue_code(db, s, key=code_key(), actor=SYSTEM) for s in (first, second)]
    db.commit()
    phone = "13712340003"
    browsers = [browser(url, address) for _ in range(2)]
    for b, code, student in zip(browsers, codes, (first, second), strict=True):
        started = b.post(url + "/register", data={"consent": "y", "code": code, "student_name": student.name,
                                                  "phone": phone,
                                                  **tokens(b, "/register")}, allow_redirects=False)
        assert started.status_code == 302, started.text[:300]
        age_counters(db, 61)  # a minute between the two code requests
    sent = sms_codes(workdir, phone, at_least=2)[-2:]
    forms = [tokens(b, "/register/verify") for b in browsers]

    answers = at_once([lambda b=b, f=f, c=c: b.post(url + "/register/verify", data={
        "sms_code": c, "password": "secret-pass-1", "password_confirm": "secret-pass-1", **f}, allow_redirects=False)
        for b, f, c in zip(browsers, forms, sent, strict=True)])

    assert [a.status_code for a in answers] == [302, 302], [a.text[:300] for a in answers]
    accounts = db.scalars(select(ParentAccount).where(ParentAccount.phone == phone)).all()
    assert len(accounts) == 1
    linked = set(db.scalars(select(Guardianship.student_id).where(Guardianship.parent_id == accounts[0].id)))
    assert linked == {first.id, second.id}


# --- the same form twice, at the same moment ----------------------------------------------------------------------


def twins(b: requests.Session) -> requests.Session:
    """The same browser a second time: same cookies, as a double tap sends them."""
    other = browser(b.base, b.headers["X-Forwarded-For"])
    other.cookies.update(b.cookies)
    return other


def test_a_double_tap_on_complete_registration_registers_once_and_both_answers_succeed(server, db, school, address):
    url, workdir = server
    student = make_student(db, make_class(db, school))
    code = issue_code(db, student, key=code_key(), actor=SYSTEM)
    db.commit()
    phone = "13712340004"
    b = browser(url, address)
    b.post(url + "/register", data={"consent": "y", "code": code, "student_name": student.name, "phone": phone,
                                    **tokens(b, "/register")})
    form = {"sms_code": sms_codes(workdir, phone)[-1], "password": "secret-pass-1", "password_confirm": "secret-pass-1",
            **tokens(b, "/register/verify")}
    taps = [b, twins(b)]

    answers = at_once([lambda t=t: t.post(url + "/register/verify", data=form, allow_redirects=False) for t in taps])

    answers = [settle(t, a) for t, a in zip(taps, answers, strict=True)]
    assert [a.status_code for a in answers] == [302, 302]
    assert {a.headers["Location"] for a in answers} == {f"/parent/students/{student.id}"}
    assert db.scalar(select(func.count()).select_from(ParentAccount).where(ParentAccount.phone == phone)) == 1
    for t, a in zip(taps, answers, strict=True):  # both taps end signed in on the child's page
        page = t.get(url + a.headers["Location"])
        assert page.status_code == 200 and student.name in page.text


def test_a_double_tap_on_the_sheet_upload_files_it_once_and_both_answers_succeed(server, db, school, address):
    url, _ = server
    student = make_student(db, make_class(db, school))
    parent = make_parent(db, student, phone="13712340005")
    db.commit()
    b = logged_in(url, address, parent.phone)
    path = f"/parent/students/{student.id}/submit"
    form = {**tokens(b, path), "confirmed": "y"}
    photo = jpeg_bytes()
    taps = [b, twins(b)]

    answers = at_once([lambda t=t: t.post(url + path, data=form, files={"sheet": ("IMG_1.jpg", io.BytesIO(photo))},
                                          allow_redirects=False) for t in taps])

    answers = [settle(t, a) for t, a in zip(taps, answers, strict=True)]
    assert [a.status_code for a in answers] == [302, 302]
    db.expire_all()
    confirmation = db.scalar(select(Confirmation).where(Confirmation.student_id == student.id))
    assert confirmation.state == "submitted"
    assert db.scalar(select(func.count()).select_from(StoredFile).where(StoredFile.student_id == student.id)) == 1
    assert db.scalar(select(func.count()).select_from(ConfirmationEvent)
                     .where(ConfirmationEvent.confirmation_id == confirmation.id)) == 1


def test_a_double_tap_on_reset_password_resets_once_and_both_show_the_same_password(server, db, school, address):
    url, workdir = server
    school_class = make_class(db, school)
    teacher = make_staff(db, school, phone="13712340006")
    school_class.head_teacher_id = teacher.id
    parent = make_parent(db, make_student(db, school_class), phone="13712340007")
    db.commit()
    b = logged_in(url, address, teacher.username)
    b.post(url + "/teacher/verify/send", data=tokens(b, "/teacher/verify"))
    b.post(url + "/teacher/verify", data={"sms_code": sms_codes(workdir, teacher.phone)[-1],
                                          **tokens(b, "/teacher/verify")})
    path = f"/teacher/classes/{school_class.id}/reset-password"
    form = {"platform_no": parent.platform_no, "phone": parent.phone, **tokens(b, path)}
    taps = [b, twins(b)]

    answers = at_once([lambda t=t: t.post(url + path, data=form, allow_redirects=False) for t in taps])

    answers = [settle(t, a) for t, a in zip(taps, answers, strict=True)]
    shown = [re.search(r"临时密码[^<]*?<[^>]*>\s*([a-z0-9]{10})", a.text) for a in answers]
    assert all(shown), [a.text[:400] for a in answers]
    assert shown[0].group(1) == shown[1].group(1)
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "parent_password.reset", AuditEvent.target_id == parent.id)) == 1


@pytest.fixture(scope="module")
def server_with_redis(module_database, tmp_path_factory):
    import os

    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("TEST_REDIS_URL is not set; under CI=true the shared upload limits must be tested")
        pytest.skip("TEST_REDIS_URL is not set (scripts/test.sh sets it when Redis answers)")
    import redis

    redis.Redis.from_url(url).flushdb()  # the test database of Redis: no counts left from an earlier run
    workdir = tmp_path_factory.mktemp("gunicorn-redis")
    with gunicorn(module_database, workdir, PROXY_COUNT="1", REDIS_URL=url) as base:
        yield base


def test_uploads_past_the_limit_are_refused_however_the_workers_share_them(server_with_redis, db, school, address):
    url = server_with_redis
    student = make_student(db, make_class(db, school))
    parent = make_parent(db, student, phone="13712340008")
    db.commit()
    b = logged_in(url, address, parent.phone)
    path = f"/parent/students/{student.id}/submit"
    form = {k: v for k, v in tokens(b, path).items() if k == "csrf_token"}
    photo = jpeg_bytes((320, 240))

    answers = at_once([lambda: b.post(url + f"/parent/students/{student.id}/proofs", data=form,
                                      files={"proof": ("p.jpg", io.BytesIO(photo))}, allow_redirects=False)
                       for _ in range(25)])

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [302] * 20 + [429] * 5, statuses
    assert all("上传太频繁" in a.text for a in answers if a.status_code == 429)


# --- sessions ------------------------------------------------------------------------------------------------------


def test_a_session_holds_on_every_worker_and_ends_on_every_worker_at_logout(server, db, school, address):
    url, _workdir = server
    student = make_student(db, make_class(db, school))
    parent = make_parent(db, student, phone="13712340021")
    db.commit()
    b = logged_in(url, address, parent.phone)
    copied = browser(url, address)
    copied.cookies.update(b.cookies)  # a copy of the cookie, taken before logout
    page = f"{url}/parent/students/{student.id}"

    before = at_once([lambda: copied.get(page, allow_redirects=False) for _ in range(8)])  # both workers answer
    b.post(url + "/logout", data=tokens(b, f"/parent/students/{student.id}"), allow_redirects=False)
    after = at_once([lambda: copied.get(page, allow_redirects=False) for _ in range(8)])

    assert [r.status_code for r in before] == [200] * 8
    assert all(r.status_code == 302 and "/login" in r.headers["Location"] for r in after)
