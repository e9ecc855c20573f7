"""A form sent twice has the effect of one, and the second request sees the first one's answer: registration,
SMS codes, uploads, decisions, resets. (The same under parallel requests to a multi-process server is in
tests/webapp/test_races.py.)"""

from __future__ import annotations

import io
import re
from datetime import timedelta

from sqlalchemy import func, select

from confirm.models import (
    Confirmation,
    ConfirmationEvent,
    Guardianship,
    Notification,
    ParentAccount,
    RepeatGuard,
    StoredFile,
    utcnow,
)
from confirm.states import RepeatState
from tests.factories import PASSWORD
from tests.webapp.conftest import jpeg_bytes, sms_code

TOKEN = "a-form-token-0123456789"


def twin(app, client):
    """A second client with the cookies ``client`` holds now: the same browser, as a second tap leaves it before the
    first answer arrived."""
    other = app.test_client()
    for cookie in client._cookies.values():
        other.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return other


def count(db, model, *where) -> int:
    db.commit()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def test_a_double_tap_on_complete_registration_creates_one_account_and_logs_both_answers_in(app, client, world,
                                                                                           issue, outbox, db):
    student = world.students_a[1]
    code = issue(student)
    client.post("/register", data={"consent": "y", "code": code, "student_name": student.name, "phone": "13912345678"})
    client.get("/register/verify")  # the page with the form
    second = twin(app, client)  # the second tap leaves with the cookies of before the first answer
    form = {"sms_code": sms_code(outbox), "password": "secret-pass-1", "password_confirm": "secret-pass-1",
            "_once": TOKEN}

    first = client.post("/register/verify", data=form)
    again = second.post("/register/verify", data=form)

    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"] == f"/parent/students/{student.id}"
    assert count(db, ParentAccount, ParentAccount.phone == "13912345678") == 1
    account = db.scalar(select(ParentAccount).where(ParentAccount.phone == "13912345678"))
    page = second.get(again.headers["Location"]).get_data(as_text=True)  # the second answer is signed in too
    assert f"注册成功！您的平台号是 {account.platform_no}" in page and student.name in page


def test_a_double_tap_on_get_sms_code_sends_one_and_both_answers_go_to_the_code_step(app, client, world, issue,
                                                                                   outbox, db):
    student = world.students_a[1]
    code = issue(student)
    form = {"code": code, "student_name": student.name, "phone": "13912345678", "consent": "y", "_once": TOKEN}
    client.get("/register")  # the page with the form
    second = twin(app, client)

    first = client.post("/register", data=form)
    again = second.post("/register", data=form)

    assert first.headers["Location"] == again.headers["Location"] == "/register/verify"
    assert len(outbox) == 1
    step = second.get("/register/verify").get_data(as_text=True)
    assert "139****5678" in step and "验证码发送过于频繁" not in step
    finished = second.post("/register/verify", data={"sms_code": sms_code(outbox), "password": "secret-pass-1",
                                                     "password_confirm": "secret-pass-1"})
    assert finished.status_code == 302  # the code already sent works from the second answer's page


def test_a_sheet_sent_twice_is_stored_once_and_both_answers_say_it_was_submitted(app, client, world, auth, db):
    auth.login(world.parent.phone, PASSWORD)
    student = world.students_a[0]
    form = lambda: {"sheet": (io.BytesIO(jpeg_bytes()), "IMG_0001.jpg"), "confirmed": "y", "_once": TOKEN}  # noqa: E731
    second = twin(app, client)

    first = client.post(f"/parent/students/{student.id}/submit", data=form(), content_type="multipart/form-data")
    again = second.post(f"/parent/students/{student.id}/submit", data=form(), content_type="multipart/form-data")

    assert first.status_code == again.status_code == 302
    assert count(db, StoredFile) == 1
    assert count(db, ConfirmationEvent) == 1 and db.scalar(select(Confirmation.state)) == "submitted"
    assert "提交成功" in second.get(again.headers["Location"]).get_data(as_text=True)


def test_a_second_tap_on_reset_password_shows_the_first_temporary_password_and_resets_once(app, client, world, db,
                                                                                         outbox, auth):
    teacher = db.merge(world.teacher)
    teacher.phone = "13700000009"
    db.commit()
    auth.login(teacher.username, PASSWORD)
    client.post("/teacher/verify/send")
    client.post("/teacher/verify", data={"sms_code": sms_code(outbox)})
    path = f"/teacher/classes/{world.class_a.id}/reset-password"
    form = {"platform_no": world.parent.platform_no, "phone": world.parent.phone, "_once": TOKEN}

    first = client.post(path, data=form).get_data(as_text=True)
    again = client.post(path, data=form).get_data(as_text=True)

    temporary = re.search(r"临时密码：(\w{10})", outbox[-1][1]).group(1)
    assert temporary in first and temporary in again
    assert count(db, Notification, Notification.kind == "password") == 1  # one reset, one SMS
    db.expire_all()
    assert db.get(ParentAccount, world.parent.id).must_change_password


def test_an_approval_sent_twice_approves_once(app, client, world, auth, db):
    from tests.webapp.test_teacher_review import hand_in

    hand_in(app, db, world, world.students_a[0], world.parent.id)
    auth.login(world.teacher.username, PASSWORD)
    url = f"/teacher/students/{world.students_a[0].id}/approve"

    first = client.post(url, data={"_once": TOKEN})
    again = client.post(url, data={"_once": TOKEN})

    assert first.status_code == again.status_code == 302 and first.headers["Location"] == again.headers["Location"]
    assert count(db, ConfirmationEvent, ConfirmationEvent.to_state == "approved") == 1


def test_a_repeat_while_the_first_is_still_at_work_waits_for_its_answer(app, client, world, auth, db):
    auth.login(world.parent.phone, PASSWORD)
    student = world.students_a[0]
    url = f"/parent/students/{student.id}"
    first = client.post(url, data={"c0-current_address": "贵阳市重复路1号", "_once": TOKEN})
    guard = db.scalar(select(RepeatGuard))
    answer, guard.state, guard.answer = guard.answer, RepeatState.RUNNING.value, None  # as if still running
    db.commit()

    waiting = client.post(url, data={"c0-current_address": "贵阳市重复路1号", "_once": TOKEN})
    assert waiting.status_code == 202 and "正在处理您刚才的提交" in waiting.get_data(as_text=True)
    follow = re.search(r'url=([^"]+)"', waiting.get_data(as_text=True)).group(1)
    assert client.get(follow).status_code == 202  # still at work: the page keeps waiting

    guard.state, guard.answer = RepeatState.ANSWERED.value, answer  # the first request has answered
    db.commit()
    done = client.get(follow)
    assert done.status_code == first.status_code == 302 and done.headers["Location"] == first.headers["Location"]
    assert count(db, Guardianship) == 2  # nothing else happened on the way


def test_a_first_request_that_committed_but_never_answered_is_not_done_again(app, client, world, auth, db):
    auth.login(world.parent.phone, PASSWORD)
    url = f"/parent/students/{world.students_a[0].id}"
    client.post(url, data={"c0-current_address": "贵阳市重复路2号", "_once": TOKEN})
    guard = db.scalar(select(RepeatGuard))
    guard.state, guard.answer = RepeatState.COMMITTED.value, None
    guard.created_at = utcnow() - timedelta(minutes=5)
    db.commit()

    response = client.post(url, data={"c0-current_address": "贵阳市别的路3号", "_once": TOKEN})

    assert response.status_code == 409 and "这份表单已经提交过了" in response.get_data(as_text=True)
    db.expire_all()
    assert "别的路" not in str(db.scalars(select(Confirmation)).first().corrections[0].new_value)


def test_a_token_sent_by_someone_else_changes_nothing(app, client, world, auth, db):
    auth.login(world.parent.phone, PASSWORD)
    client.post(f"/parent/students/{world.students_a[0].id}", data={"c0-current_address": "贵阳市重复路4号",
                                                                     "_once": TOKEN})
    stranger = app.test_client()
    stranger.post("/login", data={"login": world.other_parent.phone, "password": PASSWORD})

    response = stranger.post(f"/parent/students/{world.students_b[0].id}",
                             data={"c0-current_address": "贵阳市别人路5号", "_once": TOKEN})

    assert response.status_code == 409 and "这份表单已经提交过了" in response.get_data(as_text=True)
    assert "别人路" not in str([c.new_value for conf in db.scalars(select(Confirmation)) for c in conf.corrections])


def test_a_first_request_that_failed_lets_the_same_form_be_sent_again(app, client, world, auth, db, monkeypatch):
    from confirm.services import records

    auth.login(world.parent.phone, PASSWORD)
    url = f"/parent/students/{world.students_a[0].id}"
    real = records.save_corrections
    monkeypatch.setattr(records, "save_corrections", lambda *a, **k: 1 / 0)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.post(url, data={"c0-current_address": "贵阳市重复路6号", "_once": TOKEN}).status_code == 500
    monkeypatch.setattr(records, "save_corrections", real)

    response = client.post(url, data={"c0-current_address": "贵阳市重复路6号", "_once": TOKEN})

    assert response.status_code == 302
    assert count(db, RepeatGuard, RepeatGuard.state == "answered") == 1


def test_the_kept_answer_cannot_be_read_without_the_forms_token(app, client, world, auth, db):
    auth.login(world.parent.phone, PASSWORD)
    client.post(f"/parent/students/{world.students_a[0].id}", data={"c0-current_address": "贵阳市重复路7号",
                                                                     "_once": TOKEN})
    guard = db.scalar(select(RepeatGuard))
    assert TOKEN not in guard.key and b"/parent/students" not in guard.answer and b"_user_id" not in guard.answer


def test_every_post_form_carries_a_one_time_token():
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "templates"
    for path in templates.rglob("*.html"):
        for form in re.findall(r"<form\b[^>]*>", path.read_text(), flags=re.S):
            if 'method="post"' in form.lower():
                following = path.read_text().split(form, 1)[1][:40]
                assert following.startswith("{{ once_token() }}"), f"{path.name}: {form[:80]}"
