"""Server-side sessions (issue 12): a copied cookie is worth nothing after logout or a password change, sessions end
after their idle time and at 12 hours, the id changes at sign-in and step-up, and a user sees and ends their
sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from confirm.models import ParentAccount, WebSession, utcnow
from confirm.security import hash_password
from tests.factories import PASSWORD
from tests.webapp.conftest import sms_code

WECHAT = ("Mozilla/5.0 (Linux; Android 10; V2001A; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
          "Chrome/86.0.4240.99 Mobile Safari/537.36 MicroMessenger/8.0.27.2220 NetType/4G Language/zh_CN")
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
           "Safari/537.36")


def copy_of(app, client):
    """Another browser holding a copy of ``client``'s cookies (a stolen or copied cookie)."""
    other = app.test_client()
    for cookie in client._cookies.values():
        other.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return other


def browser(app, user_agent: str):
    """A test client that sends ``user_agent`` with every request."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def lands_on_login(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def signed_in(response) -> bool:
    return response.status_code in (200, 302) and not lands_on_login(response)


@pytest.fixture
def clock(monkeypatch):
    """Moves the sessions' clock forward (the store's idle and absolute limits, and 'recent' passwords)."""
    import time

    import webapp.adapters.sessions as sessions
    import webapp.auth.fresh as fresh

    shift = {"by": timedelta(0)}
    monkeypatch.setattr(sessions, "utcnow", lambda: utcnow() + shift["by"])
    monkeypatch.setattr(fresh, "_clock", lambda: time.time() + shift["by"].total_seconds())

    def forward(**delta):
        shift["by"] += timedelta(**delta)

    return forward


def test_a_cookie_copied_before_logout_gets_the_login_page_after_logout(app, client, world, auth):
    assert auth.login(world.parent.platform_no, PASSWORD).status_code == 302
    copied = copy_of(app, client)
    assert signed_in(copied.get("/parent/"))  # the copy works while the session lives

    auth.logout()

    assert lands_on_login(copied.get("/parent/"))
    assert lands_on_login(copied.get(f"/parent/students/{world.students_a[0].id}"))


def test_a_staff_session_is_refused_after_31_idle_minutes_but_not_after_29(client, world, auth, clock):
    auth.login(world.teacher.username, PASSWORD)
    clock(minutes=29)
    assert signed_in(client.get("/teacher/"))  # still in, and the idle time starts again

    clock(minutes=31)

    assert lands_on_login(client.get("/teacher/"))


def test_a_parent_session_lasts_two_idle_hours(client, world, auth, clock):
    auth.login(world.parent.platform_no, PASSWORD)
    clock(minutes=115)
    assert signed_in(client.get("/parent/"))

    clock(minutes=122)

    assert lands_on_login(client.get("/parent/"))


def test_no_session_outlives_12_hours_however_busy(client, world, auth, clock):
    auth.login(world.teacher.username, PASSWORD)
    for _ in range(28):  # a request every 25 minutes: 11 h 40 min
        clock(minutes=25)
        assert signed_in(client.get("/teacher/"))
    clock(minutes=25)  # 12 h 5 min after signing in

    assert lands_on_login(client.get("/teacher/"))


def test_the_session_id_changes_at_sign_in_and_the_old_one_opens_nothing(app, client, world, auth):
    client.get("/login")
    before = session_cookie(client)
    stale = copy_of(app, client)  # e.g. an id planted in the browser before sign-in

    auth.login(world.parent.platform_no, PASSWORD)

    assert before and session_cookie(client) and session_cookie(client) != before
    assert lands_on_login(stale.get("/parent/"))


def test_the_session_id_changes_at_step_up_and_the_old_one_is_not_stepped_up(app, client, world, db, auth, outbox):
    teacher = db.merge(world.teacher)
    teacher.phone = "13700001111"
    db.commit()
    auth.login(teacher.username, PASSWORD)
    before = copy_of(app, client)

    client.post("/teacher/verify/send")
    client.post("/teacher/verify", data={"sms_code": sms_code(outbox)})

    assert session_cookie(client) != session_cookie(before)
    reveal = {"parent_id": str(world.parent.id)}
    assert "/teacher/verify" in before.post(f"/teacher/classes/{world.class_a.id}/parents/reveal",
                                            data=reveal).headers["Location"]
    assert "/teacher/verify" not in (client.post(f"/teacher/classes/{world.class_a.id}/parents/reveal",
                                                 data=reveal).headers.get("Location") or "")


def test_a_forged_session_id_gets_the_login_page_without_an_error(client):
    client.set_cookie("session", "forged-" + "x" * 40)

    assert lands_on_login(client.get("/parent/"))
    page = client.get("/login")
    assert page.status_code == 200 and "登录" in page.get_data(as_text=True)


def test_a_session_store_that_is_down_answers_try_again_later_and_sets_no_cookie(app, client, world, auth, monkeypatch):
    from webapp.adapters.sessions import DatabaseSessions

    auth.login(world.parent.platform_no, PASSWORD)

    def down(self, store_id):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(DatabaseSessions, "_retrieve_session_data", down)
    response = client.get("/parent/")

    assert response.status_code == 503
    assert "请几分钟后再试" in response.get_data(as_text=True)  # the database's page: the store is the database
    assert "Set-Cookie" not in response.headers  # nothing falls back to a cookie session


def test_a_signed_in_page_reads_its_session_account_and_record_on_one_connection_in_one_transaction(
        app, client, world, auth):
    from sqlalchemy import event

    auth.login(world.parent.platform_no, PASSWORD)
    client.get(f"/parent/students/{world.students_a[0].id}")  # the first page after sign-in may still write
    engine, seen = app.extensions["db_engine"], []
    listeners = [(engine.pool, "checkout", lambda *_: seen.append("checkout")),
                 (engine, "begin", lambda *_: seen.append("begin")),
                 (engine, "before_cursor_execute", lambda _c, _cu, sql, *_: seen.append(sql.split()[0]))]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        page = client.get(f"/parent/students/{world.students_a[0].id}")
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)

    assert page.status_code == 200 and world.students_a[0].name in page.get_data(as_text=True)
    # the session row, the account with its children, the campaign with the child's confirmation
    assert seen == ["checkout", "begin", "SELECT", "SELECT", "SELECT"]


def test_a_new_password_ends_every_other_session_and_this_browser_stays_in(app, client, world, auth):
    auth.login(world.parent.platform_no, PASSWORD)
    phone = app.test_client()
    phone.post("/login", data={"login": world.parent.phone, "password": PASSWORD})
    assert signed_in(phone.get("/parent/"))

    response = client.post("/account/password", data={"password": "a-brand-new-pass-7",
                                                       "password_confirm": "a-brand-new-pass-7"})

    assert response.status_code == 302
    assert lands_on_login(phone.get("/parent/"))
    assert signed_in(client.get("/parent/"))


def test_the_current_password_is_asked_for_when_the_last_one_was_typed_long_ago(client, world, auth, clock):
    auth.login(world.parent.platform_no, PASSWORD)
    assert "现在的密码" not in client.get("/account/password").get_data(as_text=True)  # typed a moment ago
    clock(minutes=6)
    assert "现在的密码" in client.get("/account/password").get_data(as_text=True)
    new = {"password": "a-brand-new-pass-7", "password_confirm": "a-brand-new-pass-7"}

    wrong = client.post("/account/password", data={**new, "current_password": "not-my-password"})
    right = client.post("/account/password", data={**new, "current_password": PASSWORD})

    assert wrong.status_code == 200 and "当前密码不正确" in wrong.get_data(as_text=True)
    assert right.status_code == 302


def test_a_temporary_password_cannot_be_kept_as_the_new_one(client, world, db, auth):
    account = db.get(ParentAccount, world.parent.id)
    account.password_hash, account.must_change_password = hash_password("tmp7pass3k"), True
    db.commit()
    auth.login(account.platform_no, "tmp7pass3k")

    response = client.post("/account/password", data={"password": "tmp7pass3k", "password_confirm": "tmp7pass3k"})

    assert response.status_code == 200
    assert "新密码不能与现在的密码相同" in response.get_data(as_text=True)
    assert client.get("/parent/").headers["Location"] == "/account/password"  # still to choose a new one


def test_the_sessions_page_names_each_device_and_signs_out_everywhere_else(app, world, db):
    here = browser(app, WECHAT)
    elsewhere = browser(app, DESKTOP)
    for each in (here, elsewhere):
        each.post("/login", data={"login": world.parent.platform_no, "password": PASSWORD})

    page = here.get("/account/sessions").get_data(as_text=True)
    assert "微信 · Android" in page and "Chrome · Windows" in page and "本机" in page

    assert here.post("/account/sessions/end-others").status_code == 302

    assert lands_on_login(elsewhere.get("/parent/"))
    assert signed_in(here.get("/parent/"))
    page = here.get("/account/sessions").get_data(as_text=True)
    assert "Chrome · Windows" not in page and "微信 · Android" in page


def test_one_other_device_can_be_signed_out_from_the_list(app, world, db):
    here = browser(app, WECHAT)
    elsewhere = browser(app, DESKTOP)
    for each in (here, elsewhere):
        each.post("/login", data={"login": world.teacher.username, "password": PASSWORD})
    db.commit()
    other = db.scalar(select(WebSession.id).where(WebSession.device == "Chrome · Windows"))

    here.post("/account/sessions/end", data={"session_id": other})

    assert lands_on_login(elsewhere.get("/teacher/"))
    assert signed_in(here.get("/teacher/"))


def test_a_forgot_password_reset_ends_every_session(app, client, world, outbox):
    signed_in = app.test_client()
    signed_in.post("/login", data={"login": world.parent.platform_no, "password": PASSWORD})

    client.post("/login/forgot", data={"phone": world.parent.phone})
    client.post("/login/forgot/verify", data={"sms_code": sms_code(outbox), "password": "a-brand-new-pass-7",
                                              "password_confirm": "a-brand-new-pass-7"})

    assert lands_on_login(signed_in.get("/parent/"))


def test_resetting_a_registration_code_signs_the_unlinked_family_out(app, client, world, db, auth, outbox):
    family = app.test_client()
    family.post("/login", data={"login": world.parent.platform_no, "password": PASSWORD})
    teacher = db.merge(world.teacher)
    teacher.phone = "13700001111"
    db.commit()
    auth.login(teacher.username, PASSWORD)
    client.post("/teacher/verify/send")
    client.post("/teacher/verify", data={"sms_code": sms_code(outbox)})

    client.post(f"/teacher/students/{world.students_a[0].id}/reset-code", data={"reason": "注册码被他人使用"})

    assert lands_on_login(family.get("/parent/"))


def test_lapsed_sessions_are_removed_by_the_cleanup_command(app, client, world, auth, db, runner, clock):
    auth.login(world.teacher.username, PASSWORD)
    db.commit()
    assert db.scalar(select(func.count()).select_from(WebSession)) == 1
    db.execute(WebSession.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()

    assert runner.invoke(args=["session_cleanup"]).exit_code == 0

    assert db.scalar(select(func.count()).select_from(WebSession)) == 0
