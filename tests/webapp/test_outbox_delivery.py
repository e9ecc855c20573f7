"""The outbox's one sender against a real server and the real Twilio client (a local fake API): no answer waits for
the provider, the provider's refusals leave every message queued with a reason, a cut-short attempt is never sent
twice, and forgot-password takes as long for a registered phone as for an unknown one."""

from __future__ import annotations

import socket
import statistics
import struct
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from confirm.clock import LOCAL_TZ
from confirm.models import Notification, utcnow
from confirm.services.outbox import queue_sms
from confirm.states import MessageKind
from tests.conftest import test_app_config
from tests.factories import PASSWORD, make_campaign, make_class, make_parent, make_school, make_staff, make_student
from tests.fakes import message_error, start_fake_twilio
from tests.servers import serve
from webapp import create_app

SID, TOKEN, FROM = "AC" + "1" * 32, "secret-token", "+15005550006"


@pytest.fixture
def twilio():
    fake, server = start_fake_twilio()
    yield fake
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def twilio_app(db_url, tmp_path, fake, **overrides):
    return create_app(test_app_config(
        db_url, tmp_path, SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_FROM=FROM,
        TWILIO_API_URL=fake.url, TWILIO_TIMEOUT=2, **overrides))


def settled(app, expected: int, timeout: float = 20) -> list[Notification]:
    """The messages once every one of ``expected`` has had its attempt (the sender works after the response)."""
    deadline = time.monotonic() + timeout
    with app.extensions["db_sessionmaker"]() as s:
        while True:
            found = list(s.scalars(select(Notification).order_by(Notification.id)))
            attempted = [n for n in found if n.status != "skipped"]
            if len(attempted) >= expected and all(n.attempts >= 1 and n.status != "sending" for n in attempted):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"messages not settled: {[(n.status, n.attempts) for n in found]}")
            time.sleep(0.05)
            s.expire_all()


@pytest.mark.parametrize("redis", ["none", "down"])
def test_a_reminder_to_45_phones_is_answered_before_the_provider_is_tried_and_each_refusal_is_kept(
        db_url, tmp_path, twilio, redis, monkeypatch):
    """The teacher's answer does not wait for the provider (how fast it is: benchmarks/outbox_latency.py)."""
    noon = datetime.now(LOCAL_TZ).replace(hour=12, minute=0, second=0, microsecond=0)  # not in quiet hours
    if noon > datetime.now(LOCAL_TZ):  # the last noon, never a future one: rows are dated by it
        noon -= timedelta(days=1)
    monkeypatch.setattr("webapp.teacher.outreach.clock", lambda: noon.astimezone(UTC))
    twilio.always = (429, message_error(429, 20429, "Too Many Requests"))
    twilio.delay = 0.05  # 45 tries take 2.25 s or more: an answer that waited for them would come after all 45
    extra = {"REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0"} if redis == "down" else {}
    app = twilio_app(db_url, tmp_path, twilio, **extra)
    with app.extensions["db_sessionmaker"]() as s:
        school = make_school(s)
        make_campaign(s, school)
        teacher = make_staff(s, school)
        school_class = make_class(s, school, teacher)
        for n in range(45):
            student = make_student(s, school_class, phone=f"139{n:08d}")
            student.members[0].set_value("phone", "")
        s.commit()
        class_id, username = school_class.id, teacher.username

    with serve(app) as url, requests.Session() as browser:
        assert browser.post(f"{url}/login", data={"login": username, "password": PASSWORD},
                            allow_redirects=False).status_code == 302
        answer = browser.post(f"{url}/teacher/classes/{class_id}/reminders", data={"stage": "unregistered"},
                              allow_redirects=False)
        tried_before_the_answer = len([r for r in twilio.requests if r.method == "POST"])
        messages = settled(app, 45)

    assert answer.status_code == 302 and tried_before_the_answer < 45, tried_before_the_answer
    assert len(messages) == 45 and len([r for r in twilio.requests if r.method == "POST"]) == 45  # one try each
    assert {(n.status, n.attempts) for n in messages} == {("queued", 1)}  # none lost: each waits for its retry
    assert all("限流" in n.reason and n.scheduled_for > n.created_at for n in messages)
    app.extensions["db_engine"].dispose()


def test_an_attempt_cut_short_is_not_sent_again_when_the_provider_has_it(app_for_cli, twilio):
    app, runner = app_for_cli
    with app.app_context():
        s = app.extensions["db_sessionmaker"]()
        gone_out = queue_sms(s, phone="13912340001", template="staff_phone_changed", kind=MessageKind.NOTICE)
        lost = queue_sms(s, phone="13912340002", template="staff_phone_changed", kind=MessageKind.NOTICE)
        for message in (gone_out, lost):  # a worker claimed both, then was killed: 'sending' for 20 minutes
            message.status, message.attempts = "sending", 1
            message.sending_since = utcnow() - timedelta(minutes=20)
        s.info.pop("outbox", None)  # the dead worker's rows: not handed over again by this commit
        s.commit()
        twilio.messages.append({"sid": "SM" + "a" * 32, "to": "+8613912340001", "from": FROM,
                                "body": gone_out.body, "status": "delivered"})  # Twilio got the first one

    result = runner.invoke(args=["send-queued"])

    assert result.exit_code == 0, result.output
    sent = [r.form["To"][0] for r in twilio.requests if r.method == "POST"]
    assert sent == ["+8613912340002"]  # only the one Twilio never received
    with app.extensions["db_sessionmaker"]() as s:
        rows = {n.phone: n for n in s.scalars(select(Notification))}
    assert (rows["13912340001"].status, rows["13912340001"].provider_id) == ("sent", "SM" + "a" * 32)
    assert (rows["13912340002"].status, rows["13912340002"].attempts) == ("sent", 2)


@pytest.fixture
def app_for_cli(db_url, tmp_path, twilio):
    app = twilio_app(db_url, tmp_path, twilio)
    yield app, app.test_cli_runner()
    app.extensions["db_engine"].dispose()


@pytest.mark.slow
@pytest.mark.timing
def test_forgot_password_takes_as_long_for_a_registered_phone_as_for_an_unknown_one(db_url, tmp_path, twilio):
    twilio.delay = 0.3  # a provider that takes its time: the answer must not
    app = twilio_app(db_url, tmp_path, twilio)
    known = [f"1361234{n:04d}" for n in range(20)]
    unknown = [f"1371234{n:04d}" for n in range(20)]
    with app.extensions["db_sessionmaker"]() as s:
        school_class = make_class(s, make_school(s))
        for phone in known:
            make_parent(s, make_student(s, school_class), phone=phone)
        s.commit()

    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    with serve(app) as url:
        requests.post(f"{url}/login/forgot", data={"phone": "13512340000"})  # warm up
        for n, (registered, stranger) in enumerate(zip(known, unknown, strict=True)):
            pair = [("known", registered), ("unknown", stranger)]
            for label, phone in pair if n % 2 else pair[::-1]:  # either may go first: no order effect
                started = time.perf_counter()
                answer = requests.post(f"{url}/login/forgot", data={"phone": phone}, allow_redirects=False)
                timings[label].append(time.perf_counter() - started)
                assert answer.status_code == 302
                settled(app, len(timings["known"]))  # one probe at a time, as an attacker would time them

    ratio = statistics.median(timings["known"]) / statistics.median(timings["unknown"])
    assert 0.8 <= ratio <= 1.25, f"known/unknown median ratio {ratio:.2f}: {timings}"
    with app.extensions["db_sessionmaker"]() as s:
        sent = s.scalar(select(func.count()).select_from(Notification).where(Notification.status == "sent"))
        assert sent == len(known) and len(twilio.sent) == len(known)  # only real accounts get one
    app.extensions["db_engine"].dispose()


def _post_then_reset(url: str, path: str, form: str) -> bytes:
    """POST ``form`` as a phone's browser may: read the answer, then drop the connection with a reset (RST) instead
    of a clean close. Returns the answer's status line."""
    host, port = url.removeprefix("http://").split(":")
    body = form.encode()
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (path.encode(), host.encode(), len(body), body))
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close() sends RST
    return answer.split(b"\r\n", 1)[0]


def test_the_code_sms_goes_out_when_the_phone_resets_the_connection_right_after_the_answer(db_url, tmp_path):
    """werkzeug's server (``flask run``, the browser tests) never calls the body's close() after such a reset; the
    message must not wait for it."""
    app = create_app(test_app_config(db_url, tmp_path))
    with app.extensions["db_sessionmaker"]() as s:
        make_parent(s, make_student(s, make_class(s, make_school(s))), phone="13612340001")
        s.commit()

    with serve(app) as url:
        status = _post_then_reset(url, "/login/forgot", "phone=13612340001")
        messages = settled(app, 1, timeout=10)

    assert status.endswith(b"302 FOUND")
    assert [phone for phone, _ in app.extensions["notifier"].outbox] == ["13612340001"]
    assert [(n.phone, n.status) for n in messages] == [("13612340001", "sent")]
    app.extensions["db_engine"].dispose()
