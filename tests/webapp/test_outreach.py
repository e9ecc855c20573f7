"""Chasing the missing by SMS: reminders per stage, invitations, limits, statuses, the worker and its fallbacks."""

from __future__ import annotations

import json
import os
import re
import socket
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from confirm.clock import LOCAL_TZ, local_today
from confirm.invitations import Invitation, parse_invitation_token
from confirm.models import Campaign, Notification
from confirm.services.outbox import SmsError
from tests.conftest import ClosingClient, test_app_config
from tests.factories import PASSWORD
from webapp import create_app

REDIS_URL = os.environ.get("TEST_REDIS_URL")


@pytest.fixture(autouse=True)
def _noon_and_no_waiting(app, monkeypatch):
    """The pages act at noon, Shanghai time (outside quiet hours), and a retry is due at once."""
    noon = datetime.now(LOCAL_TZ).replace(hour=12, minute=0, second=0, microsecond=0)
    monkeypatch.setattr("webapp.teacher.outreach.clock", lambda: noon.astimezone(UTC))
    app.config["SMS_RETRY_BACKOFF_SECONDS"] = 0


@pytest.fixture
def phones(world, db):
    """Class A: students 1 and 2 unregistered with their own mobiles; student 0 has a parent account."""
    for n, student in enumerate(world.students_a):
        student = db.merge(student)
        student.set_value("phone", f"1390000{n}001")
        student.members[0].set_value("phone", f"1390000{n}002")
    db.commit()
    return world


def login(app, username: str):
    client = app.test_client()
    assert client.post("/login", data={"login": username, "password": PASSWORD}).status_code == 302
    return client


@pytest.fixture
def teacher(app, phones):
    return login(app, phones.teacher.username)


def rows(db, **where):
    db.commit()
    db.expire_all()  # what the app wrote since, not what this session saw before
    query = select(Notification).order_by(Notification.id)
    for key, value in where.items():
        query = query.where(getattr(Notification, key) == value)
    return list(db.scalars(query))


def test_reminding_the_unregistered_texts_every_mobile_on_their_records(app, teacher, phones, outbox, db):
    response = teacher.post(f"/teacher/classes/{phones.class_a.id}/reminders", data={"stage": "unregistered"},
                            follow_redirects=True)

    assert response.status_code == 200
    assert "4 条短信已交给后台发送" in response.get_data(as_text=True)
    assert sorted(p for p, _ in outbox) == ["13900001001", "13900001002", "13900002001", "13900002002"]
    sent = rows(db)
    assert {(n.status, n.kind, n.stage) for n in sent} == {("sent", "reminder", "unregistered")}
    assert all(n.provider_id and n.sent_at and n.attempts == 1 for n in sent)
    student = phones.students_a[1]
    text = next(t for p, t in outbox if p == "13900001001")
    assert student.name[1:] in text and student.name not in text and student.id_number not in text
    assert phones.school.name in text and "http://localhost/register?invite=" in text  # the address served on


def test_registered_parents_get_the_login_link_on_their_account_phone(app, teacher, phones, outbox, db):
    teacher.post(f"/teacher/classes/{phones.class_a.id}/reminders", data={"stage": "open"})

    assert [p for p, _ in outbox] == [phones.parent.phone]
    assert "http://localhost/login" in outbox[0][1]
    assert rows(db)[0].parent_id == phones.parent.id


def test_the_teacher_can_pick_single_students_and_unticking_everyone_sends_nothing(app, teacher, phones, outbox):
    url = f"/teacher/classes/{phones.class_a.id}/reminders"
    picked = phones.students_a[2]

    teacher.post(url, data={"stage": "unregistered", "pick": "1", "student_ids": [str(picked.id)]})
    assert sorted(p for p, _ in outbox) == ["13900002001", "13900002002"]

    response = teacher.post(url, data={"stage": "unregistered", "pick": "1"}, follow_redirects=True)
    assert "请至少选择一名学生" in response.get_data(as_text=True) and len(outbox) == 2


def test_a_second_reminder_within_24_hours_is_not_sent(app, teacher, phones, outbox):
    url = f"/teacher/classes/{phones.class_a.id}/reminders"
    teacher.post(url, data={"stage": "unregistered"})

    response = teacher.post(url, data={"stage": "unregistered"}, follow_redirects=True)

    assert len(outbox) == 4
    assert "4 个号码在 24 小时内已收到过短信" in response.get_data(as_text=True)


def test_a_burst_past_the_daily_budget_is_refused_with_what_is_left(app, teacher, phones, outbox, db):
    app.config["SMS_DAILY_BUDGET_PER_SCHOOL"] = 3

    response = teacher.post(f"/teacher/classes/{phones.class_a.id}/reminders", data={"stage": "unregistered"},
                            follow_redirects=True)

    assert "这次需要发送 4 条，今天还可以发送 3 条" in response.get_data(as_text=True)
    assert outbox == [] and rows(db) == []


def test_the_page_flags_landlines_and_students_without_a_phone_before_sending(app, teacher, phones, db):
    a, b = db.merge(phones.students_a[1]), db.merge(phones.students_a[2])
    a.set_value("phone", "0851-86001234")
    a.members[0].set_value("phone", "")
    b.set_value("phone", "12345")
    db.commit()

    page = teacher.get(f"/teacher/classes/{phones.class_a.id}/outreach?stage=unregistered").get_data(as_text=True)

    assert "不是手机号：0851-86001234" in page and "不是手机号：12345" in page
    assert "无手机号" in page and "将发送 1 条短信" in page
    assert "本校今天还可以发送 500 条短信" in page
    assert "13900002002" not in page and "139****2002" in page  # phones are masked


def _deadline_in(db, days: int, now: datetime) -> None:
    db.execute(Campaign.__table__.update().values(deadline=local_today(now) + timedelta(days=days)))
    db.commit()


def test_reminders_in_the_evening_wait_for_eight_in_the_morning(app, phones, runner, outbox, db):
    late = datetime.now(LOCAL_TZ).replace(hour=22, minute=0, second=0, microsecond=0)
    _deadline_in(db, 2, late)

    result = runner.invoke(args=["send-daily-reminders", "--now", late.isoformat()])

    assert result.exit_code == 0, result.output
    assert outbox == []
    scheduled = rows(db)
    assert {n.student_id for n in scheduled} >= {phones.students_a[1].id, phones.students_a[2].id}
    assert {n.status for n in scheduled} == {"scheduled"}
    assert {n.scheduled_for for n in scheduled} == {(late + timedelta(hours=10)).astimezone(UTC)}


def test_daily_reminder_starts_three_days_before_the_deadline(app, phones, runner, outbox, db):
    noon = datetime.now(LOCAL_TZ).replace(hour=12, minute=0, second=0, microsecond=0)
    result = runner.invoke(args=["send-daily-reminders", "--now", noon.isoformat()])  # deadline 30 days away
    assert result.exit_code == 0 and "no automatic reminder" in result.output and outbox == []

    _deadline_in(db, 3, noon)
    result = runner.invoke(args=["send-daily-reminders", "--now", noon.isoformat()])

    assert result.exit_code == 0, result.output
    reached = {p for p, _ in outbox}
    assert {"13900001001", "13900002002", phones.parent.phone, phones.other_parent.phone} <= reached
    assert all(s.id_number not in t for s in phones.students_a for _, t in outbox)
    again = runner.invoke(args=["send-daily-reminders", "--now", (noon + timedelta(hours=1)).isoformat()])
    assert again.exit_code == 0 and len(outbox) == len(reached)  # one per phone per 24 h


def test_failures_are_recorded_with_a_reason_and_temporary_ones_retried_later(app, teacher, phones, outbox, db,
                                                                              runner, monkeypatch):
    memory = app.extensions["notifier"]
    original = memory.send
    script = {
        "13900001001": [SmsError("手机号码无效", permanent=True)],
        "13900001002": [SmsError("短信服务限流（HTTP 429）", permanent=False)],
        "13900002001": [SmsError("短信服务暂时故障（HTTP 503）", permanent=False)] * 3,
    }

    def send(phone, text):
        if script.get(phone):
            raise script[phone].pop(0)
        return original(phone, text)

    monkeypatch.setattr(memory, "send", send)
    teacher.post(f"/teacher/classes/{phones.class_a.id}/reminders", data={"stage": "unregistered"})

    first = {n.phone: n for n in rows(db)}  # one attempt each, in the request's wake: nothing waits
    assert (first["13900001002"].status, first["13900001002"].attempts) == ("queued", 1)
    assert "暂时失败，将自动重试" in first["13900001002"].reason and first["13900001002"].scheduled_for
    assert runner.invoke(args=["send-queued"]).exit_code == 0  # the retries that are due (cron, or the worker)
    assert runner.invoke(args=["send-queued"]).exit_code == 0

    by_phone = {n.phone: n for n in rows(db)}
    assert (by_phone["13900001001"].status, by_phone["13900001001"].reason) == ("failed", "手机号码无效")
    assert (by_phone["13900001002"].status, by_phone["13900001002"].attempts) == ("sent", 2)
    assert (by_phone["13900002001"].status, by_phone["13900002001"].attempts) == ("failed", 3)
    assert by_phone["13900002002"].status == "sent"
    page = teacher.get(f"/teacher/students/{phones.students_a[1].id}/messages").get_data(as_text=True)
    assert "发送失败" in page and "手机号码无效" in page and "已发送" in page and "尝试 2 次" in page


def test_invitations_carry_a_personal_link_and_the_class_page_counts_them(app, teacher, phones, outbox, db):
    a, b = db.merge(phones.students_a[1]), db.merge(phones.students_a[2])
    b.set_value("phone", "")
    b.members[0].set_value("phone", "0851-86001234")
    db.commit()

    teacher.post(f"/teacher/classes/{phones.class_a.id}/invitations")

    assert sorted(p for p, _ in outbox) == ["13900001001", "13900001002"]
    link = re.search(r"http\S+", outbox[0][1]).group(0)
    assert urlsplit(link).path == "/register"
    token = parse_qs(urlsplit(link).query)["invite"][0]
    with app.app_context():
        from webapp.adapters.keys import invite_key

        assert parse_invitation_token(invite_key(), token) == Invitation(a.id, phones.campaign.id)
    assert {n.kind for n in rows(db)} == {"invitation"}
    page = teacher.get(f"/teacher/classes/{phones.class_a.id}").get_data(as_text=True)
    assert "已送达 1" in page and "失败 0" in page and "无有效手机号 1" in page


def test_the_admin_invites_the_whole_school(app, phones, outbox, db):
    admin = login(app, phones.admin.username)

    response = admin.post("/admin/invitations", follow_redirects=True)

    assert response.status_code == 200
    invited = {n.student_id for n in rows(db)}
    assert invited == {phones.students_a[1].id, phones.students_a[2].id, phones.students_b[1].id}
    assert phones.other_school.id not in {n.school_id for n in rows(db)}


def test_send_queued_picks_up_messages_left_in_the_table(app, phones, runner, outbox, db):
    db.add(Notification(school_id=phones.school.id, student_id=phones.students_a[1].id, phone="13900001001",
                        kind="reminder", stage="unregistered", body="【测试】提醒", status="queued"))
    db.commit()

    result = runner.invoke(args=["send-queued"])

    assert result.exit_code == 0 and "sent: 1" in result.output
    assert outbox == [("13900001001", "【测试】提醒")]
    assert rows(db)[0].status == "sent"


# --- the worker: real Redis, no Redis, Redis down ----------------------------------------------------------------


def app_with_redis(db_url, tmp_path, redis_url):
    app = create_app(test_app_config(db_url, tmp_path, REDIS_URL=redis_url, SMS_RETRY_BACKOFF_SECONDS=0))
    app.test_client_class = ClosingClient
    return app


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url():
    if not REDIS_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("TEST_REDIS_URL is not set; under CI=true the worker test must run")
        pytest.skip("TEST_REDIS_URL is not set (scripts/test.sh sets it when Redis answers on 127.0.0.1:6379)")
    return REDIS_URL


def test_a_real_worker_sends_what_the_request_queued(phones, db_url, tmp_path, redis_url, db):
    app = app_with_redis(db_url, tmp_path, redis_url)
    queue = app.extensions["job_queue"]
    queue.empty()
    client = login(app, phones.teacher.username)

    response = client.post(f"/teacher/classes/{phones.class_a.id}/reminders", data={"stage": "unregistered"},
                           follow_redirects=True)

    assert "4 条短信已交给后台发送" in response.get_data(as_text=True)
    assert app.extensions["notifier"].outbox == []
    assert {n.status for n in rows(db)} == {"queued"}
    from rq import SimpleWorker

    job = queue.jobs[0]  # a job is its function's name and the message ids, as JSON: nothing else can run
    assert job.func_name == "webapp.jobs.messages.deliver" and list(job.args) == [[n.id for n in rows(db)]]
    stored = json.loads(zlib.decompress(queue.connection.hget(job.key, "data")))  # JSON, never pickle
    assert stored == ["webapp.jobs.messages.deliver", None, [[n.id for n in rows(db)]], {}]
    with app.app_context():
        SimpleWorker([queue], connection=queue.connection, serializer=queue.serializer).work(burst=True)
    assert len(app.extensions["notifier"].outbox) == 4
    assert {n.status for n in rows(db)} == {"sent"}
    app.extensions["db_engine"].dispose()


def test_with_redis_down_the_messages_go_right_after_the_response_and_none_is_lost(phones, db_url, tmp_path, db):
    app = app_with_redis(db_url, tmp_path, f"redis://127.0.0.1:{_closed_port()}/0")
    client = login(app, phones.teacher.username)

    response = client.post(f"/teacher/classes/{phones.class_a.id}/reminders", data={"stage": "unregistered"},
                           follow_redirects=True)

    assert response.status_code == 200 and "4 条短信已交给后台发送" in response.get_data(as_text=True)
    assert len(app.extensions["notifier"].outbox) == 4
    assert {n.status for n in rows(db)} == {"sent"}
    app.extensions["db_engine"].dispose()


def test_without_redis_the_messages_go_right_after_the_response(app, teacher, phones, outbox, db):
    assert app.extensions["job_queue"] is None
    teacher.post(f"/teacher/classes/{phones.class_a.id}/reminders", data={"stage": "returned"})
    assert outbox == [] and rows(db) == []  # nobody returned: nothing to send, nothing queued
    teacher.post(f"/teacher/classes/{phones.class_a.id}/reminders", data={"stage": "unregistered"})
    assert len(outbox) == 4 and {n.status for n in rows(db)} == {"sent"}
